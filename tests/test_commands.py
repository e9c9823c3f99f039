"""Every command of ``lebench`` run for real through its command line (``lebench.cli.main``),
not just its ``--help``: the demo twice in a row, data, pretraining and downstream commands.
The conversion, check and Slurm commands run in their own test files; ``COVERED`` names
where, and a test keeps it in step with the parser."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch
import yaml

from lebench.cli import build_parser, main
from tests import replicas

COVERED = {  # command -> the test that runs it
    "demo": "test_commands.py::test_demo_twice_in_a_row_rewrites_nothing_and_prints_the_same_table",
    **{c: "test_commands.py::test_data_commands" for c in
       ("demo-corpus", "corpora", "prepare", "compose", "stats", "manifest", "trials")},
    **{c: "test_commands.py::test_pretraining_commands" for c in ("pretrain", "continue", "labels")},
    **{c: "test_commands.py::test_downstream_commands" for c in
       ("downstream", "extract", "score", "predict", "suite", "report")},
    "check": "test_configs.py::test_check_plans_for_the_gpus_it_is_given",
    **{c: "test_hf_conversion.py" for c in ("to-hf", "from-hf", "verify")},
    **{f"slurm {c}": "test_slurm.py" for c in ("pretrain", "labels", "sweep", "status")},
    "slurm element": "test_slurm.py (what the array job runs)",
}


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = set()
    for name, child in sub.choices.items():
        nested = any(isinstance(a, argparse._SubParsersAction) for a in child._actions)
        out |= commands(child, f"{prefix}{name} ") if nested else {f"{prefix}{name}"}
    return out


def test_every_command_is_run_by_a_test():
    assert commands(build_parser()) == set(COVERED)


def run(capsys, *args) -> str:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    return out


def stamps(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and ".lock" not in p.name}


def test_demo_twice_in_a_row_rewrites_nothing_and_prints_the_same_table(demo_corpus, tmp_path, capsys):
    """The second `make demo` once crashed: pretraining ran again at 0 updates, rewrote its
    checkpoint, and the heads resumed against a changed upstream."""
    args = ["demo", "--workdir", tmp_path / "demo", "--corpus-dir", demo_corpus,
            "--tasks", "gender", "--updates", "3"]
    first = run(capsys, *args)
    table = first[first.index("Test split:"):first.index("written to")]
    assert "| wav2vec2-demo |" in table and "| MFB |" in table
    assert "| hubert-demo | hubert |" in table and "| ils-ssl-demo | ils-ssl |" in table
    assert "96 utterances of 4 speakers and 24 sentences, none heard" in table
    assert "resampled: speakers (gender)" in table and "intonation alone" in table
    before = stamps(tmp_path / "demo")
    lines = (tmp_path / "demo" / "results.jsonl").read_text().splitlines()
    second = run(capsys, *args)
    assert second[second.index("Test split:"):second.index("written to")] == table
    assert "fairseq-hydra-train" not in second  # nothing trained again
    after = stamps(tmp_path / "demo")
    changed = [p for p in before if after.get(p) != before[p] and not p.name.startswith("results.")]
    assert changed == []  # corpus records, manifests, checkpoint, heads, predictions, cache
    assert (tmp_path / "demo" / "results.jsonl").read_text().splitlines() == lines


def test_data_commands(demo_corpus, demo_records, tmp_path, capsys):
    mtime = (demo_corpus / "metadata.csv").stat().st_mtime_ns
    assert run(capsys, "demo-corpus", demo_corpus).strip() == str(demo_corpus)  # complete: reused
    assert (demo_corpus / "metadata.csv").stat().st_mtime_ns == mtime
    listing = run(capsys, "corpora").splitlines()
    names = [line.split()[0] for line in listing]
    assert "orfeo" in names and "portmedia_slu" in names and all(len(line.split()) > 2 for line in listing)
    for name in names:  # every reader documents its layout
        assert len(run(capsys, "corpora", name)) > 60
    assert "partial(" not in run(capsys, "corpora", "portmedia_slu")
    replicas.mls_french(tmp_path / "mls")
    out = run(capsys, "prepare", tmp_path / "mls", tmp_path / "prepared" / "mls_french",
              "--reader", "mls_french", "--workers", "1")
    assert "kept 4 utterances" in out
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"name": "mine", "corpora": ["mls_french"]}))
    out = run(capsys, "compose", tmp_path / "mine.yaml", "--prepared", tmp_path / "prepared",
              "--out", tmp_path / "composed", "--valid", "0.25")
    assert re.search(r"train: \d, valid: \d", out) and (tmp_path / "composed" / "stats.md").is_file()
    out = run(capsys, "stats", "--composition", tmp_path / "mine.yaml", "--prepared",
              tmp_path / "prepared", "--compare")
    assert "total mine" in out and "mls_french utterances: prepared 4, seed 263,055" in out
    out = run(capsys, "manifest", demo_records, tmp_path / "m", "--split", "train=0.5,test=0.5",
              "--by", "speaker", "--labels", "gender,transcript")
    assert (tmp_path / "m" / "test.transcript").is_file() and (tmp_path / "m" / "test.speaker").is_file()
    out = run(capsys, "trials", tmp_path / "m", "--split", "test", "--per-utterance", "3")
    assert re.match(r"\d+ target and \d+ non-target trials -> .*test.trials", out)


def test_pretraining_commands(demo_manifests, tmp_path, capsys):
    save = tmp_path / "pt"
    run(capsys, "pretrain", "demo", "--data", demo_manifests, "--save-dir", save,
        "optimization.max_update=2", "lr_scheduler.warmup_updates=1")
    last = save / "checkpoint_last.pt"
    stamp, log = last.stat().st_mtime_ns, (save / "train.log").read_text()
    out = run(capsys, "pretrain", "demo", "--data", demo_manifests, "--save-dir", save,
              "optimization.max_update=2", "lr_scheduler.warmup_updates=1")
    assert out.strip() == str(last) and "fairseq-hydra-train" not in out  # finished: left alone
    assert last.stat().st_mtime_ns == stamp and (save / "train.log").read_text() == log
    run(capsys, "continue", last, "--data", demo_manifests, "--save-dir", tmp_path / "cont",
        "optimization.max_update=1")
    state = torch.load(tmp_path / "cont" / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 1
    out = run(capsys, "labels", "--data", demo_manifests, "--out", tmp_path / "km", "--clusters", "8",
              "--splits", "valid", "--percent", "0.2")
    assert out.strip().splitlines()[-1] == f"valid: {tmp_path / 'km' / 'valid.km'}"
    assert len((tmp_path / "km" / "valid.km").read_text().splitlines()) == 48


def test_downstream_commands(demo_records, demo_corpus, tmp_path, capsys):
    out = run(capsys, "suite", "--records", demo_records, "--upstream", "MFB=mfb", "--out",
              tmp_path / "s", "--tasks", "gender")
    assert "| MFB |" in out
    data = tmp_path / "s" / "data" / "speakers"
    assert run(capsys, "extract", "--data", data, "--upstream", "mfb", "--cache", tmp_path / "cache")
    store = tmp_path / "r.jsonl"
    out = run(capsys, "downstream", "gender", "--data", data, "--upstream", "mfb", "--out",
              tmp_path / "gender", "--results", store, "--cache", tmp_path / "cache",
              "--lr", "0.001,0.01", "optimization.max_epoch=2")
    assert re.search(r"gender test accuracy \(seed 1, lr 0\.0\d+\): [\d.]+ \[[\d.]+, [\d.]+\] "
                     r"\(96 items; resampled: speakers \(4\)\)", out), out
    predictions = sorted((tmp_path / "gender").glob("*/predictions.test.tsv"))
    assert len(predictions) == 1  # the chosen rate's run; the grid scored valid only
    out = run(capsys, "score", predictions[0])
    assert "accuracy:" in out and "= the scores stored with the run" in out
    head = predictions[0].parent / "checkpoint_best.pt"
    wav = next(demo_corpus.rglob("*.wav"))
    out = run(capsys, "predict", head, wav)
    assert out.startswith(f"{wav}\t") and out.split("\t")[1].split()[0] in ("M", "F")
    for fmt, marker in (("md", "| upstream |"), ("csv", "upstream,"), ("tex", r"\begin{tabular}")):
        assert marker in run(capsys, "report", store, "--format", fmt)
    out = run(capsys, "report", store, "--out", tmp_path / "report")
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert "resampled: speakers (gender)" in (tmp_path / "report.md").read_text()
    # bad input: one line, exit 2
    assert main(["report", str(store), "--by-split", "ast"]) == 2
    assert "no 'ast' results" in capsys.readouterr().err
    assert main(["downstream", "gender", "--data", str(data), "--upstream", "mfb", "--out",
                 str(tmp_path / "g"), "--results", str(store), "--seeds", "1.5"]) == 2
    assert "whole numbers" in capsys.readouterr().err

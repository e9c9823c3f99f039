"""The main job on the embedded demo corpus, end to end:

demo corpus -> 16 kHz records -> fairseq manifests -> wav2vec2 pretraining (fairseq-hydra-train,
configs/pretrain/demo.yaml) -> checkpoint -> speaker-gender probe on frozen features, next to
the MFB baseline on the same held-out speakers -> results table (markdown and CSV).

Every stage resumes: a second run reuses the corpus, the normalised audio and finished
checkpoints, and rebuilds the table; ``fresh=True`` recomputes everything but the corpus.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from downstream.probe import run_probe
from downstream.results import read_results, table, to_csv, to_markdown
from manifests.corpora import read_generic
from manifests.demo.build import build_demo_corpus
from manifests.fairseq_manifest import split_records, write_manifests
from manifests.prepare import prepare
from manifests.records import read_records
from pretrain.launch import pretrain

SPLITS = {"train": 0.625, "valid": 0.125, "test": 0.25}  # 10 / 2 / 4 speakers, half of each gender
SEED = 42


def run_demo(workdir: Path, corpus_dir: Path, fresh: bool = False, verbose: bool = False) -> str:
    workdir, corpus_dir = Path(workdir).resolve(), Path(corpus_dir).resolve()
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    quiet = not verbose

    _stage(1, "demo corpus (espeak-ng)", corpus_dir)
    build_demo_corpus(corpus_dir)

    _stage(2, "normalise to 16 kHz mono", workdir / "prepared")
    summary = prepare(read_generic(corpus_dir, corpus="lebench-demo"), workdir / "prepared")
    print(f"  {summary.kept} utterances, {summary.hours * 60:.1f} min, {summary.rejected} rejected")

    _stage(3, "fairseq manifests, split by speaker", workdir / "manifests")
    splits = split_records(list(read_records(summary.records)), SPLITS, SEED, by="speaker",
                           stratify="gender")
    counts = write_manifests(splits, workdir / "manifests", labels=("gender", "sentence_type"),
                             progress=False)
    print("  " + ", ".join(f"{k}: {v} utterances / {len({r.speaker for r in splits[k]})} speakers"
                           for k, v in counts.items()))

    _stage(4, "wav2vec2 pretraining (configs/pretrain/demo.yaml)", workdir / "pretrain")
    checkpoint = pretrain("demo", workdir / "manifests", workdir / "pretrain", quiet=quiet)

    store = workdir / "results.jsonl"
    for name, upstream in (("wav2vec2-demo", str(checkpoint)), ("MFB", "mfb")):
        probe_dir = workdir / "downstream" / "gender" / name
        _stage(5, f"gender probe on frozen {name} features", probe_dir)
        run_probe("gender", workdir / "manifests", upstream, name, probe_dir, store, quiet=quiet)

    header, rows = table(read_results(store), split="test")
    markdown = to_markdown(header, rows)
    (workdir / "results.md").write_text(markdown, encoding="utf-8")
    (workdir / "results.csv").write_text(to_csv(header, rows), encoding="utf-8")
    print(f"\nTest split ({counts['test']} utterances of {len({r.speaker for r in splits['test']})} "
          f"unseen speakers), 95% bootstrap intervals:\n\n{markdown}\n"
          f"written to {workdir / 'results.md'} and {workdir / 'results.csv'}")
    return markdown


def _stage(n: int, what: str, where: Path) -> None:
    print(f"[{n}/5] {what} -> {where}", flush=True)

"""The main job on the embedded demo corpus, end to end:

demo corpus -> 16 kHz records -> fairseq manifests -> wav2vec2 pretraining (fairseq-hydra-train,
configs/pretrain/demo.yaml) -> checkpoint -> the part-1 downstream suite (downstream/suite.py:
gender, ASR frozen and fine-tuned, emotion stand-ins, speaker verification, and tasks on the
ASR-fine-tuned upstream), next to the MFB baseline on the same held-out speakers -> results
tables (markdown, CSV, LaTeX) and a plot.

Every stage resumes: a second run reuses the corpus, the normalised audio and finished
checkpoints, and rebuilds the table; ``fresh=True`` recomputes everything but the corpus.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from downstream.results import (read_results, signatures, split_table, table, to_markdown,
                                write_report)
from downstream.suite import SPLITS, prepare_demo_tasks, run_suite
from manifests.corpora import read_generic
from manifests.demo.build import SPANISH, build_demo_corpus
from manifests.prepare import prepare
from pretrain.launch import pretrain

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
    spanish = prepare(read_generic(corpus_dir / SPANISH, corpus="lebench-demo-es"),
                      workdir / f"prepared-{SPANISH}")
    print(f"  {summary.kept} utterances, {summary.hours * 60:.1f} min, {summary.rejected} rejected; "
          f"Spanish part: {spanish.kept} utterances, {spanish.hours * 60:.1f} min")

    _stage(3, "fairseq manifests of every task, split by speaker", workdir / "manifests")
    data = prepare_demo_tasks(summary.records, workdir / "manifests", seed=SEED,
                              spanish_records=spanish.records)
    speakers = {split: _speakers(data / "speakers", split) for split in SPLITS}
    print("  " + ", ".join(f"{k}: {len(v)} utterances / {len(set(v))} speakers"
                           for k, v in speakers.items()))

    _stage(4, "wav2vec2 pretraining (configs/pretrain/demo.yaml)", workdir / "pretrain")
    checkpoint = pretrain("demo", data / "speakers", workdir / "pretrain", quiet=quiet)

    _stage(5, "downstream suite on frozen and fine-tuned features", workdir / "downstream")
    store = workdir / "results.jsonl"
    run_suite(data, {"wav2vec2-demo": str(checkpoint), "MFB": "mfb"}, workdir / "downstream" / "runs",
              store, cache=workdir / "downstream" / "cache", quiet=quiet)

    results = read_results(store)
    markdown = to_markdown(*table(results, split="test"))
    paths = write_report(results, workdir / "results", split="test")
    ast = to_markdown(*split_table(results, "ast")) + "".join(f"sacreBLEU: {s}\n" for s in signatures(results))
    print(f"\nTest split ({len(speakers['test'])} utterances of {len(set(speakers['test']))} "
          f"unseen speakers): one seed, 95% bootstrap intervals over test items:\n\n{markdown}\n"
          f"Speech translation, BLEU ± half the 95% interval:\n\n{ast}\n"
          f"written to {', '.join(str(p) for p in paths.values())}")
    return markdown


def _speakers(data: Path, split: str) -> list[str]:
    return (data / f"{split}.speaker").read_text(encoding="utf-8").split()


def _stage(n: int, what: str, where: Path) -> None:
    print(f"[{n}/5] {what} -> {where}", flush=True)

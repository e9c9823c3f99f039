"""The main job on the embedded demo corpus, end to end:

demo corpus -> 16 kHz records -> fairseq manifests -> wav2vec2 pretraining (fairseq-hydra-train,
configs/pretrain/demo.yaml) -> checkpoint -> the downstream suite (downstream/suite.py: every
task, frozen and fine-tuned, and tasks on the ASR-fine-tuned upstream), next to the MFB
baseline; and HuBERT and ILS-SSL (one iteration of MFCC k-means labels, configs/pretrain/
demo-hubert.yaml and demo-ils-ssl.yaml) through the frozen probes, all scored on the corpus's
test split (unseen speakers reading unseen sentences) -> results tables (markdown, CSV,
LaTeX) and a plot.

Every stage is recognised when finished and left as it is: a second run rewrites no corpus
file, manifest, checkpoint or head, appends nothing to the results store, and prints the
same tables; ``fresh=True`` recomputes everything but the corpus.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from lebench.core.checkpoint import load_checkpoint, num_updates
from lebench.core.parallel import in_order
from lebench.downstream.results import (
    read_results,
    resampling_note,
    signatures,
    split_table,
    table,
    to_markdown,
    write_report,
)
from lebench.downstream.suite import DEMO_TASKS, SPLITS, prepare_demo_tasks, run_suite
from lebench.manifests.corpora import generic
from lebench.manifests.demo.build import SPANISH, build_demo_corpus
from lebench.manifests.prepare import prepare
from lebench.manifests.records import read_records
from lebench.pretrain.labels.pipeline import LabelJob, make_labels
from lebench.pretrain.labels.sources import MFCCSource
from lebench.pretrain.launch import pretrain

SEED = 42
CLUSTERS = 50  # configs/pretrain/iteration/demo.yaml
# HuBERT and ILS-SSL run the suite's frozen probes only (the sequence-to-sequence tasks and
# ASR fine-tuning would double the demo's time): `lebench suite` runs them through all of it.
FROZEN_PROBES = ("gender", "emotion", "asr", "aer", "asv")
# Every task family; speech translation fr->en and es->fr (both source languages): fr->es and
# fr->pt are the same pipeline towards other targets, and `--full` runs them.
DEFAULT_TASKS = tuple(t for t in DEMO_TASKS if t not in ("ast-fr-es", "ast-fr-pt"))


def run_demo(workdir: Path, corpus_dir: Path, fresh: bool = False, verbose: bool = False,
             tasks: list[str] | None = None, updates: int | None = None, full: bool = False,
             jobs: int = 1) -> str:
    """The whole pipeline; ``tasks``: part of the suite (default: ``DEFAULT_TASKS``, or all
    of it when ``full``), ``updates``: pretraining updates (default: the demo config's),
    ``jobs``: trainings side by side."""
    workdir, corpus_dir = Path(workdir).resolve(), Path(corpus_dir).resolve()
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    quiet = not verbose

    _stage(1, "demo corpus (espeak-ng)", corpus_dir)
    build_demo_corpus(corpus_dir)

    _stage(2, "normalise to 16 kHz mono", workdir / "prepared")
    summary = prepare(generic("lebench-demo").read(corpus_dir), workdir / "prepared")
    spanish = prepare(generic("lebench-demo-es").read(corpus_dir / SPANISH),
                      workdir / f"prepared-{SPANISH}")
    print(f"  {summary.kept} utterances, {summary.hours * 60:.1f} min, {summary.rejected} rejected; "
          f"Spanish part: {spanish.kept} utterances, {spanish.hours * 60:.1f} min")

    _stage(3, "fairseq manifests of every task, in the corpus's own split", workdir / "manifests")
    data = prepare_demo_tasks(summary.records, workdir / "manifests", seed=SEED,
                              spanish_records=spanish.records)
    speakers = {split: _speakers(data / "speakers", split) for split in SPLITS}
    sentences = {split: _sentences(summary.records, split) for split in SPLITS}
    print("  " + ", ".join(f"{k}: {len(v)} utterances / {len(set(v))} speakers / "
                           f"{len(sentences[k])} sentences" for k, v in speakers.items()))

    _stage(4, "wav2vec2, HuBERT and ILS-SSL pretraining (configs/pretrain/demo*.yaml)", workdir / "pretrain")
    schedule = [f"optimization.max_update={updates}"] if updates else []
    labels = workdir / "labels"
    make_labels(LabelJob(data / "speakers", labels, clusters=CLUSTERS, percent=1.0), MFCCSource(),
                progress=not quiet)
    models = {"wav2vec2-demo": ("demo", workdir / "pretrain", None),
              **{f"{name}-demo": (f"demo-{name}", workdir / f"pretrain-{name}", labels)
                 for name in ("hubert", "ils-ssl")}}

    def pretrained(model: tuple[str, Path, Path | None]) -> str:
        config, save_dir, model_labels = model
        return str(pretrain(config, data / "speakers", save_dir, quiet=quiet, overrides=schedule,
                            labels=model_labels))

    # side by side, all three: a third run alone would leave cores idle (on two cores, each gets one)
    checkpoints = dict(zip(models, in_order(pretrained, models.values(), len(models) if jobs > 1 else 1)))
    checkpoint = Path(checkpoints.pop("wav2vec2-demo"))

    _stage(5, "downstream suite on frozen and fine-tuned features", workdir / "downstream")
    store = workdir / "results.jsonl"
    runs, cache = workdir / "downstream" / "runs", workdir / "downstream" / "cache"
    tasks = tasks or list(DEMO_TASKS if full else DEFAULT_TASKS)
    run_suite(data, {"wav2vec2-demo": str(checkpoint), "MFB": "mfb", **checkpoints}, runs, store, tasks=tasks,
              cache=cache, quiet=quiet, jobs=jobs, only={name: FROZEN_PROBES for name in checkpoints})

    results = read_results(store)
    markdown = to_markdown(*table(results, split="test"))
    paths = write_report(results, workdir / "results", split="test")
    ast = "" if not any(r.task.startswith("ast") for r in results) else (
        "Speech translation, BLEU ± half the 95% interval:\n\n" + to_markdown(*split_table(results, "ast"))
        + "".join(f"sacreBLEU: {s}\n" for s in signatures(results)) + "\n")
    print(f"\nTest split: {len(speakers['test'])} utterances of {len(set(speakers['test']))} "
          f"speakers and {len(sentences['test'])} sentences, none heard in pretraining or "
          f"downstream training; one seed; {resampling_note(results)}.\n\n{markdown}\n"
          f"{_what_it_measures(checkpoint, summary.records)}\n\n{ast}"
          f"written to {', '.join(str(p) for p in paths.values())}")
    return markdown


def _speakers(data: Path, split: str) -> list[str]:
    return (data / f"{split}.speaker").read_text(encoding="utf-8").split()


def _what_it_measures(checkpoint: Path, records: Path) -> str:
    state = load_checkpoint(checkpoint, mmap=True)
    model, updates = state["cfg"]["model"], num_updates(state)
    minutes = sum(r.duration for r in read_records(records) if r.labels.get("split") == "train") / 60
    return (f"What it measures: a toy wav2vec2 ({model['encoder_layers']} blocks of "
            f"{model['encoder_embed_dim']}, {updates} updates on {minutes:.1f} minutes of synthetic "
            f"speech), HuBERT and ILS-SSL of the same size and updates (one iteration of MFCC labels, "
            f"{CLUSTERS} clusters; frozen probes only: {', '.join(FROZEN_PROBES)}) next to "
            "filterbanks. sentence_type is statement vs question told from "
            "intonation alone (the same words both ways) and aer each utterance's loudness "
            "contour: stand-ins for emotion, which the demo corpus does not have.")


def _sentences(records: Path, split: str) -> set[str]:
    return {r.labels["sentence"] for r in read_records(records) if r.labels.get("split") == split}


def _stage(n: int, what: str, where: Path) -> None:
    print(f"[{n}/5] {what} -> {where}", flush=True)

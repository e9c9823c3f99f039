"""Downstream commands: train and score tasks, score again from files, features, trial-free
prediction, the demo suite, reports."""
from __future__ import annotations

from pathlib import Path

from lebench.cli.values import int_list, name_list, positive_float_list, positive_int
from lebench.core.parallel import MAX_JOBS, default_jobs

# Spelt out: the spec's own HELP would import torch for --help (downstream.upstreams.spec).
UPSTREAM_HELP = ("fairseq checkpoint (.pt: wav2vec2 or HuBERT, pretrained or CTC, or ILS-SSL), "
                 "HuggingFace folder (wav2vec2, wav2vec2-conformer, hubert, wavlm, data2vec-audio, "
                 "unispeech-sat), or 'mfb'")


def add_commands(sub) -> None:
    for add in (_downstream, _score, _extract, _predict, _suite, _report):
        add(sub)


def _downstream(sub) -> None:
    p = sub.add_parser("downstream", help="train and score a downstream task (lr grid, seeds, cache)")
    p.add_argument("config", help="config of configs/downstream: gender, emotion, asr, asr-finetune, "
                   "aer, asv, slu, ast (add task.target_lang=es ...), sa")
    p.add_argument("--data", type=Path, required=True, help="manifests with label files")
    p.add_argument("--upstream", required=True, help=UPSTREAM_HELP)
    p.add_argument("--name", help="upstream name in the tables (default: from --upstream)")
    p.add_argument("--out", type=Path, required=True, help="folder for the heads' checkpoints")
    p.add_argument("--results", type=Path, required=True, help="results store (.jsonl)")
    p.add_argument("--lr", type=positive_float_list, default=(), help="comma-separated learning-rate "
                   "grid, chosen on valid (default: the config's rate)")
    p.add_argument("--seeds", type=int_list, default=(1,), help="comma-separated seeds run at the "
                   "chosen rate (default 1)")
    p.add_argument("--cache", type=Path, help="feature cache root: frozen features are extracted "
                   "once and re-used (default: computed on the fly)")
    p.add_argument("--splits", type=name_list, default=["valid", "test"], help="splits to score")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_epoch=5")
    p.set_defaults(run=run_downstream)


def run_downstream(a) -> None:
    from lebench.downstream.results import signatures
    from lebench.downstream.run import run
    from lebench.downstream.upstreams.spec import UpstreamSpec
    spec = UpstreamSpec.parse(a.upstream)
    results = run(a.config, a.data, spec.text, a.name or spec.name, a.out, a.results,
                  seeds=a.seeds, lrs=a.lr or None, splits=tuple(a.splits), cache=a.cache,
                  overrides=a.overrides)
    for r in results:
        interval = f" [{r.low:.4f}, {r.high:.4f}]" if r.low is not None else ""
        print(f"{r.task} {r.split} {r.metric} (seed {r.seed}, lr {r.config['lr']:g}): "
              f"{r.value:.4f}{interval} ({r.utterances} items; resampled: {r.resampling})")
    for signature in signatures(results):
        print(f"sacreBLEU: {signature}")


def _score(sub) -> None:
    p = sub.add_parser("score", help="score a run's predictions file again, from the file alone")
    p.add_argument("predictions", type=Path, nargs="+", help="predictions.<split>.tsv of a downstream run")
    p.add_argument("--kind", help="what the file holds (class, transcript, concepts, translation, "
                   "tree, frames, trials); default: from the scores.<split>.json beside it")
    p.set_defaults(run=run_score)


def run_score(a) -> None:
    from lebench.downstream.scoring import rescore
    for path in a.predictions:
        rescored = rescore(path, a.kind)
        print(path)
        for s in rescored.scores:
            print(f"  {s.column}: {s.text()} ({s.items} items; resampled: {s.resampling})")
        if rescored.agrees is not None:
            print("  = the scores stored with the run" if rescored.agrees else
                  "  differs from the scores stored with the run: " +
                  ", ".join(f"{x.column} {x.value:.4f}" for x in rescored.stored))


def _extract(sub) -> None:
    p = sub.add_parser("extract", help="cache an upstream's frozen features (every layer, float16)")
    p.add_argument("--data", type=Path, required=True, help="folder with <split>.tsv manifests")
    p.add_argument("--upstream", required=True, help=UPSTREAM_HELP)
    p.add_argument("--cache", type=Path, required=True, help="feature cache root")
    p.add_argument("--splits", type=name_list, default=["train", "valid", "test"])
    p.set_defaults(run=run_extract)


def run_extract(a) -> None:
    from lebench.downstream.run import features_for
    print(features_for(a.upstream, a.data, a.cache, tuple(a.splits)))


def _predict(sub) -> None:
    p = sub.add_parser("predict", help="run a trained downstream head on audio files")
    p.add_argument("checkpoint", type=Path, help="checkpoint_best.pt of a downstream run")
    p.add_argument("audio", type=Path, nargs="+")
    p.set_defaults(run=run_predict)


def run_predict(a) -> None:
    from lebench.downstream.run import predict
    print("\n".join(predict(a.checkpoint, a.audio)))


def _suite(sub) -> None:
    p = sub.add_parser("suite", help="every task of the benchmark for several upstreams on the demo layout")
    p.add_argument("--records", type=Path, required=True, help="utterances.jsonl of the demo corpus")
    p.add_argument("--es-records", type=Path, help="utterances.jsonl of its Spanish part (es_fr/), "
                   "for the ast-es-fr task")
    p.add_argument("--upstream", action="append", required=True, metavar="NAME=SPEC",
                   help="repeatable, e.g. --upstream demo=ckpt.pt --upstream MFB=mfb")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tasks", type=name_list, default=[], help="comma-separated subset of the suite's tasks")
    p.add_argument("--no-cache", action="store_true", help="compute frozen features on the fly")
    p.add_argument("--jobs", type=positive_int, help="trainings side by side (default: one per "
                   f"core, at most {MAX_JOBS})")
    p.set_defaults(run=run_suite)


def run_suite(a) -> None:
    from lebench.downstream.results import read_results, resampling_note, table, to_markdown
    from lebench.downstream.suite import prepare_demo_tasks, run_suite, suite_tasks
    from lebench.downstream.upstreams.spec import UpstreamSpec
    upstreams = dict(UpstreamSpec.named(u) for u in a.upstream)
    tasks = suite_tasks(a.tasks)  # None: every task of the suite
    data = prepare_demo_tasks(a.records, a.out / "data", spanish_records=a.es_records)
    store = a.out / "results.jsonl"
    run_suite(data, upstreams, a.out / "runs", store, tasks,
              cache=None if a.no_cache else a.out / "cache", quiet=True, jobs=a.jobs or default_jobs())
    results = read_results(store)
    print(f"test split; {resampling_note(results)}\n\n{to_markdown(*table(results))}", end="")


def _report(sub) -> None:
    p = sub.add_parser("report", help="tables (markdown, CSV, LaTeX) and a plot of a results store")
    p.add_argument("results", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--out", type=Path, help="write OUT.md, OUT.csv, OUT.tex and OUT.png")
    p.add_argument("--format", choices=("md", "csv", "tex"), default="md", help="what to print")
    p.add_argument("--by-split", metavar="TASK_PREFIX", help="one task family over valid and "
                   "test, the seed's AST layout (e.g. --by-split ast: valid/test per language pair)")
    p.set_defaults(run=run_report)


def run_report(a) -> None:
    from lebench.downstream.results import (
        read_results,
        resampling_note,
        signatures,
        split_table,
        table,
        to_csv,
        to_latex,
        to_markdown,
        write_report,
    )
    results = read_results(a.results)
    header, rows = split_table(results, a.by_split) if a.by_split else table(results, split=a.split)
    if a.format == "md" and not a.by_split:
        print(f"{a.split} split; {resampling_note(results, a.split)}\n")
    print({"md": to_markdown, "csv": to_csv, "tex": to_latex}[a.format](header, rows), end="")
    for signature in signatures(results):
        print(f"sacreBLEU: {signature}")
    if a.out:
        paths = write_report(results, a.out, a.split)
        print("written: " + ", ".join(str(p) for p in paths.values()))

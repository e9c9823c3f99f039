"""``lebench``: one program for the whole toolkit. ``lebench <command> --help`` for details."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lebench import REPO_ROOT
from lebench.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """Every command with its options (``lebench --help``)."""
    parser = argparse.ArgumentParser(
        prog="lebench",
        description="Pretrain, evaluate and publish French wav2vec2 models (LeBenchmark).",
        epilog="Typical flow: prepare (per corpus) -> compose or manifest -> pretrain -> extract -> "
               "downstream -> report; to-hf publishes a checkpoint, from-hf brings a HuggingFace "
               "model back.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    p = sub.add_parser("demo", help="run the whole pipeline on the embedded demo corpus")
    p.add_argument("--workdir", type=Path, default=REPO_ROOT / "runs" / "demo")
    p.add_argument("--corpus-dir", type=Path, default=REPO_ROOT / "data" / "demo_corpus")
    p.add_argument("--fresh", action="store_true", help="recompute everything but the corpus")
    p.add_argument("--verbose", action="store_true", help="show fairseq's own log lines")
    p.add_argument("--tasks", default="", help="comma-separated part of the suite (default: every "
                   "task; `lebench suite --help` lists them)")
    p.add_argument("--updates", type=_positive_int, help="pretraining updates (default: the demo "
                   "config's)")
    p.set_defaults(run=_demo)

    p = sub.add_parser("demo-corpus", help="synthesise the demo corpus with espeak-ng")
    p.add_argument("out", type=Path)
    p.add_argument("--force", action="store_true", help="rebuild even if complete")
    p.set_defaults(run=_demo_corpus)

    p = sub.add_parser("corpora", help="list the corpus readers, their layouts and sources")
    p.add_argument("name", nargs="?", help="show one reader's full documentation")
    p.set_defaults(run=_corpora)

    p = sub.add_parser("prepare", help="normalise a corpus to 16 kHz mono WAV + utterance records")
    p.add_argument("corpus_dir", type=Path, help="the corpus folder, as distributed")
    p.add_argument("out", type=Path, help="output folder (for compositions: PREPARED/<reader>)")
    p.add_argument("--reader", default="generic", help="corpus reader, see `lebench corpora`")
    p.add_argument("--name", help="corpus name for the generic reader (default: the folder name)")
    p.add_argument("--min-duration", type=float, default=1.0, help="seconds (default 1)")
    p.add_argument("--max-duration", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument("--no-split-long", action="store_true",
                   help="reject untranscribed recordings over --max-duration instead of cutting them")
    p.add_argument("--workers", type=int, help="processes (default: all cores, at most 8)")
    p.add_argument("--strict", action="store_true", help="any rejected input is an error")
    p.set_defaults(run=_prepare)

    p = sub.add_parser("compose", help="pretraining manifests + statistics for a composition (1K ... 14K)")
    p.add_argument("composition", help="name in configs/corpora (1K, 2.7K, 3K, 7K, 14K) or a YAML path")
    p.add_argument("--prepared", type=Path, required=True, help="folder with one prepared folder per corpus")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--valid", type=float, default=0.01, help="fraction of utterances for valid.tsv")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-audio-check", action="store_true", help="trust the records' durations")
    p.set_defaults(run=_compose)

    p = sub.add_parser("stats", help="the seed table's statistics for prepared corpora")
    p.add_argument("records", type=Path, nargs="*", help="utterances.jsonl files or prepared folders")
    p.add_argument("--composition", help="read its corpora from --prepared and add a total row")
    p.add_argument("--prepared", type=Path, help="folder with one prepared folder per corpus")
    p.add_argument("--compare", action="store_true", help="list every figure that differs from the seed")
    p.add_argument("--csv", type=Path, help="also write the table as CSV")
    p.set_defaults(run=_stats)

    p = sub.add_parser("manifest", help="write fairseq manifests (+ label files) from records")
    p.add_argument("records", type=Path, help="utterances.jsonl written by `lebench prepare`")
    p.add_argument("out", type=Path)
    p.add_argument("--split", default="train=0.98,valid=0.02", help="fractions per split")
    p.add_argument("--by", default="utterance",
                   help="what a split assigns: utterance, speaker (whole speakers), or "
                        "label:NAME to keep a corpus's official split (e.g. label:split)")
    p.add_argument("--stratify", help="keep this label's proportions in every split (e.g. gender)")
    p.add_argument("--labels", default="", help="comma-separated labels to write (e.g. gender)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--skip-bad", action="store_true",
                   help="leave unusable audio out (listed in rejects.tsv) instead of failing")
    p.set_defaults(run=_manifest)

    p = sub.add_parser("pretrain", help="pretrain a model of configs/pretrain with fairseq-hydra-train")
    p.add_argument("config", help="config name, e.g. demo or 1K-base")
    p.add_argument("--data", type=Path, required=True, help="folder with train.tsv and valid.tsv")
    p.add_argument("--save-dir", type=Path, required=True)
    p.add_argument("--no-audio-check", action="store_true", help="skip the header check of every file")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=10")
    p.set_defaults(run=_pretrain)

    p = sub.add_parser("continue", help="continue SSL pretraining of a checkpoint on new audio")
    p.add_argument("checkpoint", type=Path, help="fairseq wav2vec2 checkpoint to start from")
    p.add_argument("--data", type=Path, required=True, help="folder with train.tsv and valid.tsv")
    p.add_argument("--save-dir", type=Path, required=True)
    p.add_argument("--size", help="config continue-SIZE (default: from the checkpoint's shape)")
    p.add_argument("--no-audio-check", action="store_true", help="skip the header check of every file")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=5000")
    p.set_defaults(run=_continue)

    p = sub.add_parser("check", help="a pretraining config's size, batch, updates and estimated cost")
    p.add_argument("config", nargs="?", help="config name, e.g. 3K-large (default: every model)")
    p.add_argument("--gpus", type=int, help="GPUs to plan for (default: the seed table's count, else 1)")
    p.add_argument("--hardware", help="v100, a100 or h100 (default: the config's hardware group)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset.max_tokens=1000000")
    p.set_defaults(run=_check)

    p = sub.add_parser("to-hf", help="convert a fairseq wav2vec2 checkpoint to a HuggingFace folder")
    p.add_argument("checkpoint", type=Path, help="fairseq checkpoint: pretraining or CTC fine-tuned")
    p.add_argument("out", type=Path, help="output folder (config, safetensors, preprocessor, model card)")
    p.add_argument("--model", choices=("pretraining", "encoder", "ctc"),
                   help="Wav2Vec2ForPreTraining, Wav2Vec2Model or Wav2Vec2ForCTC (default: the "
                        "checkpoint's kind)")
    p.add_argument("--dict", type=Path, help="dict.ltr.txt of a CTC checkpoint (default: "
                   "DATA/dict.LABELS.txt of its task config)")
    p.add_argument("--license", default="apache-2.0", help="model card licence (default: apache-2.0)")
    _verify_options(p, "skip the fairseq/transformers comparison (the card says so)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=_to_hf)

    p = sub.add_parser("from-hf", help="convert a HuggingFace wav2vec2 folder to a fairseq checkpoint")
    p.add_argument("hf_dir", type=Path, help="Wav2Vec2ForPreTraining or Wav2Vec2Model folder")
    p.add_argument("out", type=Path, help="fairseq checkpoint to write (.pt)")
    _verify_options(p, "skip the fairseq/transformers comparison")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=_from_hf)

    p = sub.add_parser("verify", help="compare a fairseq checkpoint and a HuggingFace folder layer by layer")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("hf_dir", type=Path)
    p.add_argument("--dict", type=Path, help="dict.ltr.txt of a CTC checkpoint")
    p.add_argument("--audio", type=Path, help="16 kHz mono audio (default: a French clip shipped here)")
    p.set_defaults(run=_verify)

    p = sub.add_parser("downstream", help="train and score a downstream task (lr grid, seeds, cache)")
    p.add_argument("config", help="config of configs/downstream: gender, emotion, asr, asr-finetune, "
                   "aer, asv, slu, ast (add task.target_lang=es ...), sa")
    p.add_argument("--data", type=Path, required=True, help="manifests with label files")
    p.add_argument("--upstream", required=True,
                   help="fairseq wav2vec2 checkpoint (.pt), HuggingFace wav2vec2 folder, or 'mfb'")
    p.add_argument("--name", help="upstream name in the tables (default: from --upstream)")
    p.add_argument("--out", type=Path, required=True, help="folder for the heads' checkpoints")
    p.add_argument("--results", type=Path, required=True, help="results store (.jsonl)")
    p.add_argument("--lr", default="", help="comma-separated learning-rate grid, chosen on valid "
                   "(default: the config's rate)")
    p.add_argument("--seeds", default="1", help="comma-separated seeds run at the chosen rate")
    p.add_argument("--cache", type=Path, help="feature cache root: frozen features are extracted "
                   "once and re-used (default: computed on the fly)")
    p.add_argument("--splits", default="valid,test", help="splits to score")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_epoch=5")
    p.set_defaults(run=_downstream)

    p = sub.add_parser("score", help="score a run's predictions file again, from the file alone")
    p.add_argument("predictions", type=Path, nargs="+", help="predictions.<split>.tsv of a downstream run")
    p.add_argument("--kind", help="what the file holds (class, transcript, concepts, translation, "
                   "tree, frames, trials); default: from the scores.<split>.json beside it")
    p.set_defaults(run=_score)

    p = sub.add_parser("extract", help="cache an upstream's frozen features (every layer, float16)")
    p.add_argument("--data", type=Path, required=True, help="folder with <split>.tsv manifests")
    p.add_argument("--upstream", required=True)
    p.add_argument("--cache", type=Path, required=True, help="feature cache root")
    p.add_argument("--splits", default="train,valid,test")
    p.set_defaults(run=_extract)

    p = sub.add_parser("predict", help="run a trained downstream head on audio files")
    p.add_argument("checkpoint", type=Path, help="checkpoint_best.pt of a downstream run")
    p.add_argument("audio", type=Path, nargs="+")
    p.set_defaults(run=_predict)

    p = sub.add_parser("trials", help="write a speaker-verification trial list for a split")
    p.add_argument("data", type=Path, help="folder with <split>.tsv and <split>.speaker")
    p.add_argument("--split", default="test")
    p.add_argument("--per-utterance", type=int, default=10, help="target trials per utterance")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_trials)

    p = sub.add_parser("suite", help="every task of the benchmark for several upstreams on the demo layout")
    p.add_argument("--records", type=Path, required=True, help="utterances.jsonl of the demo corpus")
    p.add_argument("--es-records", type=Path, help="utterances.jsonl of its Spanish part (es_fr/), "
                   "for the ast-es-fr task")
    p.add_argument("--upstream", action="append", required=True, metavar="NAME=SPEC",
                   help="repeatable, e.g. --upstream demo=ckpt.pt --upstream MFB=mfb")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tasks", default="", help="comma-separated subset of the suite's tasks")
    p.add_argument("--no-cache", action="store_true", help="compute frozen features on the fly")
    p.set_defaults(run=_suite)

    p = sub.add_parser("report", help="tables (markdown, CSV, LaTeX) and a plot of a results store")
    p.add_argument("results", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--out", type=Path, help="write OUT.md, OUT.csv, OUT.tex and OUT.png")
    p.add_argument("--format", choices=("md", "csv", "tex"), default="md", help="what to print")
    p.add_argument("--by-split", metavar="TASK_PREFIX", help="one task family over valid and "
                   "test, the seed's AST layout (e.g. --by-split ast: valid/test per language pair)")
    p.set_defaults(run=_report)

    p = sub.add_parser("slurm", help="Slurm jobs: pretraining that requeues itself, sweeps as arrays")
    slurm = p.add_subparsers(dest="slurm_command", required=True, metavar="<slurm command>")
    q = slurm.add_parser("pretrain", help="submit a pretraining run as one job that survives its "
                         "time limit (SIGUSR1 -> checkpoint -> requeue)")
    q.add_argument("config", nargs="?", help="config of configs/pretrain (not with --resume)")
    q.add_argument("--data", type=Path, help="folder with train.tsv and valid.tsv")
    q.add_argument("--save-dir", type=Path, help="checkpoints, frozen config, job logs")
    q.add_argument("--resume", type=Path, metavar="SAVE_DIR", help="submit again a run that "
                   "stopped (cancelled, failed): its frozen config, from its last checkpoint")
    _slurm_request_options(q, gpus=True)
    q.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=10")
    q.set_defaults(run=_slurm_pretrain)
    q = slurm.add_parser("sweep", help="submit a downstream sweep (upstreams x tasks x seeds) as "
                         "one array job")
    q.add_argument("sweep", type=Path, help="sweep YAML (see configs/slurm/sweep-example.yaml)")
    q.add_argument("--max-concurrent", type=int, default=8, help="array elements at once (default 8)")
    _slurm_request_options(q, gpus=False)
    q.set_defaults(run=_slurm_sweep)
    q = slurm.add_parser("status", help="which elements of a sweep are done, running, failed")
    q.add_argument("sweep", type=Path)
    q.add_argument("--resubmit", action="store_true", help="submit the failed elements again")
    q.add_argument("--max-concurrent", type=int, default=8)
    _slurm_request_options(q, gpus=False)
    q.set_defaults(run=_slurm_status)
    q = slurm.add_parser("element", help="run one element of a sweep (what the array job calls)")
    q.add_argument("sweep", type=Path)
    q.add_argument("--index", type=int, required=True)
    q.set_defaults(run=_slurm_element)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Hydra overrides may follow options (`pretrain demo --data D key=value`); argparse would
    # reject positionals given after the options, so they are collected here.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any("=" not in x or x.startswith("-") for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # fairseq's INFO/DEBUG go to train.log
    try:
        args.run(args)
    except UserError as e:
        print(f"lebench {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lebench {args.command}: interrupted; run it again to resume", file=sys.stderr)
        return 130
    return 0


def _demo(a) -> None:
    from lebench.demo import run_demo
    run_demo(a.workdir, a.corpus_dir, fresh=a.fresh, verbose=a.verbose, tasks=_suite_tasks(a.tasks),
             updates=a.updates)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _suite_tasks(text: str) -> list[str] | None:
    from downstream.suite import DEMO_TASKS
    tasks = [t for t in text.split(",") if t]
    unknown = sorted(set(tasks) - set(DEMO_TASKS))
    if unknown:
        raise UserError(f"unknown task(s) {unknown}; the suite has {', '.join(DEMO_TASKS)}")
    return tasks or None


def _demo_corpus(a) -> None:
    from manifests.demo.build import build_demo_corpus
    print(build_demo_corpus(a.out, force=a.force))


def _corpora(a) -> None:
    from manifests.corpora import READERS, describe
    if a.name:
        print(describe(a.name)[1])
        return
    for name in READERS:
        print(f"{name:24s} {describe(name)[0]}")


def _prepare(a) -> None:
    from manifests.corpora import READERS
    from manifests.prepare import prepare
    if a.reader not in READERS:
        raise UserError(f"unknown reader {a.reader!r}; available: {', '.join(READERS)}")
    if not a.corpus_dir.is_dir():
        raise UserError(f"{a.corpus_dir}: corpus folder not found")
    reader = READERS[a.reader]
    items = reader(a.corpus_dir, corpus=a.name) if a.reader == "generic" else reader(a.corpus_dir)
    print(prepare(items, a.out, min_duration=a.min_duration, max_duration=a.max_duration,
                  split_long=not a.no_split_long, workers=a.workers, strict=a.strict))


def _compose(a) -> None:
    from manifests.compose import compose
    from manifests.compositions import load_composition
    counts = compose(load_composition(a.composition), a.prepared, a.out, a.valid, a.seed,
                     check_audio=not a.no_audio_check)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" -> {a.out} (stats.md, stats.csv)")


def _stats(a) -> None:
    import itertools
    from manifests.compose import records_of
    from manifests.compositions import load_composition
    from manifests.records import read_records
    from manifests.stats import compare, report, seed_figures, to_csv, to_markdown
    paths = [p / "utterances.jsonl" if p.is_dir() else p for p in a.records]
    composition = None
    if a.composition:
        if not a.prepared:
            raise UserError("--composition needs --prepared (the folder of prepared corpora)")
        composition = load_composition(a.composition)
        paths += records_of(composition, a.prepared)
    if not paths:
        raise UserError("give utterances.jsonl files, prepared folders, or --composition")
    rows = report(itertools.chain.from_iterable(read_records(p) for p in paths),
                  composition.name if composition else None)
    print(to_markdown(rows), end="")
    if a.csv:
        a.csv.write_text(to_csv(rows), encoding="utf-8")
    if a.compare:
        seed = seed_figures()
        diffs = []
        for row in rows:
            if row["corpus"] in seed:
                diffs += compare(row, seed[row["corpus"]])
            elif composition and row["corpus"] == f"total {composition.name}":
                diffs += compare(row, composition.seed_total)
            else:
                diffs.append(f"{row['corpus']}: not in the seed table, not compared")
        print("\nCompared with the seed table: " +
              ("every figure matches." if not diffs else f"{len(diffs)} differences:\n  " +
               "\n  ".join(diffs)))


def _manifest(a) -> None:
    from manifests.fairseq_manifest import parse_fractions, split_records, write_manifests
    from manifests.records import read_records
    splits = split_records(list(read_records(a.records)), parse_fractions(a.split), a.seed,
                           by=a.by, stratify=a.stratify)
    labels = [x for x in a.labels.split(",") if x]
    counts = write_manifests(splits, a.out, labels=labels, skip_bad=a.skip_bad)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" -> {a.out}")


def _pretrain(a) -> None:
    from pretrain.launch import pretrain
    print(pretrain(a.config, a.data, a.save_dir, a.overrides, check_audio=not a.no_audio_check))


def _continue(a) -> None:
    from pretrain.continued import continue_pretraining
    print(continue_pretraining(a.checkpoint, a.data, a.save_dir, a.size, a.overrides,
                               check_audio=not a.no_audio_check))


def _check(a) -> None:
    from lebench.fairseq_run import available_configs
    from pretrain.check import check, seed_models
    from pretrain.config import PRETRAIN_DIR
    if a.config is None and a.overrides:
        raise UserError("overrides need a config name")
    names = [a.config] if a.config else [n for n in available_configs(PRETRAIN_DIR)
                                         if n in seed_models()]
    print("\n\n".join(check(n, a.overrides, a.gpus, a.hardware).to_text() for n in names))


def _verify_options(p: argparse.ArgumentParser, no_verify_help: str) -> None:
    p.add_argument("--no-verify", action="store_true", help=no_verify_help)
    p.add_argument("--audio", type=Path, help="16 kHz mono audio to verify with (default: a "
                   "French clip shipped here)")


def _to_hf(a) -> None:
    from pretrain.hf import to_hf
    out, verification = to_hf(a.checkpoint, a.out, a.model, a.dict, a.license,
                              verify=not a.no_verify, audio=a.audio, force=a.force)
    _print_conversion(out, verification)


def _from_hf(a) -> None:
    from pretrain.hf import to_fairseq
    out, verification = to_fairseq(a.hf_dir, a.out, verify=not a.no_verify, audio=a.audio,
                                   force=a.force)
    _print_conversion(out, verification)


def _print_conversion(out: Path, verification) -> None:
    print(verification.to_text() if verification else "not verified (--no-verify)")
    print(f"-> {out}")


def _verify(a) -> None:
    from pretrain.hf import verify_pair
    result = verify_pair(a.checkpoint, a.hf_dir, a.dict, a.audio)
    print(result.to_text())
    if not result.ok:
        raise UserError(f"{a.hf_dir} does not reproduce {a.checkpoint}")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x)
    except ValueError:
        raise UserError(f"{text!r}: expected comma-separated numbers") from None


def _ints(text: str) -> tuple[int, ...]:
    values = tuple(x.strip() for x in text.split(",") if x.strip())
    if not values or not all(v.isdigit() for v in values):
        raise UserError(f"{text!r}: expected comma-separated whole numbers, e.g. 1,2,3")
    return tuple(int(v) for v in values)


def _downstream(a) -> None:
    from downstream.results import signatures
    from downstream.run import run
    from downstream.upstream import upstream_name
    results = run(a.config, a.data, a.upstream, a.name or upstream_name(a.upstream), a.out,
                  a.results, seeds=_ints(a.seeds), lrs=_floats(a.lr) or None,
                  splits=tuple(x for x in a.splits.split(",") if x), cache=a.cache,
                  overrides=a.overrides)
    for r in results:
        interval = f" [{r.low:.4f}, {r.high:.4f}]" if r.low is not None else ""
        print(f"{r.task} {r.split} {r.metric} (seed {r.seed}, lr {r.config['lr']:g}): "
              f"{r.value:.4f}{interval} ({r.utterances} items; resampled: {r.resampling})")
    for signature in signatures(results):
        print(f"sacreBLEU: {signature}")


def _score(a) -> None:
    from downstream.metrics import metric_of
    from downstream.scoring import rescore
    for path in a.predictions:
        scores, stored = rescore(path, a.kind)
        print(path)
        for s in scores:
            k, d = (100, 2) if metric_of(s.column).percent else (1, 4)
            interval = f" [{k * s.low:.{d}f}, {k * s.high:.{d}f}]" if s.low is not None else ""
            print(f"  {s.column}: {k * s.value:.{d}f}{interval} ({s.items} items; "
                  f"resampled: {s.resampling})")
        if stored is not None:
            same = [(x.column, x.value, x.low, x.high) for x in scores] == \
                [(x.column, x.value, x.low, x.high) for x in stored]
            print("  = the scores stored with the run" if same else
                  "  differs from the scores stored with the run: " +
                  ", ".join(f"{x.column} {x.value:.4f}" for x in stored))


def _extract(a) -> None:
    from downstream.run import features_for
    print(features_for(a.upstream, a.data, a.cache, tuple(x for x in a.splits.split(",") if x)))


def _predict(a) -> None:
    from downstream.run import predict
    print("\n".join(predict(a.checkpoint, a.audio)))


def _trials(a) -> None:
    from downstream.trials import make_trials
    path, targets, nontargets = make_trials(a.data, a.split, targets_per_utterance=a.per_utterance,
                                            seed=a.seed)
    print(f"{targets} target and {nontargets} non-target trials -> {path}")


def _suite(a) -> None:
    from downstream.results import read_results, resampling_note, table, to_markdown
    from downstream.suite import prepare_demo_tasks, run_suite
    upstreams = dict(u.split("=", 1) for u in a.upstream if "=" in u)
    if len(upstreams) != len(a.upstream):
        raise UserError("--upstream takes NAME=SPEC, e.g. --upstream MFB=mfb")
    tasks = _suite_tasks(a.tasks)  # None: every task of the suite
    data = prepare_demo_tasks(a.records, a.out / "data", spanish_records=a.es_records)
    store = a.out / "results.jsonl"
    run_suite(data, upstreams, a.out / "runs", store, tasks,
              cache=None if a.no_cache else a.out / "cache", quiet=True)
    results = read_results(store)
    print(f"test split; {resampling_note(results)}\n\n{to_markdown(*table(results))}", end="")


def _report(a) -> None:
    from downstream.results import (read_results, resampling_note, signatures, split_table, table,
                                    to_csv, to_latex, to_markdown, write_report)
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


def _slurm_request_options(p: argparse.ArgumentParser, gpus: bool) -> None:
    p.add_argument("--profile", default="generic", help="configs/slurm name (jean-zay, generic) "
                   "or the path of your copy (default: generic)")
    p.add_argument("--partition", help="a partition of the profile (default: its default_partition)")
    if gpus:
        p.add_argument("--gpus", type=int, help="GPUs in all (default: one node's, or the seed "
                       "table's count for its models); whole nodes first")
        p.add_argument("--tasks", type=int, help="processes on a CPU partition (default 1)")
    p.add_argument("--qos", help="a QoS the profile defines for the partition (default: its default_qos)")
    p.add_argument("--time", help="time limit per allocation, e.g. 20:00:00 (default: the QoS's limit)")
    p.add_argument("--dry-run", action="store_true", help="print the sbatch script, submit nothing")


def _slurm_request(a, gpus: int | None = None, tasks: int | None = None, one_gpu: bool = False):
    """The checked request of the command line; ``one_gpu``: a single GPU on GPU partitions
    (a sweep element), nothing on CPU ones."""
    from slurm.profile import cluster_reachable, load_profile, make_request
    profile = load_profile(a.profile)
    if one_gpu and profile.partition(a.partition).gpus_per_node:
        gpus = 1
    check = not a.dry_run or cluster_reachable()
    if not check:
        print("# no Slurm cluster answers here: checked against the profile only")
    return make_request(profile, a.partition, gpus, tasks, a.qos, a.time, check_cluster=check)


def _slurm_pretrain(a) -> None:
    from pretrain.check import seed_models
    from slurm.profile import load_profile
    from slurm.pretrain import submit_pretraining
    if a.resume and a.save_dir:
        raise UserError("--resume SAVE_DIR replaces --save-dir; give one of them")
    save_dir = a.resume or a.save_dir
    if save_dir is None:
        raise UserError("give --save-dir (a new run) or --resume SAVE_DIR")
    gpus = a.gpus
    if (gpus is None and a.tasks is None and a.config in seed_models()
            and load_profile(a.profile).partition(a.partition).gpus_per_node):
        gpus = int(seed_models()[a.config]["gpus"])  # the seed table's GPU count
    request = _slurm_request(a, gpus, a.tasks)
    job = submit_pretraining(request, save_dir, a.config, a.data, a.overrides,
                             resume=a.resume is not None, dry_run=a.dry_run)
    if job:
        print(f"submitted job {job}: {request.world_size} process(es) on {request.nodes} node(s); "
              f"log {Path(save_dir).resolve() / 'slurm' / (job + '.out')}")


def _slurm_sweep(a) -> None:
    from slurm.sweep import load_sweep, submit_sweep
    sweep = load_sweep(a.sweep)
    job = submit_sweep(sweep, _slurm_request(a, one_gpu=True), None, a.max_concurrent, a.dry_run)
    if job:
        print(f"submitted array job {job}; follow it with `lebench slurm status {a.sweep}`")


def _slurm_status(a) -> None:
    from slurm.sweep import load_sweep, status, status_text, submit_sweep
    sweep = load_sweep(a.sweep)
    rows = status(sweep)
    print(status_text(rows))
    if a.resubmit:
        failed = [r.index for r in rows if r.state == "failed"]
        if not failed:
            print("no failed element; nothing resubmitted")
            return
        job = submit_sweep(sweep, _slurm_request(a, one_gpu=True), failed, a.max_concurrent,
                           a.dry_run)
        if job:
            print(f"resubmitted {len(failed)} failed element(s) as array job {job}")


def _slurm_element(a) -> None:
    from slurm.sweep import load_sweep, run_element
    print(run_element(load_sweep(a.sweep), a.index))


if __name__ == "__main__":
    sys.exit(main())

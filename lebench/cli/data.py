"""Data commands: corpora, preparation, compositions, statistics, manifests, trial lists."""
from __future__ import annotations

import itertools
from pathlib import Path

from lebench.cli.values import fraction, natural_int, positive_float, positive_int
from lebench.core.errors import UserError


def add_commands(sub) -> None:
    for add in (_demo_corpus, _corpora, _prepare, _compose, _stats, _manifest, _trials):
        add(sub)


def _demo_corpus(sub) -> None:
    p = sub.add_parser("demo-corpus", help="synthesise the demo corpus with espeak-ng")
    p.add_argument("out", type=Path)
    p.add_argument("--force", action="store_true", help="rebuild even if complete")
    p.set_defaults(run=run_demo_corpus)


def run_demo_corpus(a) -> None:
    from lebench.manifests.demo.build import build_demo_corpus
    print(build_demo_corpus(a.out, force=a.force))


def _corpora(sub) -> None:
    p = sub.add_parser("corpora", help="list the corpus registry: name, use, licence, speech type, "
                       "what it is")
    p.add_argument("name", nargs="?", help="one corpus: its entry, reader and the layout it reads")
    p.set_defaults(run=run_corpora)


def run_corpora(a) -> None:
    from lebench.manifests.corpora import CORPORA, describe
    if a.name:
        print(describe(a.name))
        return
    for c in CORPORA.values():
        print(f"{c.name:24s} {c.use:12s} {c.licence:18s} {c.speech_type:19s} {c.title}")


def _prepare(sub) -> None:
    p = sub.add_parser("prepare", help="normalise a corpus to 16 kHz mono WAV + utterance records")
    p.add_argument("corpus_dir", type=Path, help="the corpus folder, as distributed")
    p.add_argument("out", type=Path, help="output folder (for compositions: PREPARED/<reader>)")
    p.add_argument("--reader", default="generic", help="corpus of the registry, see `lebench corpora`")
    own = "(generic reader only: a registered corpus has its own)"
    p.add_argument("--name", help=f"the records' corpus name, default the folder's {own}")
    p.add_argument("--licence", help=f"licence of the records, default 'unknown' {own}")
    p.add_argument("--speech-type", help=f"speech type of the records, default 'read' {own}")
    p.add_argument("--min-duration", type=positive_float, default=1.0, help="seconds (default 1)")
    p.add_argument("--max-duration", type=positive_float, default=30.0, help="seconds (default 30)")
    p.add_argument("--no-split-long", action="store_true",
                   help="reject untranscribed recordings over --max-duration instead of cutting them")
    p.add_argument("--workers", type=positive_int, help="processes (default: all cores, at most 8)")
    p.add_argument("--strict", action="store_true", help="any rejected input is an error")
    p.set_defaults(run=run_prepare)


def run_prepare(a) -> None:
    from lebench.manifests.corpora import corpus
    from lebench.manifests.prepare import prepare
    entry = corpus(a.reader)
    own = {"--name": a.name, "--licence": a.licence, "--speech-type": a.speech_type}
    given = [flag for flag, value in own.items() if value is not None]
    if given and a.reader != "generic":
        raise UserError(f"{', '.join(given)}: corpus {a.reader!r} has its own (`lebench corpora "
                        f"{a.reader}`); these options name a lab's own corpus, read with --reader generic")
    entry = entry.with_fields(record_name=a.name, licence=a.licence, speech_type=a.speech_type)
    print(prepare(entry.read(a.corpus_dir), a.out, min_duration=a.min_duration,
                  max_duration=a.max_duration, split_long=not a.no_split_long, workers=a.workers,
                  strict=a.strict))


def _compose(sub) -> None:
    p = sub.add_parser("compose", help="pretraining manifests + statistics for a composition (1K ... 14K)")
    p.add_argument("composition", help="name in configs/corpora (1K, 2.7K, 3K, 7K, 14K) or a YAML path")
    p.add_argument("--prepared", type=Path, required=True, help="folder with one prepared folder per corpus")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--valid", type=fraction, default=0.01, help="fraction of utterances for valid.tsv")
    p.add_argument("--seed", type=natural_int, default=42)
    p.add_argument("--no-audio-check", action="store_true", help="trust the records' durations")
    p.set_defaults(run=run_compose)


def run_compose(a) -> None:
    from lebench.manifests.compose import compose
    from lebench.manifests.compositions import load_composition
    counts = compose(load_composition(a.composition), a.prepared, a.out, a.valid, a.seed,
                     check_audio=not a.no_audio_check)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" -> {a.out} (stats.md, stats.csv)")


def _stats(sub) -> None:
    p = sub.add_parser("stats", help="the seed table's statistics for prepared corpora")
    p.add_argument("records", type=Path, nargs="*", help="utterances.jsonl files or prepared folders")
    p.add_argument("--composition", help="read its corpora from --prepared and add a total row")
    p.add_argument("--prepared", type=Path, help="folder with one prepared folder per corpus")
    p.add_argument("--compare", action="store_true", help="list every figure that differs from the seed")
    p.add_argument("--csv", type=Path, help="also write the table as CSV")
    p.set_defaults(run=run_stats)


def run_stats(a) -> None:
    from lebench.manifests.compose import records_of
    from lebench.manifests.compositions import load_composition
    from lebench.manifests.records import read_records
    from lebench.manifests.stats import compare_with_seed, report, to_csv, to_markdown
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
        diffs = compare_with_seed(rows, composition)
        print("\nCompared with the seed table: " +
              ("every figure matches." if not diffs else f"{len(diffs)} differences:\n  " +
               "\n  ".join(diffs)))


def _manifest(sub) -> None:
    p = sub.add_parser("manifest", help="write fairseq manifests (+ label files) from records")
    p.add_argument("records", type=Path, help="utterances.jsonl written by `lebench prepare`")
    p.add_argument("out", type=Path)
    p.add_argument("--split", default="train=0.98,valid=0.02", help="fractions per split")
    p.add_argument("--by", default="utterance",
                   help="what a split assigns: utterance, speaker (whole speakers), or "
                        "label:NAME to keep a corpus's official split (e.g. label:split)")
    p.add_argument("--stratify", help="keep this label's proportions in every split (e.g. gender)")
    p.add_argument("--labels", default="", help="comma-separated labels to write (e.g. gender)")
    p.add_argument("--seed", type=natural_int, default=42)
    p.add_argument("--skip-bad", action="store_true",
                   help="leave unusable audio out (listed in rejects.tsv) instead of failing")
    p.set_defaults(run=run_manifest)


def run_manifest(a) -> None:
    from lebench.manifests.fairseq_manifest import parse_fractions, split_records, write_manifests
    from lebench.manifests.records import read_records
    splits = split_records(list(read_records(a.records)), parse_fractions(a.split), a.seed,
                           by=a.by, stratify=a.stratify)
    labels = [x for x in a.labels.split(",") if x]
    counts = write_manifests(splits, a.out, labels=labels, skip_bad=a.skip_bad)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" -> {a.out}")


def _trials(sub) -> None:
    p = sub.add_parser("trials", help="write a speaker-verification trial list for a split")
    p.add_argument("data", type=Path, help="folder with <split>.tsv and <split>.speaker")
    p.add_argument("--split", default="test")
    p.add_argument("--per-utterance", type=positive_int, default=10, help="target trials per utterance")
    p.add_argument("--seed", type=natural_int, default=0)
    p.set_defaults(run=run_trials)


def run_trials(a) -> None:
    from lebench.downstream.trials import make_trials
    made = make_trials(a.data, a.split, targets_per_utterance=a.per_utterance, seed=a.seed)
    print(f"{made.targets} target and {made.nontargets} non-target trials -> {made.path}")

"""``lebench``: one program for the whole toolkit. ``lebench <command> --help`` for details.

Each group of commands is a module here, every parser next to its handler; the handlers
call the library and print, nothing more, and import it when they run, so that `lebench
--help` and a refused value cost no torch or fairseq import. A bad value is refused by its
parser or by the library with one line (exit 2), never rounded or ignored.
"""
from __future__ import annotations

import argparse
import logging
import sys

from lebench.cli import conversion, data, demo, downstream, pretraining, slurm
from lebench.core.errors import UserError

GROUPS = (demo, data, pretraining, conversion, downstream, slurm)


def build_parser() -> argparse.ArgumentParser:
    """Every command with its options (``lebench --help``)."""
    parser = argparse.ArgumentParser(
        prog="lebench",
        description="Pretrain, evaluate and publish French wav2vec2 models (LeBenchmark).",
        epilog="Typical flow: prepare (per corpus) -> compose or manifest -> pretrain -> extract -> "
               "downstream -> report; to-hf publishes a checkpoint, from-hf brings a HuggingFace "
               "model back.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Hydra overrides may follow options (`pretrain demo --data D key=value`); argparse would
    # reject positionals given after the options, so they are collected here.
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            if not hasattr(args, "overrides") or any("=" not in x or x.startswith("-") for x in extra):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.overrides = [*args.overrides, *extra]
    except SystemExit as e:  # --help exits 0; a refused value has had its one line printed
        if e.code:
            return e.code
        raise
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

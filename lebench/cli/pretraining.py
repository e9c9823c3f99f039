"""Pretraining commands: train a config, continue a checkpoint, check a config's cost."""
from __future__ import annotations

from pathlib import Path

from lebench.cli.values import positive_int
from lebench.core.errors import UserError


def add_commands(sub) -> None:
    for add in (_pretrain, _continue, _check):
        add(sub)


def _pretrain(sub) -> None:
    p = sub.add_parser("pretrain", help="pretrain a model of configs/pretrain with fairseq-hydra-train")
    p.add_argument("config", help="config name, e.g. demo or 1K-base")
    p.add_argument("--data", type=Path, required=True, help="folder with train.tsv and valid.tsv")
    p.add_argument("--save-dir", type=Path, required=True)
    p.add_argument("--no-audio-check", action="store_true", help="skip the header check of every file")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=10")
    p.set_defaults(run=run_pretrain)


def run_pretrain(a) -> None:
    from lebench.pretrain.launch import pretrain
    print(pretrain(a.config, a.data, a.save_dir, a.overrides, check_audio=not a.no_audio_check))


def _continue(sub) -> None:
    p = sub.add_parser("continue", help="continue SSL pretraining of a checkpoint on new audio")
    p.add_argument("checkpoint", type=Path, help="fairseq wav2vec2 checkpoint to start from")
    p.add_argument("--data", type=Path, required=True, help="folder with train.tsv and valid.tsv")
    p.add_argument("--save-dir", type=Path, required=True)
    p.add_argument("--size", help="config continue-SIZE (default: from the checkpoint's shape)")
    p.add_argument("--no-audio-check", action="store_true", help="skip the header check of every file")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=5000")
    p.set_defaults(run=run_continue)


def run_continue(a) -> None:
    from lebench.pretrain.continued import continue_pretraining
    print(continue_pretraining(a.checkpoint, a.data, a.save_dir, a.size, a.overrides,
                               check_audio=not a.no_audio_check))


def _check(sub) -> None:
    p = sub.add_parser("check", help="a pretraining config's size, batch, updates and estimated cost")
    p.add_argument("config", nargs="?", help="config name, e.g. 3K-large (default: every model)")
    p.add_argument("--gpus", type=positive_int, help="GPUs to plan for (default: the seed table's "
                   "count, else 1)")
    p.add_argument("--hardware", help="v100, a100 or h100 (default: the config's hardware group)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset.max_tokens=1000000")
    p.set_defaults(run=run_check)


def run_check(a) -> None:
    from lebench.pretrain.check import check, seed_configs
    if a.config is None and a.overrides:
        raise UserError("overrides need a config name")
    names = [a.config] if a.config else seed_configs()
    print("\n\n".join(check(n, a.overrides, a.gpus, a.hardware).to_text() for n in names))

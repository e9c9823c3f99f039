"""Pretraining commands: k-means labels, train a config, continue a checkpoint, check a config's cost."""
from __future__ import annotations

from pathlib import Path

from lebench.cli.values import positive_int
from lebench.core.errors import UserError


def add_commands(sub) -> None:
    for add in (_labels, _pretrain, _continue, _check):
        add(sub)


def _labels(sub) -> None:
    p = sub.add_parser("labels", help="HuBERT's k-means labels: MFCCs (iteration 1) or a block of a "
                       "HuBERT-family checkpoint; resumable, sharded (--shard: one Slurm array task)")
    add_label_options(p)
    p.add_argument("--shards", type=positive_int, default=1, help="line ranges per split")
    p.add_argument("--shard", type=int, help="do only this shard (0-based), e.g. $SLURM_ARRAY_TASK_ID; "
                   "the last one to finish joins the split")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(run=run_labels)


def add_label_options(p) -> None:
    """What the labels are (``lebench labels`` and ``lebench slurm labels``)."""
    p.add_argument("--data", type=Path, required=True, help="folder with <split>.tsv manifests")
    p.add_argument("--out", type=Path, required=True, help="label folder (pretraining's --labels)")
    p.add_argument("--clusters", type=positive_int, required=True, help="100 for iteration 1, 500 after")
    p.add_argument("--from", dest="checkpoint", type=Path,
                   help="HuBERT or ILS-SSL checkpoint whose block --layer is clustered (default: MFCCs)")
    p.add_argument("--layer", type=positive_int, help="1-based block of --from (6 for base iteration 2)")
    p.add_argument("--splits", default="train,valid", help="manifests to label; k-means learns on the "
                   "first (default: train,valid)")
    p.add_argument("--percent", type=float, default=0.1, help="of the first split's utterances that "
                   "k-means learns on (the recipe's 0.1)")
    p.add_argument("--max-frames", type=positive_int, default=2_000_000,
                   help="frames held in memory to learn k-means")
    p.add_argument("--seed", type=int, default=1)


def label_arguments(a) -> list[str]:
    """``add_label_options``' values as ``lebench labels`` arguments, paths made absolute."""
    args = ["--data", str(a.data.resolve()), "--out", str(a.out.resolve()), "--clusters", str(a.clusters),
            "--splits", a.splits, "--percent", str(a.percent), "--max-frames", str(a.max_frames),
            "--seed", str(a.seed)]
    if a.checkpoint is not None:
        args += ["--from", str(a.checkpoint.resolve())]
    if a.layer is not None:
        args += ["--layer", str(a.layer)]
    return args


def run_labels(a) -> None:
    from lebench.pretrain.labels.pipeline import LabelJob, make_labels
    from lebench.pretrain.labels.sources import feature_source
    job = LabelJob(a.data, a.out, a.clusters, tuple(s for s in a.splits.split(",") if s), a.shards,
                   a.percent, a.max_frames, a.seed)
    done = make_labels(job, feature_source(a.checkpoint, a.layer, a.device),
                       None if a.shard is None else [a.shard])
    for split in job.splits:
        print(f"{split}: {done[split]}" if split in done else f"{split}: shards still running")


def _pretrain(sub) -> None:
    p = sub.add_parser("pretrain", help="pretrain a model of configs/pretrain with fairseq-hydra-train")
    p.add_argument("config", help="config name, e.g. demo or 1K-base")
    p.add_argument("--data", type=Path, required=True, help="folder with train.tsv and valid.tsv")
    p.add_argument("--save-dir", type=Path, required=True)
    p.add_argument("--labels", type=Path, help="HuBERT and ILS-SSL configs: the k-means label folder "
                   "`lebench labels` wrote")
    p.add_argument("--no-audio-check", action="store_true", help="skip the header check of every file")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=10 or "
                   "data=7K")
    p.set_defaults(run=run_pretrain)


def run_pretrain(a) -> None:
    from lebench.pretrain.launch import pretrain
    print(pretrain(a.config, a.data, a.save_dir, a.overrides, check_audio=not a.no_audio_check,
                   labels=a.labels))


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

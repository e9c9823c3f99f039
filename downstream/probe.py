"""Train an utterance-level probe with fairseq-hydra-train, then score it on held-out splits.

The checkpoint kept is the best on ``valid`` (selection never looks at ``test``); it is
then evaluated on every requested split and each metric lands in the results store.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from downstream.metrics import METRICS, bootstrap_interval
from downstream.results import Result, append_results
from lebench.errors import UserError
from lebench.fairseq_run import fairseq_hydra_train


def train_probe(config: str, data: Path, upstream: str, save_dir: Path, seed: int = 1,
                overrides: list[str] = (), quiet: bool = False) -> Path:
    save_dir = Path(save_dir).resolve()
    upstream = upstream if upstream == "mfb" else str(Path(upstream).resolve())
    fairseq_hydra_train("downstream", config, [
        f"task.data={Path(data).resolve()}", f"model.upstream={upstream}",
        f"checkpoint.save_dir={save_dir}", f"common.seed={seed}", *overrides], save_dir, quiet=quiet)
    best = save_dir / "checkpoint_best.pt"
    if not best.is_file():
        raise UserError(f"training ended without writing {best}; see {save_dir / 'train.log'}")
    return best


@torch.no_grad()
def predict(checkpoint: Path, data: Path, split: str, batch_size: int = 16):
    """Return (reference class ids, predicted class ids, class names) for one split."""
    import fairseq_ext  # noqa: F401  registers the task and model
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(Path(data).resolve())})
    model = models[0].eval()
    task.load_dataset(split)
    dataset = task.dataset(split)
    order = np.argsort(dataset.sizes, kind="stable")
    refs, hyps = [], []
    for start in range(0, len(order), batch_size):
        batch = dataset.collater([dataset[int(i)] for i in order[start:start + batch_size]])
        if not batch:
            continue
        hyps.append(model(**batch["net_input"]).argmax(-1))
        refs.append(batch["target"])
    if not refs:
        raise UserError(f"no readable utterances in split {split!r} of {data}")
    return torch.cat(refs).numpy(), torch.cat(hyps).numpy(), task.classes, cfg


def run_probe(config: str, data: Path, upstream: str, upstream_name: str, out_dir: Path,
              store: Path, seed: int = 1, splits: tuple[str, ...] = ("valid", "test"),
              overrides: list[str] = (), quiet: bool = False) -> list[Result]:
    best = train_probe(config, data, upstream, out_dir, seed, overrides, quiet)
    results = []
    for split in splits:
        ref, hyp, classes, cfg = predict(best, data, split)
        for metric, fn in METRICS.items():
            low, high = bootstrap_interval(fn, ref, hyp, seed=seed)
            results.append(Result(
                task=f"{cfg.task.label}", upstream=upstream_name, split=split, metric=metric,
                value=fn(ref, hyp), low=low, high=high, seed=seed, utterances=len(ref),
                config={"config": config, "upstream": upstream, "lr": list(cfg.optimization.lr),
                        "max_epoch": cfg.optimization.max_epoch, "classes": classes,
                        "checkpoint": str(best)}))
    append_results(store, results)
    return results

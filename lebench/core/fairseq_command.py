"""The one home of the training command line: fairseq's own ``fairseq-hydra-train`` with
the plugin as ``common.user_dir``, run here or by a Slurm worker.

Checks first what fairseq would get wrong silently: fairseq registers its schema under any
``--config-name``, so a misspelt name would train the bare defaults instead of failing.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
import threading
import warnings
from pathlib import Path

from omegaconf import DictConfig, open_dict
from tqdm import tqdm

from lebench.core.errors import UserError
from lebench.core.paths import CONFIG_DIR, PLUGIN_DIR

_UPDATES = re.compile(r'"num_updates": "(\d+)"')
_STOPPED = "TrainingStopped: "  # how the traceback of lebench.pretrain.health's stop ends
# runs side by side take turns: Hydra composes through one global instance, and fairseq's
# registries take the plugin's names once
_HYDRA, _PLUGIN = threading.Lock(), threading.Lock()


def available_configs(config_dir: Path) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def config_path(kind: str, name: str) -> Path:
    """The YAML of config ``name`` under ``configs/<kind>``, or a UserError listing the valid names."""
    config_dir = CONFIG_DIR / kind
    path = config_dir / f"{name}.yaml"
    if not path.is_file():
        raise UserError(f"config {name!r} not found in {config_dir}; available: "
                        f"{', '.join(available_configs(config_dir))}")
    return path


def compose_config(kind: str, name: str, overrides: list[str] | tuple[str, ...] = ()
                   ) -> tuple[DictConfig, dict[str, str]]:
    """Config ``name`` of ``configs/<kind>`` composed exactly as ``fairseq-hydra-train`` composes
    it (fairseq's schema registered first), and its group choices (size, data, scale ...).
    Values the command line fills in (``task.data``, ``model.upstream``) may stay ``???``."""
    from fairseq.dataclass.initialize import hydra_init
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    config = config_path(kind, name)
    with _HYDRA, warnings.catch_warnings():
        GlobalHydra.instance().clear()
        warnings.simplefilter("ignore")  # Hydra 1.1's note on schema matching; fairseq relies on it
        logging.getLogger("hydra").setLevel(logging.WARNING)
        hydra_init(name)
        try:
            with initialize_config_dir(config_dir=str(config.parent), version_base=None):
                cfg = compose(config_name=name, overrides=list(overrides), return_hydra_config=True)
        except Exception as e:  # Hydra's own errors: an unknown key, group or option
            raise UserError(f"{config}: {str(e).splitlines()[0]}") from None
        finally:
            GlobalHydra.instance().clear()
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if not k.startswith("hydra")}
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def hydra_train_command(kind: str, name: str, overrides: list[str], run_dir: Path) -> list[str]:
    """The ``fairseq-hydra-train`` command line for config ``name``, with this plugin."""
    config = config_path(kind, name)
    # fairseq's console script beside this interpreter; else the same entry point as a module
    # (an environment whose fairseq lives elsewhere on the path has no script of its own).
    exe = Path(sys.executable).with_name("fairseq-hydra-train")
    command = [str(exe)] if exe.is_file() else [sys.executable, "-m", "fairseq_cli.hydra_train"]
    return [*command, *hydra_train_args(config, overrides, Path(run_dir).resolve() / "hydra")]


def hydra_train_args(config: Path, overrides: list[str], hydra_dir: Path) -> list[str]:
    """The arguments of ``fairseq-hydra-train`` for a config file, with this plugin."""
    return ["--config-dir", str(config.parent), "--config-name", config.stem,
            f"common.user_dir={PLUGIN_DIR}", f"hydra.run.dir={hydra_dir}", *overrides]


def import_plugin() -> None:
    """Register the plugin's tasks, models and criterions the way fairseq does for
    ``common.user_dir`` (needed to load a checkpoint saved with them, or to train in-process)."""
    from argparse import Namespace

    from fairseq.utils import import_user_module

    with _PLUGIN:  # runs side by side import it once
        import_user_module(Namespace(user_dir=str(PLUGIN_DIR)))


def fairseq_hydra_train(kind: str, name: str, overrides: list[str], run_dir: Path,
                        quiet: bool = False) -> Path:
    """Train; return the log file. Output goes to ``run_dir/train.log``, and to the console
    unless ``quiet`` (then a progress bar counts updates)."""
    run_dir = Path(run_dir).resolve()
    cmd = hydra_train_command(kind, name, overrides, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "train.log"
    print("$ " + shlex.join(cmd), flush=True)
    env = dict(os.environ, HYDRA_FULL_ERROR="1", PYTHONWARNINGS="ignore::UserWarning")
    with open(log, "a", encoding="utf-8") as f, \
            tqdm(desc=f"{kind} {name}", unit="update", disable=not quiet) as bar:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, bufsize=1)
        last = []
        for line in proc.stdout:
            f.write(line)
            last = (last + [line.rstrip()])[-20:]
            if not quiet:
                sys.stdout.write(line)
            elif m := _UPDATES.search(line):
                bar.update(int(m.group(1)) - bar.n)
            elif "effective batch" in line:  # the batch plan the task chose (batch_plan.py)
                bar.write(line.rstrip().split("] - ")[-1])
        if proc.wait() != 0:
            stop = next((l for l in reversed(last) if _STOPPED in l), None)
            if stop is not None:  # the run stopped itself (lebench.pretrain.health): its own line
                raise UserError(f"{stop.split(_STOPPED, 1)[1].strip()} (full log: {log})")
            reason = next((l for l in reversed(last) if "Error" in l or "error" in l), last[-1] if last else "")
            raise UserError(f"fairseq-hydra-train failed (exit {proc.returncode}): {reason.strip()}; "
                            f"full log: {log}")
    return log

"""Shared fixtures: the real demo corpus, prepared and split once per session, and one short
real pretraining run whose checkpoint several tests read."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lebench.manifests.corpora import generic
from lebench.manifests.demo.build import build_demo_corpus
from lebench.manifests.fairseq_manifest import split_records, write_manifests
from lebench.manifests.prepare import prepare
from lebench.manifests.records import read_records

# The longest files, longest first (measured, one process: ~270, 250, 190, 95, 60, 40, 36 s):
# `make test` runs two pytest-xdist workers that take whole files in collection order, so the
# long ones start at once instead of trailing at the end.
LONGEST_FIRST = ("test_downstream.py", "test_slurm.py", "test_downstream_seq2seq.py",
                 "test_commands.py", "test_pretraining.py", "test_hubert_pretraining.py",
                 "test_hf_conversion.py",
                 "test_resilience.py")


def pytest_collection_modifyitems(items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required (the Makefile installs it: `make test`)")
    return build_demo_corpus(tmp_path_factory.mktemp("corpus") / "demo")


@pytest.fixture(scope="session")
def demo_records(demo_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    return prepare(generic("lebench-demo").read(demo_corpus), out, progress=False).records


@pytest.fixture(scope="session")
def demo_manifests(demo_records, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("manifests")
    splits = split_records(list(read_records(demo_records)), {}, 42, by="label:split")
    write_manifests(splits, out, labels=("gender", "sentence_type"), progress=False)
    return out


@pytest.fixture(scope="session")
def demo_checkpoint(demo_manifests, tmp_path_factory) -> Path:
    """20 real updates of the demo config through fairseq-hydra-train."""
    from lebench.pretrain.launch import pretrain
    save_dir = tmp_path_factory.mktemp("pretrain")
    return pretrain("demo", demo_manifests, save_dir, ["optimization.max_update=20",
                                                       "lr_scheduler.warmup_updates=5"], quiet=True)


def write_tone(path: Path, rate: int = 16_000, seconds: float = 1.5, channels: int = 1,
               subtype: str = "PCM_16") -> Path:
    """A real audio file (a 220 Hz tone, with a little noise) in any rate / channel layout."""
    t = np.arange(int(rate * seconds)) / rate
    wav = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    if channels > 1:
        wav = np.stack([wav] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wav, rate, subtype=subtype)
    return path

"""A plain ``pip install .`` (no editable mode) into a fresh virtual environment: one
``lebench`` namespace plus the fairseq plugin, configs as package data, and a ``lebench``
command that pretrains for real from outside the checkout."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import write_tone

ROOT = Path(__file__).resolve().parent.parent


def run(*cmd, cwd: Path, **kw) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def source_copy(out: Path) -> Path:
    """The checkout without its environment and outputs (setuptools builds inside its source)."""
    skip = {".venv", ".git", "runs", "data", "build", "lebench.egg-info", ".pytest_cache"}
    shutil.copytree(ROOT, out, ignore=lambda folder, names: [n for n in names if n == "__pycache__" or
                                                             (Path(folder) == ROOT and n in skip)])
    return out


def test_a_wheel_installs_one_namespace_and_works_outside_the_checkout(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "-w", tmp_path / "dist", source_copy(tmp_path / "src"), cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("lebench-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    site = Path(run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).strip())
    # The dependencies (torch, fairseq ...) come from this environment, lebench from the wheel
    # alone: a path line does not run the editable install's finder, which stays behind.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
        "--no-deps", wheel, cwd=tmp_path)

    installed = {p.name for p in site.iterdir()} - {"dependencies.pth", "__pycache__"}
    assert installed == {"lebench", "fairseq_ext", wheel.name.split("-")[0] + "-0.1.0.dist-info"}, installed
    assert (site / "lebench" / "configs" / "pretrain" / "size" / "demo.yaml").is_file()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run(venv / "bin" / "python", "-c", "import lebench.core.paths as p; print(p.CONFIG_DIR); "
                "print(p.PLUGIN_DIR); print(p.source_checkout())", cwd=tmp_path, env=env).split()
    assert where == [str(site / "lebench" / "configs"), str(site / "fairseq_ext"), "None"]

    data = tmp_path / "data"
    for i in range(8):
        write_tone(data / "audio" / f"{i}.wav", seconds=2.0)
    for split in ("train", "valid"):
        (data / f"{split}.tsv").write_text(f"{data / 'audio'}\n" + "".join(f"{i}.wav\t32000\n" for i in range(8)))
    out = run(venv / "bin" / "lebench", "pretrain", "demo", "--data", data, "--save-dir", tmp_path / "run",
              "optimization.max_update=2", cwd=tmp_path, env=env)
    assert f"common.user_dir={site / 'fairseq_ext'}" in out and (tmp_path / "run" / "checkpoint_last.pt").is_file()

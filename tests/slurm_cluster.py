"""A private one-node Slurm cluster on this host, for the tests of ``slurm/``.

Installs Debian's ``slurm-wlm`` and ``munge`` when missing (root only), then starts
``munged``, ``slurmctld`` and ``slurmd`` with their own key, sockets, ports, state and
spool folders under one directory, so nothing of a system installation is read or
touched. Commands reach it through ``SLURM_CONF``. The node has this host's CPUs; the
partition ``debug`` is the default one, ``other`` exists so that profile checks can
name a partition that is there and one that is not.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")


class Unavailable(RuntimeError):
    """The daemons cannot run here; the reason says why (tests skip with it)."""


def install() -> None:
    """``apt-get install`` the daemons when missing; root only."""
    if all(shutil.which(d) for d in DAEMONS):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(f"{', '.join(PACKAGES)} are not installed and this is not a root "
                          f"Debian host: apt-get install {' '.join(PACKAGES)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for args in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        if done.returncode != 0 and args[1] == "install":
            raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr[-500:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """This host as ``slurmd -C`` sees it (CPUs, sockets, cores, memory)."""
    line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout.splitlines()[0]
    fields = dict(f.split("=", 1) for f in line.split())
    memory = int(fields.pop("RealMemory"))
    fields.pop("UpTime", None)
    return " ".join(f"{k}={v}" for k, v in fields.items()) + f" RealMemory={memory - 512}"


class LocalSlurm:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.host = socket.gethostname().split(".")[0]
        self.address = "127.0.0.1"
        self.conf = self.root / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self._pids: list[Path] = []

    def start(self) -> "LocalSlurm":
        install()
        try:  # jobs reach the first node by name (MASTER_ADDR), as on a real cluster
            socket.gethostbyname(self.host)
        except OSError:
            raise Unavailable(f"this host's name {self.host!r} does not resolve; add it to "
                              f"/etc/hosts") from None
        r = self.root
        for sub in ("state", "spool", "log"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(r, 0o700)
        key = r / "munge.key"
        if not key.is_file():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        sock = r / "munge.socket"
        self._run(["munged", "--force", f"--socket={sock}", f"--key-file={key}",
                   f"--pid-file={r / 'munged.pid'}", f"--log-file={r / 'log/munged.log'}",
                   f"--seed-file={r / 'munged.seed'}"], r / "munged.pid")
        node = _node_line()
        self.conf.write_text("\n".join([
            "ClusterName=lebenchtest",
            f"SlurmctldHost={self.host}({self.address})",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge", "CredType=cred/munge",
            f"AuthInfo=socket={sock},cred_expire=10",  # requeued jobs wait cred_expire + 1 s
            "SlurmUser=root", "SlurmdUser=root",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log/slurmctld.log'}",
            f"SlurmdLogFile={r / 'log/slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "SchedulerParameters=sched_interval=2",
            "MpiDefault=none",
            "ReturnToService=2",
            "JobRequeue=1",
            "MinJobAge=3600",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SlurmctldTimeout=30", "SlurmdTimeout=60", "InactiveLimit=0", "KillWait=10",
            f"NodeName={self.host} NodeAddr={self.address} {node.split(' ', 1)[1]} State=UNKNOWN",
            f"PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP",
            f"PartitionName=other Nodes={self.host} MaxTime=INFINITE State=UP",
            ""]))
        self._run(["slurmctld", "-f", str(self.conf)], r / "slurmctld.pid")
        self._run(["slurmd", "-f", str(self.conf)], r / "slurmd.pid")
        self._wait_idle()
        return self

    def _run(self, cmd: list[str], pid_file: Path) -> None:
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"{cmd[0]} did not start: {(done.stderr or done.stdout)[-500:]}")
        self._pids.append(pid_file)

    def _wait_idle(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            state = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env,
                                   capture_output=True, text=True).stdout.strip()
            if state.startswith("idle"):
                return
            time.sleep(0.5)
        logs = "\n".join(p.read_text()[-400:] for p in (self.root / "log").glob("*.log"))
        raise Unavailable(f"the node did not become idle in {timeout:.0f} s (state {state!r}):\n{logs}")

    def stop(self) -> None:
        subprocess.run(["scancel", "--full", "-u", str(os.getuid())], env=self.env,
                       capture_output=True)
        for pid_file in reversed(self._pids):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        time.sleep(1)

"""Run a command; print its wall time and the peak of the summed RSS of its whole process tree.

GNU time reports the largest single process only; the demo runs fairseq and worker pools as
child processes, so the tree is sampled (every 50 ms, from /proc).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def tree_rss_bytes(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def main() -> int:
    start = time.monotonic()
    proc = subprocess.Popen(sys.argv[1:])
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_bytes(proc.pid))
        time.sleep(0.05)
    result = {"command": " ".join(sys.argv[1:]), "exit": proc.returncode,
              "wall_s": round(time.monotonic() - start, 1), "peak_tree_rss_gib": round(peak / 2**30, 2)}
    print(json.dumps(result), file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

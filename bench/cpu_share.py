"""Which process uses the CPU while a storm runs: samples every process for N seconds and prints
the average share of one core per group (API, bare path, PostgreSQL, Valkey, load generator).

    python -m bench.vote_storm & sleep 9; python -m bench.cpu_share 10
"""

from __future__ import annotations

import collections
import sys
import time

import psutil

GROUPS = (
    ("postgres", "postgres (all backends)"),
    ("valkey", "valkey"),
    ("server.cli api", "api"),
    ("bare_vote", "bare"),
    ("_storm", "load generator + driver"),
)


def main(seconds: float) -> None:
    procs: dict[int, psutil.Process] = {}
    totals: collections.Counter[str] = collections.Counter()
    end = time.time() + seconds
    while time.time() < end:
        for p in psutil.process_iter(["cmdline", "name"]):
            if p.pid not in procs:
                procs[p.pid] = p
                try:
                    p.cpu_percent(None)
                except psutil.Error:
                    pass
        time.sleep(1)
        for pid, p in list(procs.items()):
            try:
                share = p.cpu_percent(None)
                cmd = " ".join(p.info["cmdline"] or []) or p.info["name"] or ""
                if "multiprocessing" in cmd:  # `c2m api --workers N`: a spawned child
                    parent = p.parent()
                    cmd = " ".join(parent.cmdline()) if parent is not None else cmd
            except psutil.Error:
                procs.pop(pid, None)
                continue
            group = next((g for key, g in GROUPS if key in cmd), "other")
            totals[group] += share
    for group, share in totals.most_common():
        print(f"{share / seconds:6.1f}%  {group}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)

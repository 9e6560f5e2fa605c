"""The API's process managers side by side (``python bench/bench_api_servers.py``): ``pixring bench api``'s
32-client 2-hop subgraph and ``POST /v1/score`` cases with ``--workers 2`` under each ``PIXRING_API_SERVER``
(gunicorn's arbiter with uvicorn workers, pixring's own supervisor), the servers alternating run by run so
the machine's load falls on both alike; prints every run and the medians of p99 and req/s per server.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("GET /v1/graph/usuario/{id}?hops=2", "POST /v1/score")
ROW = re.compile(r"^(?P<name>.+?)\s+(?P<clients>\d+)\s+(?P<rps>\d+)\s+(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)\s+"
                 r"(?P<p99>[\d.]+)\s+[\d.]+\s+\{")


def _run(server: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    cmd = [sys.executable, str(ROOT / "bench" / "bench_api.py"), "--workers", "2", "--clients", str(args.clients),
           "--seconds", str(args.seconds)] + [a for c in CASES for a in ("--case", c)]
    out = subprocess.run(cmd, env={**os.environ, "PIXRING_API_SERVER": server}, cwd=ROOT, capture_output=True,
                         text=True, timeout=600).stdout
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m and m["name"].strip() in CASES:
            rows[m["name"].strip()] = {"rps": float(m["rps"]), "p99": float(m["p99"])}
        elif line.startswith("machine load"):
            print(f"  {server}: {line}")
    if len(rows) != len(CASES):
        print(out)
        raise SystemExit(f"{server}: the bench printed no figures")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    servers = ("supervisor", "gunicorn")
    got: dict[str, list[dict[str, dict[str, float]]]] = {s: [] for s in servers}
    for i in range(args.runs):
        for s in servers if i % 2 == 0 else servers[::-1]:
            got[s].append(r := _run(s, args))
            print(f"run {i + 1} {s:10s} " + "  ".join(f"{c}: p99 {r[c]['p99']:.1f} ms, {r[c]['rps']:.0f} req/s"
                                                   for c in CASES), flush=True)
    print(f"medians of {args.runs} runs, {args.clients} clients, 2 workers:")
    print(f"{'case':36s} " + " ".join(f"{s + ' p99 ms':>16s} {s + ' req/s':>16s}" for s in servers))
    for c in CASES:
        cells = []
        for s in servers:
            cells += [f"{statistics.median(r[c]['p99'] for r in got[s]):16.1f}",
                      f"{statistics.median(r[c]['rps'] for r in got[s]):16.0f}"]
        print(f"{c:36s} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark ``pixring datagen``: wall time, rows/s and peak RSS of one generation.

    python bench/bench_datagen.py --scale 1
    python bench/bench_datagen.py --scale 20 --format parquet

Runs :func:`datagen.generator.generate` in this process into a temporary directory (removed
afterwards unless ``--out`` is given) and compares with the targets of the issue: scale <= 1 in
<= 15 s; scale 20 (1 M transactions) in <= 3 min and <= 2 GiB peak RSS. Peak RSS is the process
high-water mark (``getrusage``), so it includes the interpreter and imported libraries.
``--strict`` makes a missed target exit with status 1.
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from datagen.generator import generate  # noqa: E402

GIB = 1024 ** 3
#: (max scale, seconds, bytes) - the first row whose scale >= the run's applies
TARGETS = ((1.0, 15.0, None), (20.0, 180.0, 2 * GIB))


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ap.add_argument("--difficulty", default="normal")
    ap.add_argument("--out", type=Path, help="keep the output here (default: a temp dir, removed)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    tmp = None
    if args.out is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_datagen_"))
        out = tmp / "out"
    else:
        out = args.out
    rss_before = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    try:
        report = generate(out, scale=args.scale, seed=args.seed, fmt=args.format,
                          difficulty=args.difficulty, overwrite=True)
        elapsed = time.perf_counter() - t0
        size = _dir_size(out)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    peak = _peak_rss()
    rows = report.total_rows
    tx = report.counts["transacoes_pix"]
    print(f"datagen bench: scale={args.scale:g} seed={args.seed} format={args.format} "
          f"difficulty={args.difficulty} cpus={psutil.cpu_count()}")
    print(f"  rows written      {rows:>14,}  ({tx:,} transactions)")
    print(f"  wall time         {elapsed:>14.1f} s")
    print(f"  throughput        {rows / elapsed:>14,.0f} rows/s  ({tx / elapsed:,.0f} transactions/s)")
    print(f"  peak RSS          {peak / 2**20:>14,.0f} MiB  (at start {rss_before / 2**20:,.0f} MiB)")
    print(f"  output size       {size / 2**20:>14,.1f} MiB")
    ok = True
    for max_scale, secs, mem in TARGETS:
        if args.scale <= max_scale:
            t_ok = elapsed <= secs
            m_ok = mem is None or peak <= mem
            ok = t_ok and m_ok
            mem_txt = f", <= {mem / GIB:.0f} GiB" if mem else ""
            print(f"  target (scale <= {max_scale:g}: <= {secs:.0f} s{mem_txt}): {'PASS' if ok else 'FAIL'}")
            break
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())

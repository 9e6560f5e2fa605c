"""``pixring ingest --check`` benchmark: the dry run over a whole delivery (target: scale 1 in <= 30 s).

    .venv/bin/python bench/bench_check.py --scale 1 --runs 3            # the bank-shaped extract, with its mapping
    .venv/bin/python bench/bench_check.py --scale 1 --runs 3 --plain    # datagen's own files, no mapping

The bank-shaped extract is built from datagen's output by ``tests/lakehouse/bankshape.py`` (E2E ids, opaque
customer ids, punctuated CPFs, date-only columns, ``;`` with decimal commas, Latin-1, the bank's codes and a
mapping file), with ``--broken`` of its rows broken. Each run checks against an empty lakehouse (``--home``,
wiped) in one Spark session; prints seconds per run, their median, and the load average (a shared machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "tests" / "lakehouse"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=None, help="an existing datagen output folder (CSV)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pixring-bench-check"),
                        help="where the bank-shaped extract and the empty lakehouse go")
    parser.add_argument("--broken", type=float, default=0.05, help="share of broken rows in the extract")
    parser.add_argument("--plain", action="store_true", help="check datagen's own files (no mapping)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ingest-runs", type=int, default=0,
                        help="also time `ingest` of the same files (a fresh lakehouse each run), for comparison")
    args = parser.parse_args(argv)

    import bankshape

    from pixring.settings import Settings, get_settings

    main_settings = get_settings()
    data = args.data or args.work / f"raw-scale{args.scale:g}-seed{args.seed}"
    if not (data / "transacoes_pix.csv").exists():
        from datagen.generator import generate

        generate(out=data, scale=args.scale, seed=args.seed, fmt="csv", difficulty="normal", overwrite=True)
    mapping_file = None
    source = data
    if not args.plain:
        clean = args.work / f"bank-scale{args.scale:g}"
        if not (clean / bankshape.MAPPING_NAME).exists():
            bankshape.convert(data, clean)
        source = args.work / f"bank-scale{args.scale:g}-broken{args.broken:g}"
        if not (source / bankshape.MAPPING_NAME).exists():
            bankshape.break_rows(clean, source, fraction=args.broken)
        mapping_file = source / bankshape.MAPPING_NAME

    home = args.work / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "jars").symlink_to(main_settings.paths.jars, target_is_directory=True)
    os.environ["PIXRING_HOME"] = str(home)
    settings = Settings()

    from lakehouse.check import check_files
    from lakehouse.mapping import load_mapping
    from pixring.spark import get_spark

    print(f"bench check: scale {args.scale:g}, {source}, load average {_load()}", flush=True)
    spark = get_spark(settings)
    mapping = load_mapping(mapping_file) if mapping_file else None
    seconds = []
    for run in range(1, args.runs + 1):
        t0 = time.monotonic()
        report = check_files(spark, settings, source, mapping)
        seconds.append(time.monotonic() - t0)
        if run == 1:
            print(report, flush=True)
        print(f"  run {run}: {seconds[-1]:.1f} s (load average {_load()})", flush=True)
        stages = getattr(report, "stages", {})
        if stages:
            print("    " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()), flush=True)
    assert not (home / "lakehouse").exists(), "the dry run wrote a lakehouse"
    print(f"\n== check bench, scale {args.scale:g}: median {statistics.median(seconds):.1f} s of {len(seconds)} "
          f"runs ({', '.join(f'{s:.1f}' for s in seconds)}); target 30 s; load average now {_load()} ==", flush=True)
    if args.ingest_runs:
        from lakehouse.ingest import ingest_files

        took = []
        for run in range(1, args.ingest_runs + 1):
            shutil.rmtree(home / "lakehouse", ignore_errors=True)
            t0 = time.monotonic()
            ingested = ingest_files(spark, settings, source, mapping)
            took.append(time.monotonic() - t0)
            print(f"  ingest run {run}: {took[-1]:.1f} s, {ingested.rows:,d} rows (load average {_load()})", flush=True)
        shutil.rmtree(home / "lakehouse", ignore_errors=True)
        print(f"== ingest of the same files: median {statistics.median(took):.1f} s of {len(took)} runs "
              f"({', '.join(f'{s:.1f}' for s in took)}) ==")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

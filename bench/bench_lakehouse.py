"""Lakehouse benchmark: datagen output -> bronze -> silver -> gold, stage by stage.

    .venv/bin/python bench/bench_lakehouse.py --scale 1            # target: ingest + refine <= 2 min
    .venv/bin/python bench/bench_lakehouse.py --scale 20           # target: <= 15 min

Runs in a lakehouse of its own (``--home``, default ``/tmp/pixring-bench-scale<S>``, wiped first) with the
project's jars; the generated data is reused from ``$PIXRING_HOME/data`` when present. Prints seconds per
stage, rows, and the machine's load average (the machine is shared: a busy neighbour shows up there).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--home", type=Path, default=None, help="bench lakehouse home (wiped)")
    parser.add_argument("--data", type=Path, default=None, help="an existing datagen output folder to use")
    parser.add_argument("--erase", action="store_true", help="also time the erasure of one person")
    args = parser.parse_args(argv)

    from pixring.settings import Settings, get_settings

    main_settings = get_settings()
    data = args.data or main_settings.paths.data / f"raw-scale{args.scale:g}-seed{args.seed}-{args.format}"
    home = args.home or Path(f"/tmp/pixring-bench-scale{args.scale:g}")
    stages: list[tuple[str, float, str]] = []
    print(f"bench lakehouse: scale {args.scale:g}, data {data}, home {home}; load average {_load()}", flush=True)

    if not (data / f"transacoes_pix.{args.format}").exists():
        from datagen.generator import generate

        t0 = time.monotonic()
        report = generate(out=data, scale=args.scale, seed=args.seed, fmt=args.format, difficulty="normal",
                          overwrite=True)
        stages.append(("datagen (not counted)", time.monotonic() - t0, str(report).splitlines()[0]))

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "jars").symlink_to(main_settings.paths.jars, target_is_directory=True)
    os.environ["PIXRING_HOME"] = str(home)
    settings = Settings()

    from lakehouse.ingest import ingest_files
    from lakehouse.refine import refine
    from pixring.spark import get_spark

    t0 = time.monotonic()
    spark = get_spark(settings)
    stages.append(("spark session (not counted)", time.monotonic() - t0, settings.spark.master))

    t0 = time.monotonic()
    ingested = ingest_files(spark, settings, data)
    t_ingest = time.monotonic() - t0
    stages.append(("ingest -> bronze", t_ingest, f"{ingested.rows:,d} rows"))
    print(ingested, flush=True)

    t0 = time.monotonic()
    refined = refine(spark, settings)
    t_refine = time.monotonic() - t0
    rows = refined.silver_rows()
    stages.append(("refine -> silver+gold", t_refine, f"{sum(rows.values()):,d} silver rows"))
    for name, seconds in refined.stages.items():
        stages.append((f"  refine: {name}", seconds, ""))
    print(refined, flush=True)

    t0 = time.monotonic()
    again = ingest_files(spark, settings, data)
    stages.append(("re-ingest (idempotent, not counted)", time.monotonic() - t0, f"{again.rows} new rows"))

    if args.erase:
        from lakehouse.erase import erase

        doc = spark.read.format("delta").load(str(home / "lakehouse" / "bronze" / "usuarios")).first().cpf_cnpj
        t0 = time.monotonic()
        erased = erase(spark, settings, doc)
        stages.append(("erase one person (not counted)", time.monotonic() - t0, f"{erased.total} rows"))

    total = t_ingest + t_refine
    print(f"\n== lakehouse bench, scale {args.scale:g} ({args.format}), {settings.spark.master}, "
          f"load average now {_load()} ==")
    for name, seconds, note in stages:
        print(f"  {name:38s} {seconds:8.1f} s  {note}")
    print(f"  {'datagen output -> gold':38s} {total:8.1f} s")
    print(json.dumps({"scale": args.scale, "ingest_s": round(t_ingest, 1), "refine_s": round(t_refine, 1),
                      "total_s": round(total, 1), "refine_stages": {k: round(v, 1) for k, v in refined.stages.items()},
                      "silver_rows": rows, "load": _load()}))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

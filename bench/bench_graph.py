"""Graph benchmark: ``pixring graph build`` on an existing silver lakehouse, stage by stage.

    .venv/bin/python bench/bench_graph.py --home /tmp/gh --scale 1 --truth /tmp/dg1/_truth   # target <= 2 min
    .venv/bin/python bench/bench_graph.py --home /tmp/gh20 --scale 20                        # target <= 20 min

``--home`` is a ``PIXRING_HOME`` whose silver tables were made by ``pixring ingest`` + ``pixring refine``
(its gold graph tables are rewritten). The build is forced. Reported: Spark start-up (not counted in the
target), the build's wall time per stage, the driver JVM's CPU seconds (the machine is shared: CPU time
says what the build itself cost when a neighbour keeps the cores busy), the load average, and, with
``--runs 2``, a second build in the same (warm) JVM, which is what ``graph rebuild --every`` pays.
With ``--truth`` the ring-detection quality is printed too. ``--json`` writes the figures to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: (max scale, seconds) - the first row whose scale >= the run's applies
TARGETS = ((1.0, 120.0), (20.0, 1200.0))


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def _jvm_cpu(spark) -> float:
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()  # noqa: SLF001
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="PIXRING_HOME with silver tables")
    parser.add_argument("--scale", type=float, default=1.0, help="the data's scale (selects the target)")
    parser.add_argument("--truth", type=Path, default=None, help="datagen _truth folder: also evaluate")
    parser.add_argument("--runs", type=int, default=1, help="builds in the same JVM (2 = also a warm build)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    os.environ["PIXRING_HOME"] = str(args.home)
    from graph.build import build_graph
    from pixring.settings import Settings
    from pixring.spark import get_spark

    settings = Settings()
    target = next((t for s, t in TARGETS if args.scale <= s), TARGETS[-1][1])
    print(f"bench graph: scale {args.scale:g}, home {args.home}; load average {_load()}", flush=True)
    t0 = time.monotonic()
    spark = get_spark(settings)
    startup = time.monotonic() - t0
    print(f"  spark start-up: {startup:.1f} s (not counted)", flush=True)
    results = []
    for i in range(args.runs):
        cpu0, t0 = _jvm_cpu(spark), time.monotonic()
        report = build_graph(spark, settings, force=True)
        wall, cpu = time.monotonic() - t0, _jvm_cpu(spark) - cpu0
        label = "cold" if i == 0 else "warm"
        print(report)
        print(f"  build {i + 1} ({label} JVM): {wall:.1f} s wall, {cpu:.1f} s JVM CPU; load average {_load()}",
              flush=True)
        results.append({"run": i + 1, "jvm": label, "seconds": round(wall, 1), "jvm_cpu_s": round(cpu, 1),
                        "stages": report.stages, "counts": report.counts, "load": _load()})
    quality = None
    if args.truth:
        from graph.evaluate import evaluate

        ev = evaluate(spark, settings, args.truth)
        print(ev)
        quality = ev.as_dict()
    ok = results[0]["seconds"] <= target
    print(f"target: build <= {target:.0f} s at scale {args.scale:g}: first build {results[0]['seconds']:.1f} s "
          f"-> {'met' if ok else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({"scale": args.scale, "startup_s": round(startup, 1), "builds": results,
                                         "target_s": target, "met": ok, "quality": quality}, indent=2, default=str))
    spark.stop()
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())

"""Streaming scorer benchmarks: speed (sustained rate, end-to-end latency) and quality (scale-1 replay).

    .venv/bin/python bench/bench_stream.py speed --rates 1000,2500,5000,7500 --seconds 30
    .venv/bin/python bench/bench_stream.py quality --source var/data/raw-scale1-seed42-csv
    .venv/bin/python bench/bench_stream.py broker-restart --rate 500 --seconds 60   # private broker only
    .venv/bin/pixring bench stream speed ...    # the same from the CLI (any of the three)

The harness is ``bench/stream_harness.py``. All run the scorer as a subprocess in a temporary PIXRING_HOME with their own topics; gold/silver lookups
are linked read-only from the main data root. See docs/streaming.md for the figures.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from bench.stream_harness import main as speed_main
    from bench.stream_harness import run_quality

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--rates", default="1000,2500,5000,7500")
    s.add_argument("--seconds", type=float, default=30.0)
    s.add_argument("--source", default=None)
    s.add_argument("--home", default=None)
    s.add_argument("--model-name", default=None, help="an existing champion (default: register the toy model)")
    q = sub.add_parser("quality")
    q.add_argument("--source", default="var/data/raw-scale1-seed42-csv")
    q.add_argument("--home", default=None)
    q.add_argument("--model-name", default=None, help="default: settings.mlflow.model_name")
    b = sub.add_parser("broker-restart", help="restart a PRIVATE broker under load (never the shared one)")
    b.add_argument("--rate", type=float, default=500.0)
    b.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.what == "speed":
        return speed_main(args)
    if args.what == "broker-restart":
        from bench.stream_harness import run_broker_restart

        run_broker_restart(args.rate, args.seconds)
        return 0
    run_quality(args.source, args.home, args.model_name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

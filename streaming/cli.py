"""``pixring stream``: the scorer (its benchmark is ``pixring bench stream``, ``bench/bench_stream.py``)."""

from __future__ import annotations

import argparse


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _cmd_stream(args: argparse.Namespace) -> int:
    import gc
    import os
    import time

    from pixring.settings import get_settings
    from pixring.spark import get_spark
    from streaming.scorer import run_stream

    settings = get_settings()
    # fair scheduling: the Delta sink's MERGE jobs (their own pool) never queue the scorer's reads behind them
    spark = get_spark(settings, **{"spark.scheduler.mode": "FAIR"})
    # naive datetimes on the driver mean the session's wall clock (collect and Arrow paths agree)
    os.environ["TZ"] = spark.conf.get("spark.sql.session.timeZone")
    time.tzset()
    # a micro-batch allocates ~10 dicts per record that all live until it ends: with the default threshold
    # (700) the collector rescans them over and over (-15 % of the per-record time at 20k records)
    gc.set_threshold(10_000, 50, 100)
    report = run_stream(spark, settings, available_now=args.available_now or args.once,
                        max_seconds=args.max_seconds, allow_no_model=args.allow_no_model,
                        serve_metrics=not args.no_metrics)
    print(report)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``stream`` to the ``pixring`` CLI."""
    p = sub.add_parser("stream", help="score live Pix transactions from Kafka (Structured Streaming)")
    p.add_argument("--available-now", action="store_true", help="score what is in the topic now, then stop")
    p.add_argument("--once", action="store_true", help="same as --available-now")
    p.add_argument("--max-seconds", type=_positive, default=None, help="stop after this many seconds")
    p.add_argument("--allow-no-model", action="store_true",
                   help="start (rules only, score 0) when the registry has no champion yet")
    p.add_argument("--no-metrics", action="store_true", help="do not serve Prometheus metrics")
    p.set_defaults(handler=_cmd_stream)

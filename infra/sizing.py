"""Sizing for Brazil's Pix load (docs/scaling.md): the arithmetic from measured figures.

``python -m infra.sizing plan --stream-per-core N --broker-cpu-s-per-million C --bytes-per-message B``
prints partitions, executors, brokers and storage for a peak rate. The inputs are measured by the
benchmarks: Kafka's by ``pixring bench kafka`` (``bench/bench_kafka.py``: bytes per message, produce and
consume rates, broker CPU seconds per million messages), the scorer's per-core rate by ``pixring bench
stream``, the API's by ``pixring bench api``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

#: a record Pix day (transactions), its average rate and the peak factor the plan is built for
RECORD_DAY_TX = 313_000_000
AVG_TPS = RECORD_DAY_TX / 86_400
PEAK_FACTOR = 5.0


@dataclass
class Plan:
    peak_tps: float
    partitions: int
    executor_cores: int
    executors: int
    broker_cores: float
    brokers: int
    kafka_disk_tb: float
    lakehouse_tb_per_year: float


def plan(peak_tps: float, stream_per_core: float, broker_cpu_s_per_million: float, bytes_per_message: float,
         *, headroom: float = 1.5, cores_per_executor: int = 4, retention_days: int = 7, replication: int = 3,
         parquet_bytes_per_tx: float = 32.0, layers: float = 3.0) -> Plan:
    """The sizes that carry ``peak_tps`` with ``headroom``: executor cores from the scorer's per-core rate,
    partitions a multiple of the cores (one Kafka partition per task) and at least 12, brokers from the
    measured broker CPU (doubled for replication traffic, never fewer than 3), Kafka disk for the
    transactions and scored topics, lakehouse storage for ``layers`` copies of a record day every day."""
    if min(peak_tps, stream_per_core, bytes_per_message) <= 0:
        raise ValueError("rates and sizes must be > 0")
    cores = math.ceil(peak_tps * headroom / stream_per_core)
    executors = math.ceil(cores / cores_per_executor)
    cores = executors * cores_per_executor
    partitions = max(12, cores)
    # per transaction: two messages (pix.transacoes, .scored), each written to `replication` brokers
    broker_cores = peak_tps * headroom * broker_cpu_s_per_million / 1e6 * 2 * replication
    brokers = max(3, math.ceil(broker_cores / 4))
    # transactions + scored (scored ~ the same size); bytes_per_message as stored (compressed) on disk
    daily_bytes = RECORD_DAY_TX * bytes_per_message * 2
    kafka_tb = daily_bytes * retention_days * replication / 1e12
    lake_tb = RECORD_DAY_TX * parquet_bytes_per_tx * layers * 365 / 1e12
    return Plan(peak_tps, partitions, cores, executors, round(broker_cores, 2), brokers, round(kafka_tb, 2),
                round(lake_tb, 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="print the sizes for a peak rate")
    p.add_argument("--peak-tps", type=float, default=AVG_TPS * PEAK_FACTOR)
    p.add_argument("--stream-per-core", type=float, required=True, help="scorer transactions/s per core")
    p.add_argument("--broker-cpu-s-per-million", type=float, required=True)
    p.add_argument("--bytes-per-message", type=float, required=True)
    args = ap.parse_args(argv)
    print(plan(args.peak_tps, args.stream_per_core, args.broker_cpu_s_per_million, args.bytes_per_message))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

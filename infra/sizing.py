"""Sizing for Brazil's Pix load (docs/scaling.md): a Kafka measurement on this machine and the arithmetic.

``python -m infra.sizing measure --source var/data/raw-scale1-seed42-csv -n 200000`` replays real rows
(encoded exactly as ``pixring produce`` does) into a fresh topic of the local broker as fast as it can,
then reads them back, and prints: bytes per message, produce and consume rates, and the broker's CPU
seconds per million messages (its process CPU time over the run, the per-core figure that sizes brokers).

``python -m infra.sizing plan --stream-per-core N`` prints partitions, executors, brokers and storage for
a peak rate, from those figures. The streaming scorer's and the API's per-core rates come from their
own benchmarks (``pixring stream-bench``, the API bench); until measured, ``plan`` takes them as inputs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from pixring.errors import PixringError

#: a record Pix day (transactions), its average rate and the peak factor the plan is built for
RECORD_DAY_TX = 313_000_000
AVG_TPS = RECORD_DAY_TX / 86_400
PEAK_FACTOR = 5.0


@dataclass
class KafkaFigures:
    messages: int
    bytes_per_message: float
    produce_per_s: float
    consume_per_s: float
    broker_cpu_s_per_million: float
    disk_bytes_per_message: float
    repeats: int

    def __str__(self) -> str:
        return "\n".join(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in asdict(self).items())


def _broker_pid(settings) -> int:
    from infra.services import KafkaService

    pid = KafkaService(settings).pid()
    if pid is None:
        raise PixringError("no local Kafka pid file: start it with `pixring up kafka`")
    return pid


def measure_kafka(settings, source: Path, n: int, repeats: int = 3) -> KafkaFigures:
    """Produce ``n`` real transactions (idempotent, acks=all, as ``pixring produce``) and consume them back,
    ``repeats`` times; medians. Uses and then deletes a topic of its own with the topic's production
    partition count of the base manifests (12)."""
    import psutil
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from lakehouse.producer import load_rows, message_value

    table = load_rows(source, n)
    rows = table.to_pylist()
    msgs = [(r["chave_pix_origem"].encode(), message_value(r)) for r in rows]
    size = statistics.fmean(len(k) + len(v) for k, v in msgs)
    broker = psutil.Process(_broker_pid(settings))
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    prod_rates, cons_rates, cpu, disk = [], [], [], []
    data_dir = settings.paths.home / "kafka" / "data"
    for _ in range(repeats):
        topic = f"bench.sizing.{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])[topic].result(30)
        try:
            producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "enable.idempotence": True,
                                 "acks": "all", "linger.ms": 5, "compression.type": "zstd",
                                 "queue.buffering.max.messages": 1_000_000})
            c0 = sum(broker.cpu_times()[:2])
            t0 = time.perf_counter()
            for key, value in msgs:
                while True:
                    try:
                        producer.produce(topic, key=key, value=value)
                        break
                    except BufferError:
                        producer.poll(0.01)
                producer.poll(0)
            if producer.flush(120) != 0:
                raise PixringError("messages left unsent after 120 s")
            prod_rates.append(len(msgs) / (time.perf_counter() - t0))
            # segment bytes on disk (zstd batches as written by the producer), per message
            disk.append(sum(f.stat().st_size for f in data_dir.glob(f"{topic}-*/*.log")) / len(msgs))
            consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": topic,
                                 "auto.offset.reset": "earliest", "enable.auto.commit": False})
            consumer.subscribe([topic])
            got, t1, deadline = 0, time.perf_counter(), time.monotonic() + 120
            while got < len(msgs) and time.monotonic() < deadline:
                batch = consumer.consume(10_000, 0.5)
                got += sum(1 for m in batch if not m.error())
            cons_rates.append(got / (time.perf_counter() - t1))
            consumer.close()
            cpu.append((sum(broker.cpu_times()[:2]) - c0) / len(msgs) * 1e6)
            if got < len(msgs):
                raise PixringError(f"consumed {got} of {len(msgs)} messages")
        finally:
            admin.delete_topics([topic])[topic].result(30)
    return KafkaFigures(len(msgs), size, statistics.median(prod_rates), statistics.median(cons_rates),
                        statistics.median(cpu), statistics.median(disk), repeats)


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
    m = sub.add_parser("measure", help="measure Kafka produce/consume on the local broker")
    m.add_argument("--source", type=Path, required=True, help="a datagen output folder or transacoes_pix file")
    m.add_argument("-n", type=int, default=200_000)
    m.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("plan", help="print the sizes for a peak rate")
    p.add_argument("--peak-tps", type=float, default=AVG_TPS * PEAK_FACTOR)
    p.add_argument("--stream-per-core", type=float, required=True, help="scorer transactions/s per core")
    p.add_argument("--broker-cpu-s-per-million", type=float, required=True)
    p.add_argument("--bytes-per-message", type=float, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "measure":
        from pixring.settings import get_settings

        print(measure_kafka(get_settings(), args.source, args.n, args.repeats))
    else:
        print(plan(args.peak_tps, args.stream_per_core, args.broker_cpu_s_per_million, args.bytes_per_message))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Kafka on this machine, for the sizing arithmetic (``infra/sizing.py``, docs/scaling.md).

    .venv/bin/pixring bench kafka --source var/data/raw-scale1-seed42-csv -n 50000 [--repeats 3]

Replays real rows (encoded exactly as ``pixring produce`` does) into a fresh 12-partition topic of the local
broker as fast as it can, then reads them back, and prints medians: bytes per message, produce and consume
rates, the broker's CPU seconds per million messages (its process CPU time over the run, the per-core
figure that sizes brokers) and bytes on disk per message.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixring.errors import PixringError


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
    from confluent_kafka.admin import NewTopic

    from lakehouse.producer import load_rows, message_value
    from pixring import kafka

    table = load_rows(source, n)
    rows = table.to_pylist()
    msgs = [(r["chave_pix_origem"].encode(), message_value(r)) for r in rows]
    size = statistics.fmean(len(k) + len(v) for k, v in msgs)
    broker = psutil.Process(_broker_pid(settings))
    admin = kafka.admin(settings.kafka)
    prod_rates, cons_rates, cpu, disk = [], [], [], []
    data_dir = settings.paths.home / "kafka" / "data"
    for _ in range(repeats):
        topic = f"bench.sizing.{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])[topic].result(30)
        try:
            producer = kafka.producer(settings.kafka, **{"compression.type": "zstd",
                                                         "queue.buffering.max.messages": 1_000_000})
            c0 = sum(broker.cpu_times()[:2])
            t0 = time.perf_counter()
            for key, value in msgs:
                kafka.send(producer, topic, value, key, wait_s=0.01)
                producer.poll(0)
            if producer.flush(120) != 0:
                raise PixringError("messages left unsent after 120 s")
            prod_rates.append(len(msgs) / (time.perf_counter() - t0))
            # segment bytes on disk (zstd batches as written by the producer), per message
            disk.append(sum(f.stat().st_size for f in data_dir.glob(f"{topic}-*/*.log")) / len(msgs))
            consumer = kafka.consumer(settings.kafka, topic, **{"enable.auto.commit": False})
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="a datagen output folder or transacoes_pix file")
    ap.add_argument("-n", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    from pixring.settings import get_settings

    print(measure_kafka(get_settings(), args.source, args.n, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``pixring produce``: replay ``transacoes_pix`` into Kafka in timestamp order at a steady rate.

Message contract (topic ``settings.kafka.topic_transactions``, default ``pix.transacoes``):

* key: the origin Pix key (so one payer's transactions stay ordered within a partition);
* value: UTF-8 JSON ``{"schema_version": 1, "id_transacao": ..., "timestamp": "YYYY-MM-DDTHH:MM:SS",
  "valor": 123.45, "chave_pix_origem": ..., "chave_pix_destino": ..., "tipo_transacao": ..., "status": ...}``
  (``valor`` a JSON number with at most two decimals; every other field a string, as in the file).

The producer is :func:`pixring.kafka.producer` (idempotent, ``acks=all``: no duplicates or reordering on
retries). Pacing is :class:`pixring.kafka.Pacer`'s schedule: message *i* is not sent before
``start + i / rate``, so the achieved rate is the requested one unless the broker or this process cannot
keep up (then it is reported lower). :func:`load_rows` and :func:`message_value` are what the benchmarks
replay too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lakehouse.schemas import COLUMNS, STREAM_SCHEMA_VERSION
from lakehouse.sources import SourceFile, find_sources
from pixring import kafka
from pixring.contract import TIMESTAMP_FORMAT
from pixring.errors import PixringError
from pixring.settings import Settings

log = logging.getLogger(__name__)

TABLE = "transacoes_pix"


@dataclass
class ProduceReport:
    topic: str
    source: Path
    requested_rate: float
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    seconds: float = 0.0
    first_timestamp: str = ""
    last_timestamp: str = ""

    @property
    def achieved_rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return "\n".join([
            f"produce {self.source} -> kafka topic {self.topic}",
            f"  sent {self.sent:,d}, delivered {self.delivered:,d}, failed {self.failed:,d} in {self.seconds:.2f} s",
            f"  rate: requested {self.requested_rate:,.0f}/s, achieved {self.achieved_rate:,.0f}/s",
            f"  event time {self.first_timestamp} .. {self.last_timestamp}",
        ])


def load_rows(source: Path, limit: int | None):
    """The transactions file as a pyarrow table of strings, sorted by (timestamp, id_transacao)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if source.is_file():
        sf = SourceFile(TABLE, source, "parquet" if source.suffix == ".parquet" else "csv")
    else:
        sf = find_sources(source)[0].get(TABLE)
    if sf is None:
        raise PixringError(f"{source}: no {TABLE}.csv or {TABLE}.parquet")
    cols = COLUMNS[TABLE]
    if sf.fmt == "csv":
        from pyarrow import csv as pacsv

        table = pacsv.read_csv(
            sf.path,
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in cols},
                                                 strings_can_be_null=False, include_columns=cols),
        )
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(sf.path, columns=cols)
        arrays = []
        for name in cols:
            col = table.column(name)
            if pa.types.is_timestamp(col.type):
                col = pc.strftime(col, format=TIMESTAMP_FORMAT)
            arrays.append(col.cast(pa.string()))
        table = pa.table(dict(zip(cols, arrays)))
    table = table.sort_by([("timestamp", "ascending"), ("id_transacao", "ascending")])
    if limit is not None:
        table = table.slice(0, max(0, limit))
    return table


def message_value(row: dict) -> bytes:
    """The ``pix.transacoes`` JSON value of a ``transacoes_pix`` row (strings, as read by :func:`load_rows`)."""
    doc: dict[str, object] = {"schema_version": STREAM_SCHEMA_VERSION}
    for c in COLUMNS[TABLE]:
        v = row[c]
        if c == "valor":
            try:
                v = float(Decimal(v))
            except (InvalidOperation, TypeError, ValueError):
                pass  # sent as found; validation quarantines it downstream
        doc[c] = v
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def produce(settings: Settings, source: Path, rate: float, limit: int | None) -> ProduceReport:
    """Publish the transactions of ``source`` to Kafka at ``rate`` messages per second."""
    if rate <= 0:
        raise PixringError(f"rate must be > 0, got {rate}")
    table = load_rows(Path(source), limit)
    topic = settings.kafka.topic_transactions
    report = ProduceReport(topic=topic, source=Path(source), requested_rate=rate)
    producer = kafka.producer(settings.kafka, **{"message.timeout.ms": 60_000, "queue.buffering.max.messages": 500_000})
    kafka.check_reachable(settings.kafka, producer)

    def on_delivery(err, _msg) -> None:
        if err is None:
            report.delivered += 1
        else:
            report.failed += 1
            if report.failed <= 5:
                log.warning("delivery failed: %s", err)

    n = table.num_rows
    if n:
        report.first_timestamp = table.column("timestamp")[0].as_py()
        report.last_timestamp = table.column("timestamp")[n - 1].as_py()
    pacer = kafka.Pacer(rate, producer)
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            key = (row["chave_pix_origem"] or "").encode("utf-8")
            kafka.send(producer, topic, message_value(row), key, on_delivery=on_delivery)
            pacer.tick()
    report.sent = pacer.sent
    remaining = producer.flush(120)
    report.seconds = pacer.elapsed()
    if remaining:
        report.failed += remaining
    log.info("produced %d to %s at %.0f/s", report.delivered, topic, report.achieved_rate)
    return report

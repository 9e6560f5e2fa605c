"""The Delta sink of the scorer: ``pix.transacoes.scored`` -> ``gold/scored_transactions``, off the latency path.

The scorer (:mod:`streaming.scorer`) decides and publishes every transaction to the scored topic; this second
Structured Streaming query, in the same Spark session, turns those messages back into rows of
:data:`streaming.schemas.SCORED_TRANSACTIONS` and writes them with an insert-only ``MERGE ... ON
id_transacao`` in ``foreachBatch``. The topic is at-least-once (a replayed scorer batch publishes again); the
MERGE makes the table exactly-once per id. Its own checkpoint
(``$PIXRING_HOME/checkpoints/scored_sink_<topic>``) means a kill -9 loses nothing either: what it had not
committed is read again.

Why a second query: a Delta commit costs seconds on a loaded 2-core machine, almost whatever the batch
size. Inside the scorer's batch it set the end-to-end latency (15-45 s); here it runs on its own trigger
(``PIXRING_STREAMING_SINK_TRIGGER_SECONDS``) with bigger batches, in its own fair-scheduler pool.

Feature state: the scorer rebuilds its state from this table at start, so before that it *drains* the topic
(:func:`drain`, an available-now run of this query): every record the previous run published is in the table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.paths import checkpoint_path, slug, table_path
from pixring import ledger, logs
from pixring.contract import ID_RE
from pixring.settings import Settings
from pixring.spark import kafka_stream
from streaming.schemas import SCORED_MESSAGE, SCORED_TABLE, SCORED_TRANSACTIONS

log = logging.getLogger(__name__)

POOL = "scored_sink"
_REQUIRED = tuple(f.name for f in SCORED_TRANSACTIONS.fields if not f.nullable)


def scored_rows(messages: DataFrame) -> DataFrame:
    """Kafka records of the scored topic (``value`` binary) -> rows of ``SCORED_TRANSACTIONS`` plus ``_valida``.

    ``_valida`` is false for a value that is not a scored message (not JSON, a required field missing, or an
    ``id_transacao`` outside the contract's id rule); such a row must not be written (the table's NOT NULL
    columns would reject it, and only ids the scorer accepted belong in the table).
    """
    m = messages.select(F.from_json(F.col("value").cast("string"), SCORED_MESSAGE).alias("m")).select("m.*")
    derived: dict[str, Column] = {
        "timestamp": F.to_timestamp("timestamp"),  # local ISO text in the session time zone, as written
        "data": F.to_date("data"),
        "kafka_timestamp": F.when(F.col("kafka_ts_ms") > 0, F.timestamp_millis("kafka_ts_ms")),
        "pontuado_em": F.timestamp_millis("pontuado_em_ms"),
        # array<string NOT NULL> as the table has it (from_json's elements are nullable; a reason never is null)
        "motivos": F.transform("motivos", lambda x: F.coalesce(x, F.lit(""))),
    }
    cols = [derived.get(f.name, F.col(f.name)).alias(f.name) for f in SCORED_TRANSACTIONS.fields]
    out = m.select(*cols)
    valid = id_rule(F.col("id_transacao"))
    for name in _REQUIRED:
        valid = valid & F.col(name).isNotNull()
    return out.withColumn("_valida", valid)


def id_rule(c: Column) -> Column:
    """:func:`pixring.contract.is_valid_id` as a Column (false, not null, for a null id); the contract's
    pattern ends without ``$``, so Spark and Python accept exactly the same ids."""
    return F.coalesce(c.rlike(ID_RE), F.lit(False))


@dataclass
class SinkReport:
    batches: int = 0
    messages: int = 0
    inserted: int = 0
    invalid: int = 0


class DeltaSink:
    """The ``foreachBatch`` of the sink query: de-duplicate by id, insert-only MERGE into the table."""

    def __init__(self, spark: SparkSession, settings: Settings, metrics=None) -> None:
        self.spark = spark
        self.path = table_path(settings, "gold", SCORED_TABLE)
        self.metrics = metrics
        self.report = SinkReport()
        self.erased = ledger.ErasedCache(settings)

    def __call__(self, batch: DataFrame, epoch_id: int) -> None:
        with logs.bind(f"sink-b{epoch_id}"):
            self._process(batch, epoch_id)

    def _process(self, batch: DataFrame, epoch_id: int) -> None:
        from delta.tables import DeltaTable

        t0 = time.monotonic()
        rows = scored_rows(batch).persist()
        try:
            ok = F.col("_valida")
            stats = rows.agg(F.count(F.lit(1)).alias("n"), F.sum(F.when(~ok, 1).otherwise(0)).alias("bad"),
                             F.min(F.when(ok, F.col("id_transacao"))).alias("lo"),
                             F.max(F.when(ok, F.col("id_transacao"))).alias("hi")).first()
            n, bad = int(stats["n"]), int(stats["bad"] or 0)
            inserted = 0
            if n - bad > 0:
                source = rows.filter(F.col("_valida")).drop("_valida").dropDuplicates(["id_transacao"])
                source = ledger.without_erased(source, self.erased.get())  # the erasure ledger
                # the id range lets Delta skip files by their min/max statistics (ids grow with time); the
                # bounds are literals of a Column expression, never SQL text
                target = F.col("t.id_transacao")
                condition = (target.between(F.lit(stats["lo"]), F.lit(stats["hi"]))
                             & (target == F.col("s.id_transacao")))
                result = (
                    DeltaTable.forPath(self.spark, self.path).alias("t")
                    .merge(source.alias("s"), condition)
                    .whenNotMatchedInsertAll()
                    .execute().first()
                )
                inserted = int(result["num_inserted_rows"])
        finally:
            rows.unpersist()
        if bad:
            log.warning("epoch %d: %d messages on the scored topic are not scored rows (skipped)", epoch_id, bad)
        rep = self.report
        rep.batches += 1
        rep.messages += n
        rep.inserted += inserted
        rep.invalid += bad
        if self.metrics is not None:
            self.metrics.sink_rows.labels("inserted").inc(inserted)
            self.metrics.sink_rows.labels("duplicate").inc(max(0, n - bad - inserted))
            self.metrics.sink_rows.labels("invalid").inc(bad)
            self.metrics.sink_seconds.observe(time.monotonic() - t0)
        log.info("epoch %d: %d scored messages -> %d new rows in %s (%.2f s)", epoch_id, n, inserted, SCORED_TABLE,
                 time.monotonic() - t0)


def start(spark: SparkSession, settings: Settings, sink: DeltaSink, *, available_now: bool = False):
    """Start the sink query (in its own fair-scheduler pool); returns the ``StreamingQuery``."""
    k, ss = settings.kafka, settings.streaming
    safe = slug(k.topic_scored)
    # failOnDataLoss off: a scored record past retention (or a recreated topic) is gone either way; never wedge
    source = kafka_stream(spark, settings, k.topic_scored, ss.sink_max_offsets_per_trigger,
                          fail_on_data_loss=False).select("value")
    writer = (source.writeStream.queryName(f"scored_sink_{safe}").foreachBatch(sink)
              .option("checkpointLocation", checkpoint_path(settings, f"scored_sink_{safe}")))
    writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
        processingTime=f"{ss.sink_trigger_seconds:g} seconds")
    sc = spark.sparkContext
    previous = sc.getLocalProperty("spark.scheduler.pool")
    sc.setLocalProperty("spark.scheduler.pool", POOL)  # the query's thread inherits it at start
    try:
        return writer.start()
    finally:
        sc.setLocalProperty("spark.scheduler.pool", previous)


def drain(spark: SparkSession, settings: Settings, sink: DeltaSink | None = None) -> SinkReport:
    """Write every record now on the scored topic into the table (an available-now run of the sink)."""
    sink = sink or DeltaSink(spark, settings)
    before = SinkReport(**vars(sink.report))
    query = start(spark, settings, sink, available_now=True)
    query.awaitTermination()
    if query.exception() is not None:
        raise query.exception()
    r = sink.report
    return SinkReport(r.batches - before.batches, r.messages - before.messages, r.inserted - before.inserted,
                      r.invalid - before.invalid)

"""Bronze ingestion: datagen files (``pixring ingest --from DIR``) and the Kafka stream (``--stream``).

Files: each of the seven files is fingerprinted (sha256 of its content, combined with the file's part of
the mapping when ``--mapping`` is given: :func:`lakehouse.sources.batch_fingerprint`); a fingerprint
already in the ingest log is skipped, so re-ingesting the same file adds nothing. A CSV file that is not
valid in its declared encoding is refused (the error names the line) before anything is written. A new file is appended to its bronze
table as text with ``_source_file``, ``_ingested_at``, ``_batch_id`` (``<table>-<sha256[:16]>``) and
``_record_hash``. The append is also a Delta idempotent write (``txnAppId`` = the fingerprint): if a run
dies between the bronze commit and the ingest-log commit, the next run's append is a no-op and the log
entry is recovered.

Stream: ``pix.transacoes`` is read with Structured Streaming and every micro-batch is MERGEd into
``bronze/transacoes_pix_stream`` on (topic, partition, offset) – insert only – with a checkpoint. A batch
replayed after a crash (kill -9) therefore inserts nothing twice, and the checkpoint makes sure no offset
is skipped. Records are kept raw (the value as text); parsing and validation happen at refine.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import operator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import delta
from lakehouse.paths import checkpoint_path, table_path
from lakehouse.schemas import (
    BRONZE,
    BRONZE_STREAM,
    COLUMNS,
    INGEST_LOG,
    INGEST_LOG_TABLE,
    STREAM_TABLE,
)
from lakehouse.mapping import Mapping
from lakehouse.sources import SourceFile, batch_fingerprint, find_sources, fingerprint, read_source
from pixring import kafka
from pixring.errors import PixringError
from pixring.settings import Settings
from pixring.spark import kafka_stream

log = logging.getLogger(__name__)

#: Data-skipping statistics only on metadata: min/max of PII columns would be copied into the Delta log.
_BRONZE_PROPS = {"delta.appendOnly": "true", "delta.dataSkippingStatsColumns": "_batch_id,_ingested_at"}
MAX_STREAM_ATTEMPTS = 3
_STREAM_PROPS = {
    "delta.appendOnly": "true",
    "delta.dataSkippingStatsColumns": "_kafka_topic,_kafka_partition,_kafka_offset,_batch_id,_ingested_at",
}


@dataclass
class FileResult:
    table: str
    source: str
    status: str  # ingested | skipped | recovered | missing
    rows: int = 0
    batch_id: str = ""
    bronze_version: int = -1


@dataclass
class IngestReport:
    source: Path
    files: list[FileResult] = field(default_factory=list)
    lakehouse_version: int = -1
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files if f.status == "ingested")

    def __str__(self) -> str:
        lines = [f"ingest {self.source} -> bronze ({self.seconds:.1f} s)"]
        lines.append(f"  {'table':20s} {'status':10s} {'rows':>10s}  batch")
        for f in self.files:
            lines.append(f"  {f.table:20s} {f.status:10s} {f.rows:>10,d}  {f.batch_id}")
        lines.append(f"  {self.rows:,d} new rows; lakehouse version {self.lakehouse_version} "
                     f"(refine --as-of-version {self.lakehouse_version} rebuilds from exactly this bronze)")
        return "\n".join(lines)


def ensure_bronze(spark: SparkSession, settings: Settings) -> None:
    """Create the bronze tables and the ingest log if missing."""
    for name, schema in BRONZE.items():
        delta.ensure_table(spark, table_path(settings, "bronze", name), schema, properties=_BRONZE_PROPS)
    delta.ensure_table(spark, table_path(settings, "bronze", STREAM_TABLE), BRONZE_STREAM, properties=_STREAM_PROPS)
    delta.ensure_table(spark, table_path(settings, "bronze", INGEST_LOG_TABLE), INGEST_LOG)


def record_hash(columns: list[str]) -> F.Column:
    """sha256 over the record's fields (NULL-safe, unit-separator joined)."""
    parts = [F.coalesce(F.col(c), F.lit("\u0000")) for c in columns]
    return F.sha2(F.concat_ws("\u001f", *parts), 256)


def with_metadata(
    df: DataFrame, table: str, source: str, batch_id: str, ingested_at: datetime, keep: tuple[str, ...] = ()
) -> DataFrame:
    """Bronze rows: contract columns as text + ``_malformed_line`` + ingestion metadata, in schema order
    (then the ``keep`` columns, for a dry run)."""
    cols = COLUMNS[table]
    return df.select(
        *cols,
        "_malformed_line",
        F.lit(source).alias("_source_file"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        record_hash([*cols, "_malformed_line"]).alias("_record_hash"),
        *keep,
    )


def _log_rows(spark: SparkSession, settings: Settings, rows: list[dict]) -> int:
    """Append entries to the ingest log; returns the log's new version (the lakehouse version)."""
    path = table_path(settings, "bronze", INGEST_LOG_TABLE)
    if rows:
        spark.createDataFrame(rows, INGEST_LOG).write.format("delta").mode("append").save(path)
    return delta.latest_version(spark, path)


def _ingested_fingerprints(spark: SparkSession, settings: Settings) -> set[tuple[str, str]]:
    path = table_path(settings, "bronze", INGEST_LOG_TABLE)
    log_df = delta.read(spark, path, INGEST_LOG).filter(F.col("sha256").isNotNull())
    return {(r.bronze_table, r.sha256) for r in log_df.select("bronze_table", "sha256").distinct().collect()}


def _ingest_one(spark: SparkSession, settings: Settings, sf: SourceFile, sha: str, now: datetime) -> FileResult:
    path = table_path(settings, "bronze", sf.table)
    batch_id = f"{sf.table}-{sha[:16]}"
    rows = with_metadata(read_source(spark, sf), sf.table, str(sf.path.resolve()), batch_id, now)
    (
        rows.write.format("delta").mode("append")
        .option("txnAppId", f"pixring-ingest-{sha}").option("txnVersion", 0)
        .option("userMetadata", batch_id)
        .save(path)
    )
    version, metrics, tag = _last_commit_tagged(spark, path)
    if tag == batch_id:  # our commit (or, after a crash, the earlier run's commit of the same file)
        return FileResult(sf.table, str(sf.path), "ingested", int(metrics.get("numOutputRows", 0)), batch_id, version)
    # the idempotent write was skipped and other commits followed: count what the earlier run landed
    n = delta.read(spark, path, BRONZE[sf.table]).filter(F.col("_batch_id") == batch_id).count()
    return FileResult(sf.table, str(sf.path), "recovered", n, batch_id, version)


def _last_commit_tagged(spark: SparkSession, path: str) -> tuple[int, dict[str, str], str | None]:
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("version", "operationMetrics", "userMetadata").first()
    return int(row["version"]), dict(row["operationMetrics"] or {}), row["userMetadata"]


def source_files(source: Path, mapping: Mapping | None) -> tuple[dict[str, tuple[SourceFile, str, int]], list[str]]:
    """The input files by table with their batch fingerprint and size (every CSV checked against its declared
    encoding first), and the tables without a file."""
    found, missing = find_sources(Path(source), mapping)
    out = {}
    for table, sf in found.items():
        content, size = fingerprint(sf)
        out[table] = (sf, batch_fingerprint(sf, content), size)
    return out, missing


def ingest_files(spark: SparkSession, settings: Settings, source: Path, mapping: Mapping | None = None) -> IngestReport:
    """Land the files found in ``source`` in bronze (append-only, idempotent per file content and mapping)."""
    import time

    t0 = time.monotonic()
    found, missing = source_files(Path(source), mapping)
    ensure_bronze(spark, settings)
    done = _ingested_fingerprints(spark, settings)
    report = IngestReport(Path(source))
    entries: list[dict] = []
    now = datetime.now().replace(microsecond=0)
    todo: dict[str, tuple[SourceFile, str, int]] = {}
    for table, (sf, sha, size) in found.items():
        if (table, sha) in done:
            report.files.append(FileResult(table, str(sf.path), "skipped", 0, f"{table}-{sha[:16]}"))
        else:
            todo[table] = (sf, sha, size)
    results = delta.run_parallel(
        {t: (lambda sf=sf, sha=sha: _ingest_one(spark, settings, sf, sha, now)) for t, (sf, sha, _) in todo.items()},
        settings.lakehouse.parallelism,
    )
    for table, (sf, sha, size) in todo.items():
        result = results[table]
        report.files.append(result)
        entries.append({
            "bronze_table": table, "kind": "file", "source": str(sf.path.resolve()), "sha256": sha,
            "bytes": size, "rows": result.rows, "batch_id": result.batch_id,
            "bronze_version": result.bronze_version, "ingested_at": now, "status": result.status,
        })
        log.info("bronze %s: %s %d rows (%s)", table, result.status, result.rows, result.batch_id)
    for table in missing:
        report.files.append(FileResult(table, "-", "missing"))
    report.lakehouse_version = _log_rows(spark, settings, entries)
    report.seconds = time.monotonic() - t0
    return report


# ------------------------------------------------------------------------------------------- stream
def stream_rows(batch: DataFrame, batch_id: str, ingested_at: datetime) -> DataFrame:
    """Kafka source rows -> bronze stream rows (raw value as text, coordinates, metadata)."""
    value = F.col("value").cast("string")
    return batch.select(
        F.col("topic").alias("_kafka_topic"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        F.col("key").cast("string").alias("_kafka_key"),
        value.alias("_raw_value"),
        F.concat(F.lit("kafka://"), F.col("topic"), F.lit("/"), F.col("partition").cast("string")).alias("_source_file"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(batch_id).alias("_batch_id"),
        F.sha2(F.coalesce(value, F.lit("\u0000")), 256).alias("_record_hash"),
    )


class _StreamBatchWriter:
    """``foreachBatch`` sink: insert-only MERGE on (topic, partition, offset), then an ingest-log entry."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self.spark = spark
        self.settings = settings
        self.path = table_path(settings, "bronze", STREAM_TABLE)

    def __call__(self, batch: DataFrame, epoch_id: int) -> None:
        from delta.tables import DeltaTable

        batch = batch.persist()
        try:
            ranges = (
                batch.groupBy("topic", "partition")
                .agg(F.min("offset").alias("lo"), F.max("offset").alias("hi"))
                .orderBy("topic", "partition").collect()
            )
            if not ranges:
                return
            spec = ",".join(f"{r.topic}/{r.partition}:{r.lo}-{r.hi}" for r in ranges)
            batch_id = f"stream-{epoch_id}-{hashlib.sha1(spec.encode()).hexdigest()[:10]}"
            now = datetime.now().replace(microsecond=0)
            rows = stream_rows(batch, batch_id, now)
            # only the target files that can hold these offsets are scanned (data skipping on the offset stats);
            # a Column expression with literals, never SQL text built from the batch
            prune = functools.reduce(operator.or_, [
                (F.col("t._kafka_topic") == F.lit(r.topic)) & (F.col("t._kafka_partition") == F.lit(r.partition))
                & F.col("t._kafka_offset").between(F.lit(r.lo), F.lit(r.hi)) for r in ranges])
            same = [F.col(f"t.{c}") == F.col(f"s.{c}") for c in ("_kafka_topic", "_kafka_partition", "_kafka_offset")]
            metrics = (
                DeltaTable.forPath(self.spark, self.path).alias("t")
                .merge(rows.alias("s"), functools.reduce(operator.and_, same, prune))
                .whenNotMatchedInsertAll()
                .execute().first()
            )
            inserted = int(metrics["num_inserted_rows"])
            version = delta.latest_version(self.spark, self.path)
            _log_rows(self.spark, self.settings, [{
                "bronze_table": STREAM_TABLE, "kind": "stream", "source": f"kafka://{spec}", "sha256": None,
                "bytes": None, "rows": inserted, "batch_id": batch_id, "bronze_version": version,
                "ingested_at": now, "status": "ingested",
            }])
            log.info("bronze %s: epoch %d %s -> %d new rows", STREAM_TABLE, epoch_id, spec, inserted)
        finally:
            batch.unpersist()


def ingest_stream(spark: SparkSession, settings: Settings, available_now: bool) -> None:
    """Stream ``pix.transacoes`` into ``bronze/transacoes_pix_stream`` (runs until stopped, or until the
    records available now are in with ``available_now``)."""
    from pyspark.errors import StreamingQueryException

    lh = settings.lakehouse
    ensure_bronze(spark, settings)
    topic = settings.kafka.topic_transactions
    kafka.ensure_topic(settings.kafka, topic)
    source = kafka_stream(spark, settings, topic, lh.stream_max_offsets_per_trigger)
    checkpoint = checkpoint_path(settings, f"bronze_{STREAM_TABLE}")
    log.info("streaming %s -> bronze/%s (checkpoint %s)", topic, STREAM_TABLE, checkpoint)
    error = None
    for attempt in range(1, MAX_STREAM_ATTEMPTS + 1):
        writer = (
            source.writeStream.queryName(f"bronze_{STREAM_TABLE}")
            .foreachBatch(_StreamBatchWriter(spark, settings))
            .option("checkpointLocation", checkpoint)
        )
        writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
            processingTime=f"{lh.stream_trigger_seconds:g} seconds")
        query = writer.start()
        try:
            query.awaitTermination()
        except KeyboardInterrupt:
            query.stop()
            return
        except StreamingQueryException:
            pass  # inspected below
        error = query.exception()
        if error is None:
            return
        # The sink is idempotent (MERGE on offsets) and the checkpoint consistent, so a restart is always safe.
        # Spark 4.1's Kafka source can fail *after* committing a batch replayed from the checkpoint (a NULL in
        # its progress metrics) – the restart then simply carries on.
        log.warning("stream attempt %d/%d failed (%s); restarting from the checkpoint", attempt,
                    MAX_STREAM_ATTEMPTS, str(error).splitlines()[0][:300])
    raise PixringError(f"stream ingestion failed {MAX_STREAM_ATTEMPTS} times; last error: "
                       f"{str(error).splitlines()[0][:300]}")


"""Small Delta Lake helpers shared by the jobs: create a table once, read it (also as of a version or a
timestamp), upsert with MERGE, overwrite, OPTIMIZE/Z-ORDER and VACUUM.

Every table is created with deletion vectors off (a DELETE or MERGE rewrites the data files, so after
VACUUM an erased row is physically gone) and, where it holds clear PII, with data-skipping statistics
restricted to metadata columns (min/max values of PII columns would otherwise be copied into the
transaction log, which VACUUM does not clean).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, Final, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

log = logging.getLogger(__name__)
T = TypeVar("T")

BASE_PROPERTIES: dict[str, str] = {"delta.enableDeletionVectors": "false"}


def is_table(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, path))


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: StructType,
    *,
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
    checks: Mapping[str, str] | None = None,
) -> bool:
    """Create the Delta table at ``path`` (NOT NULL from the schema, CHECK constraints) unless it exists.

    The CHECK constraints are part of the creating commit (``delta.constraints.<name>``, exactly what
    ``ALTER TABLE ... ADD CONSTRAINT`` records), so a new table costs one commit. Returns True when created.
    """
    from delta.tables import DeltaTable

    if is_table(spark, path):
        return False
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    constraints = {f"delta.constraints.{name}": expr for name, expr in (checks or {}).items()}
    for key, value in {**BASE_PROPERTIES, **(properties or {}), **constraints}.items():
        builder = builder.property(key, value)
    builder.execute()
    log.info("created %s", path)
    return True


def empty(spark: SparkSession, schema: StructType) -> DataFrame:
    return spark.createDataFrame([], schema)


def read(
    spark: SparkSession,
    path: str,
    schema: StructType,
    *,
    version: int | None = None,
    timestamp: str | None = None,
) -> DataFrame:
    """The table (optionally time-travelled); an empty frame of ``schema`` when it does not exist (yet)."""
    if not is_table(spark, path):
        return empty(spark, schema)
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    elif timestamp is not None:
        reader = reader.option("timestampAsOf", timestamp)
    return reader.load(path)


def latest_version(spark: SparkSession, path: str) -> int:
    """The table's latest version from the names of its ``_delta_log/*.json`` commit files, through the Hadoop
    FileSystem API (any storage Spark reaches) – no Spark job. -1 when there is no table."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - py4j has no public accessor
    log_dir = jvm.org.apache.hadoop.fs.Path(path.rstrip("/") + "/_delta_log")
    fs = log_dir.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001
    if not fs.exists(log_dir):
        return -1
    versions = [
        int(name[:-5]) for name in (status.getPath().getName() for status in fs.listStatus(log_dir))
        if name.endswith(".json") and name[:-5].isdigit()
    ]
    return max(versions, default=-1)


@contextlib.contextmanager
def commit_metadata(spark: SparkSession, metadata: Mapping[str, Any]) -> Iterator[None]:
    """Attach ``metadata`` (JSON) as ``userMetadata`` to every Delta commit inside the block."""
    key = "spark.databricks.delta.commitInfo.userMetadata"
    previous = spark.conf.get(key, None)
    spark.conf.set(key, json.dumps(dict(metadata), sort_keys=True, default=str))
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)


@contextlib.contextmanager
def session_conf(spark: SparkSession, conf: Mapping[str, str]) -> Iterator[None]:
    """Set Spark SQL conf for the block and restore the previous values after."""
    previous = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


def run_parallel(tasks: Mapping[str, Callable[[], T]], workers: int) -> dict[str, T]:
    """Run independent Spark jobs (thunks) on ``workers`` threads; results by name, first error re-raised."""
    if workers <= 1 or len(tasks) <= 1:
        return {name: fn() for name, fn in tasks.items()}
    with ThreadPoolExecutor(max_workers=min(workers, len(tasks)), thread_name_prefix="lakehouse") as pool:
        futures = {name: pool.submit(fn) for name, fn in tasks.items()}
        return {name: f.result() for name, f in futures.items()}


def _changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)


def upsert(spark: SparkSession, path: str, source: DataFrame, keys: Sequence[str]) -> dict[str, int]:
    """MERGE ``source`` into the table so that it ends up equal to ``source``.

    New natural ids are inserted, changed rows updated (a key whose status changed, a new limit), rows no
    longer present deleted (an erasure upstream, a row now quarantined). Unchanged rows are not rewritten.
    Returns the MERGE metrics (inserted / updated / deleted).
    """
    from delta.tables import DeltaTable

    cols = source.columns
    others = [c for c in cols if c not in keys]
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    metrics = (
        DeltaTable.forPath(spark, path).alias("t")
        .merge(source.alias("s"), on)
        .whenMatchedUpdate(condition=_changed(others), set={c: f"s.`{c}`" for c in cols})
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete()
        .execute()
        .first()
    )
    return {
        "inserted": int(metrics["num_inserted_rows"]),
        "updated": int(metrics["num_updated_rows"]),
        "deleted": int(metrics["num_deleted_rows"]),
    }


def overwrite(df: DataFrame, path: str) -> None:
    df.write.format("delta").mode("overwrite").save(path)


def optimize_zorder(spark: SparkSession, path: str, columns: Sequence[str]) -> None:
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).optimize().executeZOrderBy(*columns)


#: The table properties a job may change on an existing table, each with the values it may take: a closed list
#: of constants. ``delta.appendOnly`` is lifted around an erasure of an append-only bronze table and set again.
MUTABLE_PROPERTIES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {"delta.appendOnly": frozenset({"true", "false"})}
)


def set_properties_statement(path: str, properties: Mapping[str, str]) -> str:
    """The ``ALTER TABLE delta.`<path>` SET TBLPROPERTIES (...)`` text for :func:`set_properties`.

    Neither Spark nor delta-spark 4.4.0 offers a way without SQL text (the Python ``DeltaTable`` API has no
    property setter; Spark 4.1 refuses a bound ``IDENTIFIER(:path)`` in ``ALTER TABLE``:
    NOT_A_CONSTANT_STRING), so no datum may reach the text: every key and value must be one of
    :data:`MUTABLE_PROPERTIES` (constants, refused otherwise), and the path must be an absolute local path (the
    settings' data root is resolved) without control characters or back-quotes, so it cannot leave the
    back-quoted identifier (doubling a back-quote would not help: Delta cannot create a table at such a path).
    """
    if not properties:
        raise ValueError("no table property to set")
    for key, value in properties.items():
        allowed = MUTABLE_PROPERTIES.get(key)
        if allowed is None:
            raise ValueError(f"table property {key!r} is not one a job may change: {sorted(MUTABLE_PROPERTIES)}")
        if value not in allowed:
            raise ValueError(f"value {value!r} is not allowed for {key}: {sorted(allowed)}")
    if not isinstance(path, str) or not path.startswith("/") or any(ord(c) < 32 or c in "`\x7f" for c in path):
        raise ValueError(f"not an absolute local table path: {path!r}")
    props = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())  # allow-listed constants only
    return f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({props})"


def set_properties(spark: SparkSession, path: str, properties: Mapping[str, str]) -> None:
    """Set allow-listed table properties (:data:`MUTABLE_PROPERTIES`) of the Delta table at ``path``."""
    spark.sql(set_properties_statement(path, properties))


def vacuum_conf(spark: SparkSession, retention_hours: float) -> contextlib.AbstractContextManager[None]:
    """Session settings for VACUUM (set once around a batch of VACUUMs, also when they run in threads).

    Below Delta's 168 h safety floor the retention check is lifted. VACUUM lists files with
    ``spark.sql.sources.parallelPartitionDiscovery.parallelism`` tasks (default 10,000: minutes of pure
    scheduling on a small machine); it is bounded by the shuffle partitions here. Delta's own VACUUM
    START/END commits are off (two extra commits per table); the erasure's deletes carry their own commit
    metadata and the erase report lists every table.
    """
    conf = {"spark.sql.sources.parallelPartitionDiscovery.parallelism":
            str(max(2, int(spark.conf.get("spark.sql.shuffle.partitions", "8")))),
            "spark.databricks.delta.vacuum.logging.enabled": "false"}
    if retention_hours < 168:
        conf["spark.databricks.delta.retentionDurationCheck.enabled"] = "false"
    return session_conf(spark, conf)


def vacuum(spark: SparkSession, path: str, retention_hours: float) -> None:
    """``VACUUM ... RETAIN n HOURS`` (inside :func:`vacuum_conf`), through the DeltaTable API (no SQL text)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).vacuum(retention_hours)

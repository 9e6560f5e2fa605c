"""The one Spark factory: ``get_spark(settings)`` wires Delta Lake, the Kafka source/sink and GraphX.

Jars come from ``$PIXRING_CACHE/jars/spark`` (resolved by mvn, see :mod:`infra.jars`) and are handed to
Spark as ``spark.jars``. Jobs receive the session as an argument; nothing else creates one.

The console: unless the command runs with ``-v`` (the root logger at DEBUG), the driver's JVM logs through
``pixring/log4j2.properties`` (errors only) and the session's level is ``ERROR``, so a command shows
pixring's own lines; with ``-v`` Spark keeps its defaults and ``PIXRING_SPARK_LOG_LEVEL``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pyspark.sql import SparkSession

from pixring.contract import TIMEZONE
from pixring.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: the quiet log4j2 configuration of the driver JVM
LOG4J2_PROPERTIES = Path(__file__).with_name("log4j2.properties")


def get_spark(settings: Settings | None = None, **extra_conf: str) -> SparkSession:
    """Build (or return the running) Spark session with Delta and Kafka wired.

    Args:
        settings: the pixring settings (default: :func:`get_settings`).
        **extra_conf: more Spark conf, e.g. ``{"spark.sql.shuffle.partitions": "2"}`` in tests
            (underscores in keys are not translated: pass them with ``**{"spark.x": "y"}``).
    """
    from infra.jars import classpath

    settings = settings or get_settings()
    sp = settings.spark
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    jars = ",".join(str(p) for p in [*classpath("spark"), *classpath("graphx")])
    warehouse = settings.paths.home / "spark-warehouse"
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    java_opts = f"-Dderby.system.home={settings.paths.home}"
    if not verbose:
        java_opts += f" -Dlog4j2.configurationFile={LOG4J2_PROPERTIES.as_uri()}"
    builder = (
        SparkSession.builder.master(sp.master)
        .appName(sp.app_name)
        .config("spark.jars", jars)
        .config("spark.driver.memory", sp.driver_memory)
        .config("spark.sql.shuffle.partitions", str(sp.shuffle_partitions))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.session.timeZone", TIMEZONE)
        .config("spark.ui.enabled", str(sp.ui_enabled).lower())
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.databricks.delta.retentionDurationCheck.enabled", "true")
        # Delta replays its log with this many partitions (default 50): far too many on a small machine
        .config("spark.databricks.delta.snapshotPartitions", str(sp.delta_snapshot_partitions))
        .config("spark.ui.showConsoleProgress", "false")
        # Hadoop's local file system applies its own umask (default 022): files 0600, folders 0700 as the
        # process's (pixring.security)
        .config("spark.hadoop.fs.permissions.umask-mode", "077")
    )
    for key, value in extra_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(sp.log_level if verbose else "ERROR")
    log.debug("spark %s master=%s", spark.version, sp.master)
    return spark


def kafka_stream(spark: SparkSession, settings: Settings, topic: str, max_offsets_per_trigger: int,
                 *, fail_on_data_loss: bool = True):
    """A Structured Streaming Kafka source on ``topic`` from the earliest offset (the checkpoint says where
    a restarted query resumes), at most ``max_offsets_per_trigger`` records per micro-batch."""
    from pixring import kafka

    return (
        spark.readStream.format("kafka")
        .options(**kafka.spark_options(settings.kafka))
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", str(fail_on_data_loss).lower())
        .option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
        .load()
    )

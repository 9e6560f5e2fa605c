"""The one Spark factory: ``get_spark(settings)`` wires Delta Lake, the Kafka source/sink and GraphX.

Jars come from ``$PIXRING_HOME/jars/spark`` (resolved by mvn, see :mod:`infra.jars`) and are handed to
Spark as ``spark.jars``. Jobs receive the session as an argument; nothing else creates one.
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession

from pixring.settings import Settings, get_settings

log = logging.getLogger(__name__)


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
    builder = (
        SparkSession.builder.master(sp.master)
        .appName(sp.app_name)
        .config("spark.jars", jars)
        .config("spark.driver.memory", sp.driver_memory)
        .config("spark.sql.shuffle.partitions", str(sp.shuffle_partitions))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.session.timeZone", "America/Sao_Paulo")
        .config("spark.ui.enabled", str(sp.ui_enabled).lower())
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={settings.paths.home}")
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
    spark.sparkContext.setLogLevel(sp.log_level)
    log.debug("spark %s master=%s", spark.version, sp.master)
    return spark


def kafka_stream(spark: SparkSession, settings: Settings, topic: str, max_offsets_per_trigger: int,
                 *, fail_on_data_loss: bool = True):
    """A Structured Streaming Kafka source on ``topic`` from the earliest offset (the checkpoint says where
    a restarted query resumes), at most ``max_offsets_per_trigger`` records per micro-batch."""
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka.bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", str(fail_on_data_loss).lower())
        .option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
        .load()
    )

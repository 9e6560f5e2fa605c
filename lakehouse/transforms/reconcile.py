"""Reconciliation: for every bronze table and batch, bronze rows = silver + quarantine + duplicates + conflicts.

The right-hand counts come from three different places – the silver tables as written (their
``_batch_id`` lineage), the quarantine table as written (split into rows that failed a rule and the
versions of conflicting ids, ``conflict:<id column>``), and the deduplication step – so the equation is
a real check that no row was lost or invented between bronze and silver.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.transforms.validate import is_conflict


def reconcile(bronze_counts: DataFrame, silver_batches: DataFrame, quarantine: DataFrame) -> DataFrame:
    """One row per (bronze_table, batch_id): bronze, silver, quarantine, duplicates, conflicts, ok.

    Args:
        bronze_counts: ``_bronze_table, _batch_id, bronze, duplicates`` (from classification).
        silver_batches: the ``_batch_id`` column of every silver table, one row per silver row.
        quarantine: the quarantine table (``bronze_table, batch_id, reasons``).
    """

    b = bronze_counts.select(
        F.col("_bronze_table").alias("bronze_table"), F.col("_batch_id").alias("batch_id"), "bronze", "duplicates"
    )
    s = silver_batches.groupBy(F.col("_batch_id").alias("batch_id")).agg(F.count(F.lit(1)).alias("silver"))
    conflict = is_conflict(F.col("reasons"))
    q = quarantine.groupBy("bronze_table", "batch_id").agg(
        F.sum(F.when(conflict, 0).otherwise(1)).alias("quarantine"),
        F.sum(F.when(conflict, 1).otherwise(0)).alias("conflicts"),
    )
    joined = b.join(s, "batch_id", "full_outer").join(q, ["bronze_table", "batch_id"], "full_outer")
    counts = {c: F.coalesce(F.col(c), F.lit(0)).cast("long") for c in ("bronze", "silver", "quarantine", "duplicates",
                                                                   "conflicts")}
    out = joined.select(
        F.coalesce(F.col("bronze_table"), F.lit("?")).alias("bronze_table"),
        F.coalesce(F.col("batch_id"), F.lit("?")).alias("batch_id"),
        *[expr.alias(name) for name, expr in counts.items()],
    )
    return out.withColumn(
        "ok", F.col("bronze") == F.col("silver") + F.col("quarantine") + F.col("duplicates") + F.col("conflicts")
    ).orderBy("bronze_table", "batch_id")

"""``pixring ingest --from DIR --check``: a dry run of ingest + refine's validation that writes nothing.

Every new file (one whose fingerprint is not in the ingest log) is read exactly as ``ingest`` would read it
(mapping, dialect, encoding check) and classified exactly as the next ``refine`` would classify it: together
with what bronze already holds, so references to keys and users landed earlier resolve and a version that
conflicts with an earlier delivery shows up. The report gives, per file, how many rows would reach silver
and how many would be quarantined, duplicates and conflicts, and the top reasons with sample line numbers
(CSV; line 1 is the header). Nothing is written: no table is created, no ingest-log entry is made.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse import delta
from lakehouse.ingest import _ingested_fingerprints, source_files, with_metadata
from lakehouse.mapping import Mapping
from lakehouse.paths import table_path
from lakehouse.refine import BRONZE_TABLES, Snapshot, _bronze_schema, classify_all, snapshot
from lakehouse.schemas import FILES, INGEST_LOG_TABLE
from lakehouse.sources import MALFORMED, SOURCE_FIELDS, SourceFile, line_numbers, read_source
from lakehouse.transforms import validate as V
from pixring.settings import Settings

log = logging.getLogger(__name__)

_STATUSES = (V.STATUS_SILVER, V.STATUS_QUARANTINE, V.STATUS_DUPLICATE, V.STATUS_CONFLICT)


@dataclass
class ReasonCheck:
    reason: str
    rows: int
    lines: list[int] = field(default_factory=list)


@dataclass
class FileCheck:
    table: str
    source: str
    status: str  # new | already ingested | missing
    counts: dict[str, int] = field(default_factory=dict)
    reasons: list[ReasonCheck] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass
class CheckReport:
    source: Path
    mapping: str | None
    files: list[FileCheck] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        via = f" with mapping {self.mapping}" if self.mapping else ""
        lines = [f"check {self.source}{via}: a dry run, nothing written ({self.seconds:.1f} s)",
                 f"  {'table':20s} {'file':28s} {'rows':>9s} {'silver':>9s} {'quarant.':>9s} {'dupl.':>7s} {'confl.':>7s}"]
        for f in self.files:
            name = Path(f.source).name if f.source != "-" else "-"
            if f.status != "new":
                lines.append(f"  {f.table:20s} {name[:28]:28s} {f.status}")
                continue
            c = f.counts
            lines.append(
                f"  {f.table:20s} {name[:28]:28s} {f.rows:>9,d} {c.get(V.STATUS_SILVER, 0):>9,d} "
                f"{c.get(V.STATUS_QUARANTINE, 0):>9,d} {c.get(V.STATUS_DUPLICATE, 0):>7,d} "
                f"{c.get(V.STATUS_CONFLICT, 0):>7,d}")
            for r in f.reasons:
                where = f"lines {', '.join(str(n) for n in r.lines)}" if r.lines else ""
                lines.append(f"      {r.reason:44s} {r.rows:>9,d}  {where}")
        new = [f for f in self.files if f.status == "new"]
        total = sum(f.rows for f in new)
        landed = sum(f.counts.get(V.STATUS_SILVER, 0) for f in new)
        held = sum(f.counts.get(V.STATUS_QUARANTINE, 0) + f.counts.get(V.STATUS_CONFLICT, 0) for f in new)
        lines.append(f"  {len(new)} new file(s), {total:,d} rows: {landed:,d} would land in silver, "
                     f"{held:,d} would be quarantined")
        return "\n".join(lines)


def _new_frames(spark: SparkSession, todo: dict[str, tuple[SourceFile, str]], now: datetime) -> dict[str, DataFrame]:
    return {
        table: with_metadata(read_source(spark, sf, keep_source=True), table, str(sf.path.resolve()),
                             f"{table}-{sha[:16]}", now, keep=(SOURCE_FIELDS,))
        for table, (sf, sha) in todo.items()
    }


def _with_src(df: DataFrame) -> DataFrame:
    return df.withColumn(SOURCE_FIELDS, F.lit(None).cast("array<string>"))


def check_files(
    spark: SparkSession, settings: Settings, source: Path, mapping: Mapping | None = None,
    *, top: int = 5, samples: int = 3,
) -> CheckReport:
    """Classify the new files of ``source`` as ingest + refine would, without writing anything."""
    t0 = time.monotonic()
    found, missing = source_files(Path(source), mapping)
    lake = any(delta.is_table(spark, table_path(settings, "bronze", t)) for t in BRONZE_TABLES)
    done = _ingested_fingerprints(spark, settings) if delta.is_table(
        spark, table_path(settings, "bronze", INGEST_LOG_TABLE)) else set()
    report = CheckReport(Path(source), mapping.source if mapping else None)
    todo = {t: (sf, sha) for t, (sf, sha, _) in found.items() if (t, sha) not in done}
    new = _new_frames(spark, todo, datetime.now().replace(microsecond=0))

    base = snapshot(spark, settings) if lake else Snapshot(
        {t: delta.empty(spark, _bronze_schema(t)) for t in BRONZE_TABLES}, {}, "empty")
    frames = {}
    for t in BRONZE_TABLES:
        frames[t] = base.frames[t] if t not in FILES else _with_src(base.frames[t])
        if t in new:
            frames[t] = frames[t].unionByName(new[t])
    classified = classify_all(Snapshot(frames, base.versions, "check"), settings.lakehouse.max_field_chars,
                              workers=settings.lakehouse.parallelism, keep=(SOURCE_FIELDS,))

    batches = {f"{t}-{sha[:16]}": t for t, (_, sha) in todo.items()}
    results = {t: FileCheck(t, str(sf.path), "new") for t, (sf, _) in todo.items()}
    delta.run_parallel({t: (lambda t=t: _summarise(classified[t], t, batches, results[t], top, samples, todo[t][0]))
                        for t in todo}, settings.lakehouse.parallelism)
    for t in FILES:
        if t in results:
            report.files.append(results[t])
        elif t in found:
            report.files.append(FileCheck(t, str(found[t][0].path), "already ingested"))
        elif t in missing:
            report.files.append(FileCheck(t, "-", "missing"))
    report.seconds = time.monotonic() - t0
    return report


def _summarise(classified: DataFrame, table: str, batches: dict[str, str], out: FileCheck, top: int, samples: int,
               sf: SourceFile) -> None:
    mine = classified.filter(F.col("_batch_id").isin(*[b for b, t in batches.items() if t == table]))
    # one job: rows per (status, reasons); the per-status and per-reason counts are sums of it
    groups = mine.groupBy("_status", "_reasons").agg(F.count(F.lit(1)).alias("n")).collect()
    out.counts = {s: 0 for s in _STATUSES}
    per_reason: dict[str, int] = {}
    for g in groups:
        out.counts[g["_status"]] += int(g["n"])
        if g["_status"] in (V.STATUS_QUARANTINE, V.STATUS_CONFLICT):
            for reason in g["_reasons"]:
                per_reason[reason] = per_reason.get(reason, 0) + int(g["n"])
    if not per_reason:
        return
    ranked = sorted(per_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    out.reasons = [ReasonCheck(reason, n) for reason, n in ranked]
    held = mine.filter(F.col("_status").isin(V.STATUS_QUARANTINE, V.STATUS_CONFLICT)).select(
        F.explode("_reasons").alias("reason"), SOURCE_FIELDS, MALFORMED, "_record_hash")
    wanted = [r.reason for r in out.reasons]
    w = Window.partitionBy("reason").orderBy("_record_hash")
    picked = (held.filter(F.col("reason").isin(*wanted)).withColumn("_k", F.row_number().over(w))
              .filter(F.col("_k") <= samples).collect())
    by_reason: dict[str, list[object]] = {}
    fields: set[tuple[str, ...]] = set()
    raws: set[str] = set()
    for r in picked:
        if r[MALFORMED] is not None:
            key: object = r[MALFORMED]
            raws.add(r[MALFORMED])
        elif r[SOURCE_FIELDS] is not None:
            key = tuple("" if v is None else v for v in r[SOURCE_FIELDS])
            fields.add(key)
        else:
            continue
        by_reason.setdefault(r["reason"], []).append(key)
    found = line_numbers(sf, fields, raws)
    for rc in out.reasons:
        lines = sorted({n for key in by_reason.get(rc.reason, []) for n in found.get(key, [])})
        rc.lines = lines[:samples]

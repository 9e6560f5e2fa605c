"""``pixring ingest --from DIR --check``: a dry run of ingest + refine's validation that writes nothing.

Every new file (one whose fingerprint is not in the ingest log) is read exactly as ``ingest`` would read it
(mapping, dialect, encoding check) and classified exactly as the next ``refine`` would classify it: together
with what bronze already holds, so references to keys and users landed earlier resolve and a version that
conflicts with an earlier delivery shows up. The report gives, per file, how many rows would reach silver
and how many would be quarantined, duplicates and conflicts, and the top reasons with sample line numbers
(CSV; line 1 is the header). Nothing is written: no table is created, no ingest-log entry is made.

Cost: every file is read and classified once. A table other tables refer to (``usuarios``, ``chaves_pix``,
``transacoes_pix``) is classified into a narrow stored frame (status, reasons, its key and the sample
columns) that its children's reference checks and its own summary read; every other table is summarised
straight from its plan. A summary is one aggregation per file: rows per (status, reason) with a few
sample rows per reason (``min_by`` under different hashes), no job per rule or per reason; the sample
rows' line numbers are then found by searching the file for them (:func:`lakehouse.sources.line_numbers`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import delta
from lakehouse.ingest import _ingested_fingerprints, source_files, with_metadata
from lakehouse.mapping import Mapping
from lakehouse.paths import table_path
from lakehouse.refine import (
    BRONZE_TABLES,
    PHASES,
    REFERENCES,
    REFINE_CONF,
    Snapshot,
    _bronze_schema,
    classify_table,
    snapshot,
)
from lakehouse.schemas import FILES, INGEST_LOG_TABLE, PRIMARY_KEYS
from lakehouse.sources import MALFORMED, SOURCE_FIELDS, SourceFile, line_numbers, read_source
from lakehouse.transforms import validate as V
from pixring.settings import Settings

log = logging.getLogger(__name__)

_STATUSES = (V.STATUS_SILVER, V.STATUS_QUARANTINE, V.STATUS_DUPLICATE, V.STATUS_CONFLICT)
#: Tables whose classified rows other tables' reference checks read (stored once, narrow).
_PARENTS: frozenset[str] = frozenset(parent for refs in REFERENCES.values() for _, parent, _ in refs)
#: The columns a summary reads.
_SUMMARY_COLUMNS: tuple[str, ...] = ("_status", "_reasons", "_batch_id", SOURCE_FIELDS, MALFORMED, "_record_hash")


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
    #: seconds per stage (files: fingerprints and encoding checks; classify: the stored parent tables;
    #: summaries: one aggregation per file and the sample lines)
    stages: dict[str, float] = field(default_factory=dict)

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
        if self.stages:
            lines.append("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.stages.items()))
        return "\n".join(lines)


def _new_frames(spark: SparkSession, todo: dict[str, tuple[SourceFile, str]], now: datetime) -> dict[str, DataFrame]:
    return {
        table: with_metadata(read_source(spark, sf, keep_source=True), table, str(sf.path.resolve()),
                             f"{table}-{sha[:16]}", now, keep=(SOURCE_FIELDS,))
        for table, (sf, sha) in todo.items()
    }


def _with_src(df: DataFrame) -> DataFrame:
    return df.withColumn(SOURCE_FIELDS, F.lit(None).cast("array<string>"))


def _classified(snap: Snapshot, max_chars: int, workers: int) -> dict[str, DataFrame]:
    """Every table classified as refine would; the parents stored (narrow), the others left as plans."""
    classified: dict[str, DataFrame] = {}

    def one(table: str) -> DataFrame:
        frame = classify_table(snap, table, classified, max_chars, keep=(SOURCE_FIELDS,))
        if table not in _PARENTS:
            return frame
        keys = [f"_v_{c}" for c in PRIMARY_KEYS[table]]
        return frame.select(*_SUMMARY_COLUMNS, *keys).localCheckpoint(eager=True)

    for phase in PHASES:
        classified.update(delta.run_parallel({t: (lambda t=t: one(t)) for t in phase}, workers))
    return classified


def check_files(
    spark: SparkSession, settings: Settings, source: Path, mapping: Mapping | None = None,
    *, top: int = 5, samples: int = 3,
) -> CheckReport:
    """Classify the new files of ``source`` as ingest + refine would, without writing anything."""
    t0 = time.monotonic()
    stages: dict[str, float] = {}
    found, missing = source_files(Path(source), mapping)
    stages["files"] = time.monotonic() - t0
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
    batches = {f"{t}-{sha[:16]}": t for t, (_, sha) in todo.items()}
    results = {t: FileCheck(t, str(sf.path), "new") for t, (sf, _) in todo.items()}
    with delta.session_conf(spark, REFINE_CONF):  # as refine runs it (no adaptive re-planning per shuffle)
        t1 = time.monotonic()
        classified = _classified(Snapshot(frames, base.versions, "check"), settings.lakehouse.max_field_chars,
                                 settings.lakehouse.parallelism)
        stages["classify"] = time.monotonic() - t1
        t2 = time.monotonic()
        delta.run_parallel({t: (lambda t=t: _summarise(classified[t], t, batches, results[t], top, samples,
                                                       todo[t][0])) for t in todo}, settings.lakehouse.parallelism)
        stages["summaries"] = time.monotonic() - t2
    for t in FILES:
        if t in results:
            report.files.append(results[t])
        elif t in found:
            report.files.append(FileCheck(t, str(found[t][0].path), "already ingested"))
        elif t in missing:
            report.files.append(FileCheck(t, "-", "missing"))
    report.seconds = time.monotonic() - t0
    report.stages = stages
    return report


def _summarise(classified: DataFrame, table: str, batches: dict[str, str], out: FileCheck, top: int, samples: int,
               sf: SourceFile) -> None:
    mine = classified.filter(F.col("_batch_id").isin(*[b for b, t in batches.items() if t == table]))
    held = F.col("_status").isin(V.STATUS_QUARANTINE, V.STATUS_CONFLICT)
    # one job: rows per (status, reason) – a held row once per reason, counted once for its status – and a
    # few sample rows per reason, each the minimum under another hash of the record
    rows = mine.select(
        "_status", F.posexplode_outer(F.when(held, F.col("_reasons"))).alias("_pos", "reason"),
        F.struct(F.col(SOURCE_FIELDS).alias("fields"), F.col(MALFORMED).alias("raw")).alias("_sample"),
        "_record_hash",
    )
    picks = [F.min_by(F.when(F.col("reason").isNotNull(), F.col("_sample")),
                      F.xxhash64(F.col("_record_hash"), F.lit(i))).alias(f"_s{i}") for i in range(samples)]
    groups = rows.groupBy("_status", "reason").agg(
        F.count(F.when(F.coalesce(F.col("_pos"), F.lit(0)) == 0, F.lit(1))).alias("rows"),
        F.count(F.lit(1)).alias("n"), *picks,
    ).collect()
    out.counts = {s: 0 for s in _STATUSES}
    per_reason: dict[str, int] = {}
    picked: dict[str, list[object]] = {}
    for g in groups:
        out.counts[g["_status"]] += int(g["rows"])
        if g["reason"] is not None:
            per_reason[g["reason"]] = per_reason.get(g["reason"], 0) + int(g["n"])
            picked.setdefault(g["reason"], []).extend(g[f"_s{i}"] for i in range(samples))
    if not per_reason:
        return
    ranked = sorted(per_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    out.reasons = [ReasonCheck(reason, n) for reason, n in ranked]
    by_reason: dict[str, list[object]] = {}
    fields: set[tuple[str, ...]] = set()
    raws: set[str] = set()
    for rc in out.reasons:
        for sample in picked.get(rc.reason, []):
            if sample is None:
                continue
            if sample["raw"] is not None:
                key: object = sample["raw"]
                raws.add(sample["raw"])
            elif sample["fields"] is not None:
                key = tuple("" if v is None else v for v in sample["fields"])
                fields.add(key)
            else:
                continue
            by_reason.setdefault(rc.reason, []).append(key)
    found = line_numbers(sf, fields, raws)
    for rc in out.reasons:
        lines = sorted({n for key in by_reason.get(rc.reason, []) for n in found.get(key, [])})
        rc.lines = lines[:samples]

"""``pixring refine``: bronze -> silver (+ quarantine) -> gold, with the reconciliation printed.

Every run recomputes silver and gold from one consistent bronze snapshot – the latest version of every
bronze table, or the versions recorded in the ingest log at ``--as-of-version N``, or the versions current
at ``--as-of-timestamp T`` – so the same snapshot always yields the same silver and gold (a training set
can be rebuilt exactly). Outputs:

* silver entity tables (usuarios, chaves_pix, dispositivos, limites_transacoes, fraudes) are upserted
  with MERGE (new ids inserted, changed rows – a key's status, a new limit – updated, vanished rows
  deleted); the event tables (transacoes_pix, partitioned by date, and log_autenticacao) are overwritten;
* ``bronze/quarantine`` is overwritten with the rows that fail validation now and the versions of ids
  whose versions conflict (with reasons and the raw record); ``silver/reconciliation`` gets one row per
  bronze table and batch for this run (append-only);
* gold feature tables are overwritten and OPTIMIZEd with Z-ORDER on their key.

Each commit carries ``userMetadata`` with the refine id and the bronze snapshot it was built from.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Callable
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import delta
from lakehouse.erase import exclude_erased
from lakehouse.paths import table_path
from lakehouse.schemas import (
    BRONZE,
    BRONZE_STREAM,
    FILES,
    GOLD,
    GOLD_KEYS,
    INGEST_LOG,
    INGEST_LOG_TABLE,
    QUARANTINE,
    QUARANTINE_TABLE,
    RECONCILIATION,
    RECONCILIATION_TABLE,
    SILVER,
    SILVER_CHECKS,
    SILVER_KEYS,
    SILVER_PARTITIONS,
    STREAM_TABLE,
)
from lakehouse.transforms import conform as C
from lakehouse.transforms import enrich, features
from lakehouse.transforms import validate as V
from lakehouse.transforms.reconcile import reconcile
from lakehouse.transforms.tokenise import pseudonymise
from pixring.errors import PixringError
from pixring.settings import Settings

log = logging.getLogger(__name__)

#: Processing order: a table's references are classified before it.
ORDER: tuple[str, ...] = (
    "usuarios", "chaves_pix", "dispositivos", "limites_transacoes", "log_autenticacao", "transacoes_pix", "fraudes",
)
#: Silver tables written with MERGE: the entities whose rows change in place (a key's status, a raised
#: limit), so their history shows each change as an update; the others are rebuilt (overwrite).
UPSERT: frozenset[str] = frozenset({"chaves_pix", "limites_transacoes"})
#: (column, referenced table, reason) per table.
REFERENCES: dict[str, list[tuple[str, str, str]]] = {
    "dispositivos": [("id_usuario", "usuarios", "unknown_user")],
    "limites_transacoes": [("id_usuario", "usuarios", "unknown_user")],
    "log_autenticacao": [("id_usuario", "usuarios", "unknown_user")],
    "transacoes_pix": [("chave_pix_origem", "chaves_pix", "unknown_key"),
                       ("chave_pix_destino", "chaves_pix", "unknown_key")],
    "fraudes": [("id_transacao", "transacoes_pix", "unknown_transaction")],
}
BRONZE_TABLES: tuple[str, ...] = (*FILES, STREAM_TABLE)
#: Session settings for the duration of a refine: adaptive execution splits every shuffle into its own job,
#: which on a small machine costs more than it saves at these sizes (a few million rows at most).
REFINE_CONF: dict[str, str] = {"spark.sql.adaptive.enabled": "false"}
_QUARANTINE_PROPS = {"delta.dataSkippingStatsColumns": "bronze_table,batch_id"}


@dataclass
class Snapshot:
    """The bronze frames one refine reads, and which versions they are."""

    frames: dict[str, DataFrame]
    versions: dict[str, int | None]
    label: str

    def describe(self) -> str:
        parts = [f"{t}@{v}" for t, v in self.versions.items() if v is not None and v >= 0]
        return f"{self.label} ({', '.join(parts)})" if parts else self.label


@dataclass
class RefineReport:
    refine_id: str
    bronze_as_of: str
    reconciliation: list[dict] = field(default_factory=list)
    silver: dict[str, dict[str, object]] = field(default_factory=dict)
    quarantine_reasons: list[tuple[str, int]] = field(default_factory=list)
    gold: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    #: set when ``if_changed`` found silver already built from this very bronze snapshot
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.reconciliation)

    def silver_rows(self) -> dict[str, int]:
        """Silver rows per silver table (the Kafka bronze feeds ``transacoes_pix``)."""
        out: dict[str, int] = {}
        for r in self.reconciliation:
            target = "transacoes_pix" if r["bronze_table"] == STREAM_TABLE else r["bronze_table"]
            out[target] = out.get(target, 0) + int(r["silver"])
        return out

    def totals(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.reconciliation:
            t = out.setdefault(r["bronze_table"], {"batches": 0, "bronze": 0, "silver": 0, "quarantine": 0,
                                                   "duplicates": 0, "conflicts": 0})
            t["batches"] += 1
            for k in ("bronze", "silver", "quarantine", "duplicates", "conflicts"):
                t[k] += int(r.get(k) or 0)  # ``conflicts`` is absent from rows made before it existed
        return out

    def __str__(self) -> str:
        if self.skipped:
            return (f"refine: silver and gold are already built from bronze {self.bronze_as_of} "
                    f"(refine {self.refine_id}); nothing to do (run without --if-changed to rebuild)")
        lines = [f"refine {self.refine_id}: bronze {self.bronze_as_of}", "",
                 "reconciliation (per bronze batch): bronze = silver + quarantine + duplicates + conflicts"]
        head = (f"  {'bronze table':22s} {'batch':34s} {'bronze':>9s} {'silver':>9s} {'quarant.':>9s} {'dupl.':>7s}"
                f" {'confl.':>7s}  ok")
        lines.append(head)
        shown = self.reconciliation if len(self.reconciliation) <= 40 else [
            r for r in self.reconciliation if not r["ok"]] + self.reconciliation[:30]
        for r in shown:
            lines.append(
                f"  {r['bronze_table']:22s} {r['batch_id'][:34]:34s} {r['bronze']:>9,d} {r['silver']:>9,d} "
                f"{r['quarantine']:>9,d} {r['duplicates']:>7,d} {r.get('conflicts') or 0:>7,d}  "
                f"{'yes' if r['ok'] else 'NO'}"
            )
        if len(shown) < len(self.reconciliation):
            lines.append(f"  ... {len(self.reconciliation) - len(shown)} more batches (silver/reconciliation)")
        for table, t in self.totals().items():
            lines.append(
                f"  {table:22s} {'total of ' + str(t['batches']) + ' batches':34s} {t['bronze']:>9,d} "
                f"{t['silver']:>9,d} {t['quarantine']:>9,d} {t['duplicates']:>7,d} {t['conflicts']:>7,d}  "
                f"{'yes' if t['bronze'] == t['silver'] + t['quarantine'] + t['duplicates'] + t['conflicts'] else 'NO'}"
            )
        lines.append(f"  reconciled: {'yes' if self.ok else 'NO'}")
        lines += ["", "silver"]
        for table, s in self.silver.items():
            extra = ", ".join(f"{k} {v:,d}" for k, v in s.items() if k not in ("rows", "mode") and isinstance(v, int))
            lines.append(f"  {table:22s} {s.get('rows', 0):>9,d} rows  {s.get('mode', '')}{': ' + extra if extra else ''}")
        if self.quarantine_reasons:
            lines += ["", "quarantine reasons"]
            lines += [f"  {reason:40s} {n:>9,d}" for reason, n in self.quarantine_reasons]
        lines += ["", "gold"]
        lines += [f"  {table:22s} {n:>9,d} rows" for table, n in self.gold.items()]
        lines += ["", "stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.stages.items())]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- snapshot
def _bronze_schema(table: str):
    return BRONZE_STREAM if table == STREAM_TABLE else BRONZE[table]


def _time_travel_error(exc: Exception) -> str | None:
    text = str(exc)
    if "TIMESTAMP_EARLIER" in text or "before the earliest" in text.lower():
        return "before"
    if "TIMESTAMP_GREATER" in text or "after the latest" in text.lower():
        return "after"
    return None


def snapshot(
    spark: SparkSession, settings: Settings, as_of_version: int | None = None, as_of_timestamp: str | None = None
) -> Snapshot:
    """Resolve the bronze snapshot to refine from."""
    if as_of_version is not None and as_of_timestamp is not None:
        raise PixringError("give --as-of-version or --as-of-timestamp, not both")
    paths = {t: table_path(settings, "bronze", t) for t in BRONZE_TABLES}
    present = {t for t, p in paths.items() if delta.is_table(spark, p)}
    if not present:
        raise PixringError(f"bronze is empty under {settings.paths.lakehouse}: run `pixring ingest --from DIR` first")
    frames: dict[str, DataFrame] = {}
    versions: dict[str, int | None] = {}

    if as_of_version is not None:
        log_path = table_path(settings, "bronze", INGEST_LOG_TABLE)
        latest = delta.latest_version(spark, log_path)
        if not 0 <= as_of_version <= latest:
            raise PixringError(f"--as-of-version {as_of_version}: the lakehouse versions are 0..{latest}")
        entries = (
            delta.read(spark, log_path, INGEST_LOG, version=as_of_version)
            .groupBy("bronze_table").agg(F.max("bronze_version").alias("v")).collect()
        )
        pinned = {r.bronze_table: int(r.v) for r in entries}
        for t in BRONZE_TABLES:
            v = pinned.get(t)
            versions[t] = v
            try:
                frames[t] = delta.read(spark, paths[t], _bronze_schema(t), version=v) if v is not None else \
                    delta.empty(spark, _bronze_schema(t))
            except Exception as exc:  # py4j/analysis errors
                raise PixringError(
                    f"bronze {t} version {v} is no longer readable (removed by VACUUM, e.g. after an erasure): "
                    f"{str(exc).splitlines()[0][:200]}"
                ) from exc
        return Snapshot(frames, versions, f"as of lakehouse version {as_of_version}")

    if as_of_timestamp is not None:
        try:
            datetime.fromisoformat(as_of_timestamp.replace(" ", "T"))
        except ValueError as exc:
            raise PixringError(f"--as-of-timestamp {as_of_timestamp!r}: expected YYYY-MM-DD[ HH:MM:SS]") from exc
        ts = as_of_timestamp.replace("T", " ")
        for t in BRONZE_TABLES:
            versions[t] = None
            if t not in present:
                frames[t] = delta.empty(spark, _bronze_schema(t))
                continue
            try:
                frames[t] = delta.read(spark, paths[t], _bronze_schema(t), timestamp=ts)
            except Exception as exc:
                where = _time_travel_error(exc)
                if where == "before":
                    frames[t] = delta.empty(spark, _bronze_schema(t))
                elif where == "after":
                    frames[t] = delta.read(spark, paths[t], _bronze_schema(t))
                else:
                    raise PixringError(f"bronze {t} as of {ts}: {str(exc).splitlines()[0][:200]}") from exc
        return Snapshot(frames, versions, f"as of {ts}")

    for t in BRONZE_TABLES:
        if t in present:
            v = delta.latest_version(spark, paths[t])
            versions[t] = v
            frames[t] = delta.read(spark, paths[t], _bronze_schema(t), version=v)
        else:
            versions[t] = None
            frames[t] = delta.empty(spark, _bronze_schema(t))
    return Snapshot(frames, versions, "latest")


# ------------------------------------------------------------------------------------------- classify
#: Tables that can be classified (and written) together: each phase only needs earlier phases.
PHASES: tuple[tuple[str, ...], ...] = (
    ("usuarios",),
    ("chaves_pix", "dispositivos", "limites_transacoes", "log_autenticacao"),
    ("transacoes_pix",),
    ("fraudes",),
)


def classify_table(
    snap: Snapshot, table: str, classified: dict[str, DataFrame], max_chars: int, keep: tuple[str, ...] = ()
) -> DataFrame:
    """One table prepared, validated, reference-checked against its (already classified) parents, classified
    (``keep``: extra columns of the file frames carried along, NULL for the Kafka rows)."""
    prepared = V.prepare_file(snap.frames[table], table, keep)
    if table == "transacoes_pix":
        prepared = prepared.unionByName(V.prepare_stream(snap.frames[STREAM_TABLE]), allowMissingColumns=bool(keep))
    checked = V.validate(prepared, table, max_chars)
    for column, parent, reason in REFERENCES.get(table, []):
        parent_keys = V.valid_keys(classified[parent], V.natural_key(parent)[0])
        checked = V.check_reference(checked, column, parent_keys, reason)
    return V.classify(checked, table)


def classify_all(
    snap: Snapshot, max_chars: int, *, materialise: bool = True, workers: int = 1, keep: tuple[str, ...] = ()
) -> dict[str, DataFrame]:
    """Prepared, validated, reference-checked and classified frames of every table.

    With ``materialise`` each frame is computed once and its lineage cut (``localCheckpoint``): the later
    steps (silver, quarantine, reconciliation, the tables that reference it) read the stored rows instead
    of re-analysing and re-running the validation plan.
    """
    classified: dict[str, DataFrame] = {}

    def one(table: str) -> DataFrame:
        frame = classify_table(snap, table, classified, max_chars, keep)
        return frame.localCheckpoint(eager=True) if materialise else frame

    for phase in PHASES:
        classified.update(delta.run_parallel({t: (lambda t=t: one(t)) for t in phase}, workers))
    return classified


def _winners(classified: DataFrame) -> DataFrame:
    return classified.filter(F.col("_status") == V.STATUS_SILVER)


def silver_frame(classified: DataFrame, table: str, settings: Settings) -> DataFrame:
    """Winning rows -> conformed, typed, pseudonymised (not yet enriched)."""
    return pseudonymise(C.conform_table(_winners(classified), table), table, settings.security.pii_secret)


# ---------------------------------------------------------------------------------------------- output
def ensure_outputs(spark: SparkSession, settings: Settings) -> None:
    for table, schema in SILVER.items():
        delta.ensure_table(
            spark, table_path(settings, "silver", table), schema,
            partition_by=SILVER_PARTITIONS.get(table, ()), checks=SILVER_CHECKS.get(table),
        )
    delta.ensure_table(spark, table_path(settings, "silver", RECONCILIATION_TABLE), RECONCILIATION,
                       properties={"delta.appendOnly": "true"})
    delta.ensure_table(spark, table_path(settings, "bronze", QUARANTINE_TABLE), QUARANTINE,
                       properties=_QUARANTINE_PROPS)
    for table, schema in GOLD.items():
        delta.ensure_table(spark, table_path(settings, "gold", table), schema)


def _in_order(df: DataFrame, schema) -> DataFrame:
    return df.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])


def _write_silver(spark: SparkSession, settings: Settings, table: str, frame: DataFrame) -> dict[str, object]:
    path = table_path(settings, "silver", table)
    frame = _in_order(frame, SILVER[table])
    if table in UPSERT:
        return {"mode": "merge", **delta.upsert(spark, path, frame, SILVER_KEYS[table])}
    if table in SILVER_PARTITIONS:
        frame = frame.repartition(*SILVER_PARTITIONS[table])
    delta.overwrite(frame, path)
    return {"mode": "overwrite"}


def refine(
    spark: SparkSession,
    settings: Settings,
    as_of_version: int | None = None,
    as_of_timestamp: str | None = None,
    *,
    if_changed: bool = False,
) -> RefineReport:
    """Rebuild silver, quarantine, reconciliation and gold from one bronze snapshot.

    With ``if_changed`` nothing is rewritten when the last refine read exactly this bronze snapshot (same
    table versions, recorded in ``silver/reconciliation``): a second ``pixring demo`` reuses silver and gold.

    Steps: classify every bronze row (validate, check references, deduplicate), build the silver frames
    (conform, tokenise, enrich), then write silver, quarantine, gold and the reconciliation together.
    Intermediate frames are materialised once (``localCheckpoint``) so each is computed a single time.
    """
    lh = settings.lakehouse
    stages: dict[str, float] = {}
    t = time.monotonic()

    def stage(name: str) -> None:
        nonlocal t
        now = time.monotonic()
        stages[name] = now - t
        t = now

    snap = snapshot(spark, settings, as_of_version, as_of_timestamp)
    if if_changed:
        previous = last_refine(spark, settings)
        if previous is not None and previous[1] == snap.describe() and _outputs_from(spark, settings, previous[0]):
            return RefineReport(refine_id=previous[0], bronze_as_of=previous[1], skipped=True)
    refine_id = uuid.uuid4().hex[:12]
    refined_at = datetime.now().replace(microsecond=0)
    report = RefineReport(refine_id=refine_id, bronze_as_of=snap.describe())
    snap.frames = exclude_erased(snap.frames, settings)  # the erasure ledger: whatever bronze version is read
    ensure_outputs(spark, settings)
    stage("snapshot")

    meta = {"pixring": "refine", "refine_id": refine_id, "bronze_as_of": snap.describe()}
    with delta.commit_metadata(spark, meta), delta.session_conf(spark, REFINE_CONF):
        classified = classify_all(snap, lh.max_field_chars, workers=lh.parallelism)
        stage("validate")
        silver = silver_frames(classified, settings, lh.new_device_hours, workers=lh.parallelism)
        stage("conform+enrich")
        tasks: dict[str, Callable[[], object]] = {
            **{f"silver/{t}": (lambda t=t: _write_silver(spark, settings, t, silver[t])) for t in ORDER},
            "quarantine": lambda: _write_quarantine(spark, settings, classified),
            **{f"gold/{t}": (lambda t=t: _write_gold(spark, settings, t, silver)) for t in GOLD},
            "reconcile": lambda: _reconcile(spark, settings, classified, silver, report, refine_id, refined_at,
                                            snap.describe()),
        }
        done = delta.run_parallel(tasks, lh.parallelism)
        stage("write")
    rows = report.silver_rows()
    report.silver = {t: {"rows": rows.get(t, 0), **done[f"silver/{t}"]} for t in ORDER}
    report.gold = {"features_usuario": rows.get("usuarios", 0), "features_chave": rows.get("chaves_pix", 0)}
    report.stages = stages
    if not report.ok:
        bad = [f"{r['bronze_table']}/{r['batch_id']}" for r in report.reconciliation if not r["ok"]]
        raise PixringError(f"reconciliation failed for {len(bad)} batch(es): {', '.join(bad[:5])} "
                           f"(see silver/{RECONCILIATION_TABLE}, refine {refine_id})")
    return report


def last_refine(spark: SparkSession, settings: Settings) -> tuple[str, str] | None:
    """``(refine_id, bronze_as_of)`` of the latest completed refine, from ``silver/reconciliation``."""
    path = table_path(settings, "silver", RECONCILIATION_TABLE)
    if not delta.is_table(spark, path):
        return None
    row = (delta.read(spark, path, RECONCILIATION).select("refine_id", "bronze_as_of", "refined_at")
           .orderBy(F.desc("refined_at")).limit(1).collect())
    return (row[0].refine_id, row[0].bronze_as_of) if row else None


def _outputs_from(spark: SparkSession, settings: Settings, refine_id: str) -> bool:
    """Whether the latest commit of every silver and gold table was written by refine ``refine_id`` (so an
    interrupted refine, whose reconciliation row may exist, is not taken for a finished one)."""
    from delta.tables import DeltaTable

    paths = [table_path(settings, "silver", t) for t in ORDER] + [table_path(settings, "gold", t) for t in GOLD]
    for path in paths:
        if not delta.is_table(spark, path):
            return False
        meta = DeltaTable.forPath(spark, path).history(1).select("userMetadata").first()
        try:
            if json.loads(meta.userMetadata or "{}").get("refine_id") != refine_id:
                return False
        except ValueError:
            return False
    return True


def silver_frames(
    classified: dict[str, DataFrame], settings: Settings, new_device_hours: float, workers: int = 1
) -> dict[str, DataFrame]:
    """The seven silver frames, tokenised and enriched, each materialised once.

    Keys get their holder's account from the silver users; transactions are enriched from the silver keys,
    users, logins and devices (all joins on tokens or ids).
    """
    def cut(df: DataFrame) -> DataFrame:
        return df.localCheckpoint(eager=True)

    out = {t: silver_frame(classified[t], t, settings) for t in ORDER if t != "transacoes_pix"}
    out["usuarios"] = cut(out["usuarios"])
    out.update(delta.run_parallel({
        "chaves_pix": lambda: cut(enrich.key_owners(out["chaves_pix"], out["usuarios"])),
        "dispositivos": lambda: cut(out["dispositivos"]),
        "log_autenticacao": lambda: cut(out["log_autenticacao"]),
    }, workers))
    out["transacoes_pix"] = cut(enrich.enrich_transactions(
        silver_frame(classified["transacoes_pix"], "transacoes_pix", settings),
        chaves=out["chaves_pix"], usuarios=out["usuarios"], logins=out["log_autenticacao"],
        dispositivos=out["dispositivos"], new_device_hours=new_device_hours,
    ))
    return {t: _in_order(out[t], SILVER[t]) for t in ORDER}


def _write_quarantine(spark: SparkSession, settings: Settings, classified: dict[str, DataFrame]) -> dict:
    quarantine = reduce(DataFrame.unionByName, [V.quarantine_rows(classified[t], t) for t in ORDER])
    delta.overwrite(_in_order(quarantine, QUARANTINE).coalesce(1), table_path(settings, "bronze", QUARANTINE_TABLE))
    return {}


def _reconcile(
    spark: SparkSession, settings: Settings, classified: dict[str, DataFrame], silver: dict[str, DataFrame],
    report: RefineReport, refine_id: str, refined_at: datetime, as_of: str,
) -> None:
    """bronze = silver + quarantine + duplicates + conflicts per bronze batch, from the classification
    (bronze, duplicates), the silver frames as written (silver) and the quarantined rows (quarantine,
    conflicts); appended to
    ``silver/reconciliation`` and kept on the report."""
    bronze_counts = reduce(DataFrame.unionByName, [V.status_counts(classified[t]) for t in ORDER])
    silver_batches = reduce(DataFrame.unionByName, [silver[t].select("_batch_id") for t in ORDER])
    quarantine = reduce(DataFrame.unionByName, [V.quarantine_rows(classified[t], t) for t in ORDER])
    rows = [r.asDict() for r in reconcile(bronze_counts, silver_batches, quarantine).collect()]
    report.reconciliation = rows
    reasons = reduce(DataFrame.unionByName, [
        classified[t].filter(F.col("_status").isin(V.STATUS_QUARANTINE, V.STATUS_CONFLICT))
        .select(F.explode("_reasons").alias("reason"))
        for t in ORDER])
    report.quarantine_reasons = [
        (r.reason, int(r.n)) for r in reasons.groupBy("reason").agg(F.count(F.lit(1)).alias("n"))
        .orderBy(F.desc("n"), "reason").limit(15).collect()
    ]
    if rows:
        out = spark.createDataFrame(
            [{**r, "refine_id": refine_id, "refined_at": refined_at, "bronze_as_of": as_of} for r in rows],
            RECONCILIATION,
        )
        # mergeSchema: a reconciliation table from before the ``conflicts`` column gains it
        out.coalesce(1).write.format("delta").mode("append").option("mergeSchema", "true").save(
            table_path(settings, "silver", RECONCILIATION_TABLE))


def _write_gold(spark: SparkSession, settings: Settings, table: str, silver: dict[str, DataFrame]) -> dict:
    """One gold feature table from the silver frames: overwrite, then OPTIMIZE ZORDER BY its key."""
    if table == "features_usuario":
        frame = features.user_features(silver["transacoes_pix"], silver["usuarios"], silver["chaves_pix"],
                                       silver["dispositivos"])
    else:
        frame = features.key_features(silver["transacoes_pix"], silver["chaves_pix"])
    path = table_path(settings, "gold", table)
    delta.overwrite(_in_order(frame, GOLD[table]), path)
    delta.optimize_zorder(spark, path, [GOLD_KEYS[table]])
    return {}

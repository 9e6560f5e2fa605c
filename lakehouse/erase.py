"""``pixring erase --cpf-cnpj X``: LGPD erasure of one person from every store, and ``--verify`` of it.

1. *Identify* the person: their accounts (``id_usuario``) and e-mails/phones from bronze ``usuarios``
   (and silver, by token), their Pix keys from ``chaves_pix``, and every transaction that has one of
   their keys on either side (file and Kafka bronze, silver) with the fraud claims on those transactions.
2. *Record* them in the erasure ledger (:mod:`pixring.ledger`: ids, tokens, transaction ids, never the
   clear document) before anything is deleted, so that no stage run meanwhile or later brings them back.
3. *Delete* the matching rows from every Delta table under the lakehouse (found on disk, so a table added
   later is covered too): bronze by the clear values (``delta.appendOnly`` is lifted for the one commit
   and restored), the quarantine (raw records mentioning any identifier), and every silver and gold table
   (features, graph, communities, rings, GNN scores/embeddings/explanations, the stream's scored table, ...)
   by the ledger's values in any string or ``array<string>`` column (gold JSON columns also by substring).
   Rows are deleted with ``MERGE ... WHEN MATCHED THEN DELETE`` against the keys (or whole rows) found, so
   no identifier appears in a predicate recorded in a Delta transaction log; no predicate is SQL text built
   from data (Column expressions, ``isin``, ``arrays_overlap``).
4. *VACUUM* every table that changed with ``PIXRING_LAKEHOUSE_VACUUM_RETENTION_HOURS`` (0 removes the old
   files at once; the default 168 h keeps time travel for a week: the ledger records when the files are due
   and ``pixring erase --vacuum`` removes them then, e.g. from a daily cron job).
5. The other stores (:mod:`lakehouse.erase_stores`): Neo4j nodes (``DETACH DELETE``), MLflow artifacts
   rewritten without the person, Kafka tombstones on compacted topics and the retention of the others.

``verify`` scans every store for the person (by CPF/CNPJ, account id or transaction id) and says, per
store, absent or present.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse import delta
from lakehouse.paths import LAYERS, table_path
from lakehouse.schemas import FILES, GOLD_KEYS, QUARANTINE_TABLE, SILVER, SILVER_KEYS, STREAM_TABLE
from lakehouse.transforms import conform as C
from lakehouse.transforms.tokenise import token, tokenise
from pixring import ledger
from pixring.errors import PixringError
from pixring.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Identity:
    """Everything that identifies the person, clear (to search bronze) and tokenised (silver, gold)."""

    document: str
    ids: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # canonical clear keys
    contacts: set[str] = field(default_factory=set)  # e-mails and phones, raw and conformed
    raw_values: set[str] = field(default_factory=set)  # values exactly as found in bronze
    tokens: set[str] = field(default_factory=set)  # tokens of document, keys and contacts
    transactions: set[str] = field(default_factory=set)
    registered_keys: int = 0  # rows of chaves_pix held by the person

    def quoted(self) -> list[str]:
        """Identifiers as they would appear inside a JSON raw record (quoted)."""
        values = {self.document} | self.ids | self.keys | self.contacts | self.raw_values | self.transactions
        return sorted(f'"{v}"' for v in values if v)


@dataclass
class EraseReport:
    masked_document: str
    retention_hours: float
    erasure_id: str = ""
    deleted: dict[str, int] = field(default_factory=dict)
    #: store (neo4j, mlflow, a Kafka topic) -> what was done there
    stores: dict[str, str] = field(default_factory=dict)
    #: stores the erasure could not reach (the command exits non-zero: run it again)
    errors: dict[str, str] = field(default_factory=dict)
    accounts: int = 0
    devices: int = 0
    keys: int = 0
    transactions: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def __str__(self) -> str:
        lines = [
            f"erase {self.masked_document} (erasure {self.erasure_id}, recorded in the ledger): "
            f"{self.accounts} account(s), {self.devices} device(s), {self.keys} key(s), "
            f"{self.transactions} transaction(s) found; "
            f"{self.total:,d} Delta rows deleted ({self.seconds:.1f} s)",
        ]
        for table, n in self.deleted.items():
            if n:
                lines.append(f"  {table:34s} {n:>8,d}")
        lines.append(f"  VACUUM retention {self.retention_hours:g} h on every changed table"
                     + (" (old files removed now)" if self.retention_hours == 0 else
                        " (old files stay readable by time travel until then; `pixring erase --vacuum` after)"))
        for store, what in self.stores.items():
            lines.append(f"  {store:34s} {what}")
        for store, err in self.errors.items():
            lines.append(f"  {store:34s} NOT ERASED: {err}")
        lines.append("  not covered: the source files outside the lakehouse (delete them at the source)")
        return "\n".join(lines)


def mask_document(doc: str) -> str:
    """``12345678909`` -> ``***.456.789-**`` (the masking used on Pix receipts)."""
    if len(doc) == 11:
        return f"***.{doc[3:6]}.{doc[6:9]}-**"
    return f"**.{doc[2:5]}.{doc[5:8]}/****-**" if len(doc) == 14 else "***"


def _strings(values: Iterable[object]) -> set[str]:
    return {str(v) for v in values if v is not None and str(v) != ""}


def _collect(df: DataFrame, *columns: str) -> list:
    return df.select(*columns).distinct().collect()


def _read(spark: SparkSession, path: str) -> DataFrame | None:
    return spark.read.format("delta").load(path) if delta.is_table(spark, path) else None


def identify(spark: SparkSession, settings: Settings, document: str, workers: int = 1) -> Identity:
    """Find the person's accounts, keys, contacts and transactions in bronze and silver (two rounds of
    independent look-ups: by document, then by the keys and accounts found)."""
    secret = settings.security.pii_secret
    ident = Identity(document)
    doc_token = token(document, secret)
    bronze = {t: _read(spark, table_path(settings, "bronze", t)) for t in (*FILES, STREAM_TABLE)}
    silver = {t: _read(spark, table_path(settings, "silver", t)) for t in SILVER}

    def rows(df: DataFrame | None, cond: Column, *cols) -> list:
        return [] if df is None else _collect(df.filter(cond), *cols)

    first = delta.run_parallel({
        "bronze_users": lambda: rows(bronze["usuarios"], C.document(F.col("cpf_cnpj")) == document,
                                     "id_usuario", "cpf_cnpj", "email", "telefone"),
        "silver_users": lambda: rows(silver["usuarios"], F.col("cpf_cnpj") == doc_token, "id_usuario"),
        "bronze_keys": lambda: rows(bronze["chaves_pix"], C.document(F.col("cpf_cnpj")) == document,
                                    "chave_pix", _key(F.col("chave_pix")).alias("k")),
    }, workers)
    for r in first["bronze_users"]:
        ident.ids |= _strings([r.id_usuario])
        ident.raw_values |= _strings([r.cpf_cnpj, r.email, r.telefone])
        ident.contacts |= _strings([r.email, r.telefone])
    ident.ids |= _strings(r.id_usuario for r in first["silver_users"])
    ident.contacts |= {c.strip().lower() for c in ident.contacts if "@" in c}
    ident.contacts |= {"+" + re.sub(r"[^0-9]", "", c) if c.strip().startswith("+") else
                       "+55" + re.sub(r"[^0-9]", "", c) for c in ident.contacts if "@" not in c}
    ident.keys = {document}
    for r in first["bronze_keys"]:
        ident.raw_values |= _strings([r.chave_pix])
        ident.keys |= _strings([r.k])
        ident.registered_keys += 1
    ident.tokens = {token(v, secret) for v in {document} | ident.keys | ident.contacts}

    keys, ids = sorted(ident.keys), sorted(ident.ids) or [""]
    raw = F.col("_raw_value")
    second = delta.run_parallel({
        "silver_keys": lambda: rows(
            silver["chaves_pix"], (F.col("cpf_cnpj") == doc_token) | F.col("id_usuario").isin(*ids), "chave_pix"),
        "bronze_tx": lambda: rows(
            bronze["transacoes_pix"],
            _key(F.col("chave_pix_origem")).isin(*keys) | _key(F.col("chave_pix_destino")).isin(*keys),
            "id_transacao"),
        "stream_tx": lambda: rows(
            bronze[STREAM_TABLE],
            _key(F.get_json_object(raw, "$.chave_pix_origem")).isin(*keys)
            | _key(F.get_json_object(raw, "$.chave_pix_destino")).isin(*keys),
            F.get_json_object(raw, "$.id_transacao").alias("id_transacao")),
    }, workers)
    ident.tokens |= _strings(r.chave_pix for r in second["silver_keys"])
    ident.transactions |= _strings(r.id_transacao for r in second["bronze_tx"] + second["stream_tx"])
    toks = sorted(ident.tokens)
    ident.transactions |= _strings(r.id_transacao for r in rows(
        silver["transacoes_pix"],
        F.col("chave_pix_origem").isin(*toks) | F.col("chave_pix_destino").isin(*toks)
        | F.col("id_usuario_origem").isin(*ids) | F.col("id_usuario_destino").isin(*ids),
        "id_transacao"))
    return ident


def _key(c: Column) -> Column:
    return C.pix_key(F.trim(c))


def _contains_any(column: Column, needles: list[str]) -> Column:
    if not needles:
        return F.lit(False)
    pattern = "|".join(r"\Q" + n.replace(r"\E", r"\E\\E\Q") + r"\E" for n in needles)
    return F.coalesce(column.rlike(pattern), F.lit(False))


def _isin(column: Column, values: Iterable[str]) -> Column:
    vals = sorted(values)
    return column.isin(*vals) if vals else F.lit(False)


def _targets(ident: Identity) -> dict[tuple[str, str], tuple[Column, tuple[str, ...]]]:
    """Bronze (clear values): (layer, table) -> (filter selecting the person's rows, key columns to delete them
    by). Silver and gold are found by the ledger's values (:func:`_derived_cond`)."""
    ids, keys, txs = ident.ids, ident.keys, ident.transactions
    by_user = lambda: _isin(F.trim(F.col("id_usuario")), ids)  # noqa: E731
    doc = C.document(F.col("cpf_cnpj")) == ident.document
    raw = F.col("_raw_value")
    t: dict[tuple[str, str], tuple[Column, tuple[str, ...]]] = {
        ("bronze", "usuarios"): (doc | by_user(), ("_record_hash",)),
        ("bronze", "chaves_pix"): (doc | _isin(_key(F.col("chave_pix")), keys), ("_record_hash",)),
        ("bronze", "dispositivos"): (by_user(), ("_record_hash",)),
        ("bronze", "limites_transacoes"): (by_user(), ("_record_hash",)),
        ("bronze", "log_autenticacao"): (by_user(), ("_record_hash",)),
        ("bronze", "transacoes_pix"): (
            _isin(F.trim(F.col("id_transacao")), txs) | _isin(_key(F.col("chave_pix_origem")), keys)
            | _isin(_key(F.col("chave_pix_destino")), keys), ("_record_hash",)),
        ("bronze", "fraudes"): (_isin(F.trim(F.col("id_transacao")), txs), ("_record_hash",)),
        ("bronze", STREAM_TABLE): (
            _isin(_key(F.get_json_object(raw, "$.chave_pix_origem")), keys)
            | _isin(_key(F.get_json_object(raw, "$.chave_pix_destino")), keys)
            | _isin(F.get_json_object(raw, "$.id_transacao"), txs)
            | _isin(F.col("_kafka_key"), keys | ident.raw_values)
            | _contains_any(raw, ident.quoted()),
            ("_kafka_topic", "_kafka_partition", "_kafka_offset")),
        ("bronze", QUARANTINE_TABLE): (_contains_any(F.col("raw_record"), ident.quoted()), ("record_hash",)),
    }
    return t


#: a character that may continue an id: a needle counts in free text only between two others
_ID_CHAR = "A-Za-z0-9._:-"


def _mentions_text(column: Column, needles: Iterable[str]) -> Column:
    """True when the text holds one of ``needles`` as a whole word of id characters (a JSON value, a CSV
    field): ``U1`` is not found in ``U12``. The needles are quoted in the pattern (``\\Q…\\E``)."""
    vals = sorted({n for n in needles if n})
    if not vals:
        return F.lit(False)
    alternatives = "|".join(r"\Q" + n.replace(r"\E", r"\E\\E\Q") + r"\E" for n in vals)
    return F.coalesce(column.rlike(f"(?<![{_ID_CHAR}])(?:{alternatives})(?![{_ID_CHAR}])"), F.lit(False))


# ------------------------------------------------------------------------------- the ledger in refine
#: bronze columns holding a clear document / Pix key: tokenised to be compared with the ledger's tokens
_DOC_COLUMNS: tuple[str, ...] = ("cpf_cnpj",)
_KEY_COLUMNS: tuple[str, ...] = ("chave_pix", "chave_pix_origem", "chave_pix_destino")


def _with_erased_flag(df: DataFrame, table: str, erased: ledger.Erased, settings: Settings) -> DataFrame:
    """``df`` (a bronze table) plus ``_erased``: the row belongs to someone in the ledger (by id or transaction
    id, clear in bronze, or by the token of its document or Pix keys, computed here as silver would)."""
    ids = erased.ids | erased.transactions
    if table == STREAM_TABLE:
        raw = F.col("_raw_value")
        clear = {"_e_o": _key(F.get_json_object(raw, "$.chave_pix_origem")),
                 "_e_d": _key(F.get_json_object(raw, "$.chave_pix_destino")), "_e_k": _key(F.col("_kafka_key"))}
        by_id = _isin(F.trim(F.get_json_object(raw, "$.id_transacao")), ids) | _mentions_text(raw, ids)
    else:
        cols = set(df.columns)
        clear = {f"_e_{c}": C.document(F.col(c)) for c in _DOC_COLUMNS if c in cols}
        clear |= {f"_e_{c}": _key(F.col(c)) for c in _KEY_COLUMNS if c in cols}
        by_id = ledger.mentions(df, ids)
        if "_malformed_line" in cols:
            by_id = by_id | _mentions_text(F.col("_malformed_line"), ids)
        if "raw_record" in cols:  # the quarantine
            by_id = by_id | _mentions_text(F.col("raw_record"), ids)
    out = tokenise(df.withColumns(clear), list(clear), settings.security.pii_secret) if clear else df
    by_token = F.lit(False)
    for c in clear:
        by_token = by_token | _isin(F.col(c), erased.tokens)
    return out.withColumn("_erased", F.coalesce(by_id | by_token, F.lit(False))).drop(*clear)


def exclude_erased(frames: dict[str, DataFrame], settings: Settings) -> dict[str, DataFrame]:
    """The bronze frames of a refine without the rows of anyone in the erasure ledger (a no-op while the
    ledger is empty): an erased person does not come back from bronze versions written before the erasure
    (``--as-of-version``) nor from a later delivery that mentions them again."""
    erased = ledger.load(settings)
    if not erased:
        return frames
    log.info("refine: leaving out the %d erasure ledger value(s)", len(erased.needles))
    return {t: _with_erased_flag(df, t, erased, settings).filter(~F.col("_erased")).drop("_erased")
            for t, df in frames.items()}


# ------------------------------------------------------------------------------------ every Delta table
def lakehouse_tables(settings: Settings) -> dict[tuple[str, str], str]:
    """Every Delta table under the lakehouse, found on disk: ``(layer, table) -> path``."""
    out: dict[tuple[str, str], str] = {}
    for layer in LAYERS:
        root = settings.paths.lakehouse / layer
        if root.is_dir():
            for d in sorted(root.iterdir()):
                if (d / "_delta_log").is_dir():
                    out[(layer, d.name)] = str(d)
    return out


def _derived_cond(df: DataFrame, layer: str, needles: Iterable[str]) -> Column:
    """Silver/gold: a string column equal to a needle, an array holding one; in gold also free text (JSON
    evidence, explanations) holding one."""
    needles = set(needles)
    cond = ledger.mentions(df, needles)
    if layer == "gold":
        for f in df.schema.fields:
            if f.dataType.simpleString() == "string":
                cond = cond | _mentions_text(F.col(f.name), needles)
    return cond


def _key_columns(layer: str, table: str, df: DataFrame) -> tuple[str, ...]:
    """Columns to MERGE-delete by: the table's key when it has one, else every column but maps (whole rows)."""
    if layer == "silver" and table in SILVER_KEYS:
        return tuple(SILVER_KEYS[table])
    if layer == "gold" and table in GOLD_KEYS:
        return (GOLD_KEYS[table],)
    return tuple(f.name for f in df.schema.fields if not f.dataType.simpleString().startswith("map<"))


def _delete_keys(spark: SparkSession, path: str, schema: StructType, keys: list) -> int:
    """MERGE-delete the rows whose key columns equal (null-safe) one of ``keys``; returns rows deleted. The
    condition names columns only: the values travel as the source frame, never as text of the log."""
    from delta.tables import DeltaTable

    source = spark.createDataFrame([tuple(r) for r in keys], schema)
    on = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in schema.fieldNames())
    metrics = DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), on).whenMatchedDelete().execute()
    return int(metrics.first()["num_deleted_rows"])


def _append_only(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    props = DeltaTable.forPath(spark, path).detail().select("properties").first()["properties"] or {}
    return str(props.get("delta.appendOnly", "false")).lower() == "true"


def _erase_table(spark: SparkSession, path: str, cond: Column, key_cols: tuple[str, ...] | None,
                 retention: float) -> int:
    """Find the person's rows in one table, delete them, VACUUM; rows deleted."""
    df = spark.read.format("delta").load(path)
    cols = key_cols or _key_columns("", "", df)
    keys = _collect(df.filter(cond), *cols)
    if not keys:
        return 0
    append_only = _append_only(spark, path)
    if append_only:  # bronze refuses deletes; erasure is the one exception, recorded in its history
        delta.set_properties(spark, path, {"delta.appendOnly": "false"})
    try:
        n = _delete_keys(spark, path, StructType([df.schema[c] for c in cols]), keys)
    finally:
        if append_only:
            delta.set_properties(spark, path, {"delta.appendOnly": "true"})
    delta.vacuum(spark, path, retention)
    return n


def _plan(spark: SparkSession, settings: Settings, ident: Identity, needles: set[str]
          ) -> dict[str, tuple[str, Column, tuple[str, ...] | None]]:
    """``layer/table -> (path, condition, key columns)`` for every Delta table of the lakehouse."""
    bronze = _targets(ident)
    plan: dict[str, tuple[str, Column, tuple[str, ...] | None]] = {}
    for (layer, table), path in lakehouse_tables(settings).items():
        if (layer, table) in bronze:
            cond, cols = bronze[(layer, table)]
            plan[f"{layer}/{table}"] = (path, cond, cols)
        else:
            df = spark.read.format("delta").load(path)
            plan[f"{layer}/{table}"] = (path, _derived_cond(df, layer, needles), _key_columns(layer, table, df))
    return plan


def erase(spark: SparkSession, settings: Settings, cpf_cnpj: str, *, by: str | None = None,
          reason: str | None = None, other_stores: bool = True) -> EraseReport:
    """Record the person with this CPF/CNPJ in the erasure ledger, remove them from every Delta table, VACUUM
    the changed tables, then (``other_stores``) from Neo4j, MLflow artifacts and compacted Kafka topics."""
    t0 = time.monotonic()
    document = re.sub(r"[^0-9]", "", cpf_cnpj or "")
    if len(document) not in (11, 14):
        raise PixringError("--cpf-cnpj must be a CPF (11 digits) or a CNPJ (14 digits)")
    ident = identify(spark, settings, document, settings.lakehouse.parallelism)
    report = erase_identity(spark, settings, ident, by=by, reason=reason, other_stores=other_stores)
    report.seconds = time.monotonic() - t0
    return report


def _devices(spark: SparkSession, settings: Settings, ids: set[str]) -> set[str]:
    """Ids of the devices registered to the accounts ``ids`` (bronze and silver ``dispositivos``)."""
    if not ids:
        return set()
    found: set[str] = set()
    for layer in ("bronze", "silver"):
        df = _read(spark, table_path(settings, layer, "dispositivos"))
        if df is not None:
            found |= _strings(r.id_dispositivo for r in _collect(
                df.filter(F.trim(F.col("id_usuario")).isin(*sorted(ids))), "id_dispositivo"))
    edges = _read(spark, table_path(settings, "gold", "graph_edges"))  # the graph's account -> device edges
    if edges is not None:
        found |= _strings(r.dst for r in _collect(
            edges.filter((F.col("tipo") == "USA") & F.col("src").isin(*sorted(ids))), "dst"))
    return found


def erase_identity(spark: SparkSession, settings: Settings, ident: Identity, *, by: str | None = None,
                   reason: str | None = None, other_stores: bool = True) -> EraseReport:
    """The erasure of an identified person (:func:`identify`): ledger first, then every store."""
    from lakehouse import erase_stores

    t0 = time.monotonic()
    retention = settings.lakehouse.vacuum_retention_hours
    report = EraseReport(mask_document(ident.document), retention)
    report.accounts, report.keys, report.transactions = len(ident.ids), ident.registered_keys, len(ident.transactions)
    devices = _devices(spark, settings, ident.ids) - ident.ids  # a person's devices are theirs too
    report.devices = len(devices)
    ident.ids |= devices
    entry = ledger.Entry(document_token=token(ident.document, settings.security.pii_secret), ids=set(ident.ids),
                         tokens=set(ident.tokens), transactions=set(ident.transactions), erased_by=by or "",
                         reason=reason or ledger.DEFAULT_REASON, vacuum_retention_hours=retention)
    ledger.record(spark, settings, entry)  # first: from here on no stage brings the person back
    report.erasure_id = entry.erasure_id
    erased = ledger.Erased(frozenset(entry.ids), frozenset(entry.tokens | {entry.document_token}),
                           frozenset(entry.transactions))
    with delta.commit_metadata(spark, {"pixring": "erase", "lgpd": True, "erasure_id": entry.erasure_id}), \
            delta.vacuum_conf(spark, retention):
        tasks = {name: (lambda p=path, c=cond, k=cols: _erase_table(spark, p, c, k, retention))
                 for name, (path, cond, cols) in _plan(spark, settings, ident, set(erased.needles)).items()}
        report.deleted = delta.run_parallel(tasks, settings.lakehouse.parallelism)
    if other_stores:
        kafka_keys = ident.raw_values | ident.keys | ident.ids | ident.transactions
        report.stores, report.errors = erase_stores.erase_all(settings, erased, kafka_keys, entry)
    report.seconds = time.monotonic() - t0
    return report


def vacuum_all(spark: SparkSession, settings: Settings) -> list[str]:
    """``pixring erase --vacuum``: VACUUM every lakehouse table with the configured retention (run it once the
    ledger's erasures are past their retention, e.g. daily): the erased rows' old files are then gone."""
    retention = settings.lakehouse.vacuum_retention_hours
    tables = lakehouse_tables(settings)
    with delta.vacuum_conf(spark, retention):
        delta.run_parallel({f"{layer}/{t}": (lambda p=p: delta.vacuum(spark, p, retention))
                            for (layer, t), p in tables.items()}, settings.lakehouse.parallelism)
    return [f"{layer}/{t}" for layer, t in tables]


# ------------------------------------------------------------------------------------------------ verify
@dataclass
class VerifyReport:
    subject: str
    ledger: str
    #: (store, present: True / False / None = could not be checked, detail)
    stores: list[tuple[str, bool | None, str]] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return any(p is True for _, p, _ in self.stores)

    def __str__(self) -> str:
        word = {True: "PRESENT", False: "absent", None: "unchecked"}
        lines = [f"verify {self.subject}: {self.ledger}"]
        lines += [f"  {word[p]:9s} {store:40s} {detail}" for store, p, detail in self.stores]
        n = sum(1 for _, p, _ in self.stores if p)
        lines.append(f"  {'PRESENT in ' + str(n) + ' store(s)' if n else 'absent from every store checked'}")
        return "\n".join(lines)


def _subject(settings: Settings, ident: str) -> tuple[str, str | None, ledger.Erased, str]:
    """``(masked subject, clear document or None, needles, what the ledger says)`` for ``--verify ID``."""
    value = (ident or "").strip()
    digits = re.sub(r"[.\-/ ]", "", value)
    document = digits if digits.isdigit() and len(digits) in (11, 14) else None
    doc_token = token(document, settings.security.pii_secret) if document else None
    for e in ledger.entries(settings):
        if (doc_token and e["document_token"] == doc_token) or value in (e["ids"] or []) \
                or value in (e["transactions"] or []):
            erased = ledger.Erased(frozenset(e["ids"]), frozenset(e["tokens"]), frozenset(e["transactions"]))
            note = (f"erasure {e['erasure_id']} recorded {e['erased_at']:%Y-%m-%d %H:%M} UTC by {e['erased_by']} "
                    f"({e['reason']}); old Delta files kept until "
                    f"{e['erased_at'] + timedelta(hours=e['vacuum_retention_hours']):%Y-%m-%d %H:%M} UTC at most")
            return (mask_document(document) if document else value), document, erased, note
    erased = ledger.Erased(frozenset() if document else frozenset({value}),
                           frozenset({doc_token}) if doc_token else frozenset())
    return (mask_document(document) if document else value), document, erased, "no erasure recorded in the ledger"


def verify(spark: SparkSession, settings: Settings, ident: str, *, other_stores: bool = True) -> VerifyReport:
    """Scan every store for the person (CPF/CNPJ, account id or transaction id): each Delta table's current
    version and (``other_stores``) Neo4j, MLflow artifacts, the API and what Kafka's retention still holds."""
    from lakehouse import erase_stores

    subject, document, erased, note = _subject(settings, ident)
    report = VerifyReport(subject, note)

    def count(layer: str, table: str, path: str) -> int:
        df = spark.read.format("delta").load(path)
        if layer == "bronze":
            flagged = _with_erased_flag(df, table, erased, settings)
            cond = F.col("_erased")
            if document:
                for c in ("cpf_cnpj", "_malformed_line", "_raw_value", "raw_record"):
                    if c in df.columns:
                        cond = cond | F.coalesce(F.col(c).contains(document), F.lit(False))
            return flagged.filter(cond).count()
        return df.filter(_derived_cond(df, layer, erased.needles)).count()

    tables = lakehouse_tables(settings)
    counts = delta.run_parallel({f"{layer}/{t}": (lambda layer=layer, t=t, p=p: count(layer, t, p))
                                 for (layer, t), p in tables.items()}, settings.lakehouse.parallelism)
    for name, n in counts.items():
        report.stores.append((f"delta {name}", n > 0, f"{n:,d} row(s)" if n else "current version"))
    if other_stores:
        report.stores += erase_stores.scan_all(settings, erased)
    return report

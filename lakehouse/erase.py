"""``pixring erase --cpf-cnpj X``: LGPD erasure of one person from every layer.

1. *Identify* the person: their accounts (``id_usuario``) and e-mails/phones from bronze ``usuarios``
   (and silver, by token), their Pix keys from ``chaves_pix``, and every transaction that has one of
   their keys on either side (file and Kafka bronze, silver) with the fraud claims on those transactions.
2. *Delete* the matching rows from every table: bronze (``delta.appendOnly`` is lifted for the one
   commit and restored), the quarantine (raw records mentioning any identifier), silver and gold. Rows are
   deleted with ``MERGE ... WHEN MATCHED THEN DELETE`` against a list of row keys, so the person's CPF,
   e-mail or phone never appear in a predicate recorded in a Delta transaction log.
3. *VACUUM* every table that changed with the retention settings allow
   (``PIXRING_LAKEHOUSE_VACUUM_RETENTION_HOURS``; 0 removes the old files at once, the default 168 h keeps
   time travel for a week and removes them on the first VACUUM after that).

Outside the lakehouse and not erased here: the source files under the datagen folder and the Kafka
topic's retained messages (they expire with the topic retention); the report says so.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse import delta
from lakehouse.paths import table_path
from lakehouse.schemas import FILES, GOLD_KEYS, QUARANTINE_TABLE, SILVER, SILVER_KEYS, STREAM_TABLE
from lakehouse.transforms import conform as C
from lakehouse.transforms.tokenise import token
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
    deleted: dict[str, int] = field(default_factory=dict)
    accounts: int = 0
    keys: int = 0
    transactions: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def __str__(self) -> str:
        lines = [
            f"erase {self.masked_document}: {self.accounts} account(s), {self.keys} key(s), "
            f"{self.transactions} transaction(s) found; {self.total:,d} rows deleted ({self.seconds:.1f} s)",
        ]
        for table, n in self.deleted.items():
            lines.append(f"  {table:34s} {n:>8,d}")
        lines.append(f"  VACUUM retention {self.retention_hours:g} h on every changed table"
                     + (" (old files removed now)" if self.retention_hours == 0 else
                        " (old files stay readable by time travel until then)"))
        lines.append("  not covered: the source files outside the lakehouse and messages retained in Kafka")
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
    """(layer, table) -> (filter selecting the person's rows, key columns to delete them by)."""
    ids, keys, toks, txs = ident.ids, ident.keys, ident.tokens, ident.transactions
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
        ("silver", "usuarios"): (_isin(F.col("cpf_cnpj"), toks) | _isin(F.col("id_usuario"), ids), None),
        ("silver", "chaves_pix"): (
            _isin(F.col("cpf_cnpj"), toks) | _isin(F.col("chave_pix"), toks) | _isin(F.col("id_usuario"), ids), None),
        ("silver", "dispositivos"): (_isin(F.col("id_usuario"), ids), None),
        ("silver", "limites_transacoes"): (_isin(F.col("id_usuario"), ids), None),
        ("silver", "log_autenticacao"): (_isin(F.col("id_usuario"), ids), None),
        ("silver", "transacoes_pix"): (
            _isin(F.col("id_transacao"), txs) | _isin(F.col("chave_pix_origem"), toks)
            | _isin(F.col("chave_pix_destino"), toks) | _isin(F.col("id_usuario_origem"), ids)
            | _isin(F.col("id_usuario_destino"), ids), None),
        ("silver", "fraudes"): (_isin(F.col("id_transacao"), txs), None),
        ("gold", "features_usuario"): (_isin(F.col("id_usuario"), ids), None),
        ("gold", "features_chave"): (_isin(F.col("chave_pix"), toks) | _isin(F.col("id_usuario"), ids), None),
    }
    keyed: dict[tuple[str, str], tuple[Column, tuple[str, ...]]] = {}
    for (layer, table), (cond, cols) in t.items():
        if cols is None:
            cols = tuple(SILVER_KEYS[table]) if layer == "silver" else (GOLD_KEYS[table],)
        keyed[(layer, table)] = (cond, cols)
    return keyed


def _delete_keys(spark: SparkSession, path: str, schema: StructType, keys: list) -> int:
    """MERGE-delete the rows whose key columns equal one of ``keys``; returns rows deleted."""
    from delta.tables import DeltaTable

    source = spark.createDataFrame([tuple(r) for r in keys], schema)
    on = " AND ".join(f"t.`{c}` = s.`{c}`" for c in schema.fieldNames())
    metrics = DeltaTable.forPath(spark, path).alias("t").merge(source.alias("s"), on).whenMatchedDelete().execute()
    return int(metrics.first()["num_deleted_rows"])


def _erase_table(
    spark: SparkSession, settings: Settings, layer: str, table: str, cond: Column, key_cols: tuple[str, ...],
    retention: float,
) -> int | None:
    """Find the person's rows in one table, delete them, VACUUM; rows deleted (None: no such table)."""
    path = table_path(settings, layer, table)
    df = _read(spark, path)
    if df is None:
        return None
    keys = _collect(df.filter(cond), *key_cols)
    if not keys:
        return 0
    append_only = layer == "bronze" and table != QUARANTINE_TABLE
    if append_only:  # bronze refuses deletes; erasure is the one exception, recorded in its history
        delta.set_properties(spark, path, {"delta.appendOnly": "false"})
    try:
        n = _delete_keys(spark, path, StructType([df.schema[c] for c in key_cols]), keys)
    finally:
        if append_only:
            delta.set_properties(spark, path, {"delta.appendOnly": "true"})
    delta.vacuum(spark, path, retention)
    return n


def erase(spark: SparkSession, settings: Settings, cpf_cnpj: str) -> EraseReport:
    """Remove the person with this CPF/CNPJ from every layer, then VACUUM the changed tables."""
    t0 = time.monotonic()
    document = re.sub(r"[^0-9]", "", cpf_cnpj or "")
    if len(document) not in (11, 14):
        raise PixringError("--cpf-cnpj must be a CPF (11 digits) or a CNPJ (14 digits)")
    retention = settings.lakehouse.vacuum_retention_hours
    report = EraseReport(mask_document(document), retention)
    ident = identify(spark, settings, document, settings.lakehouse.parallelism)
    report.accounts, report.keys, report.transactions = len(ident.ids), ident.registered_keys, len(ident.transactions)
    with delta.commit_metadata(spark, {"pixring": "erase", "lgpd": True}), delta.vacuum_conf(spark, retention):
        tasks = {
            f"{layer}/{table}": (lambda layer=layer, table=table, cond=cond, cols=cols:
                                 _erase_table(spark, settings, layer, table, cond, cols, retention))
            for (layer, table), (cond, cols) in _targets(ident).items()
        }
        deleted = delta.run_parallel(tasks, settings.lakehouse.parallelism)
    report.deleted = {name: n for name, n in deleted.items() if n is not None}
    report.seconds = time.monotonic() - t0
    return report

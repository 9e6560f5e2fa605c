"""Every lakehouse table's schema, once, as Spark ``StructType``s, plus the table-level rules.

The data contract of the input files (column names, enum values, primary keys, the money type, the
Kafka message's version) is imported from :mod:`pixring.contract`; nothing here repeats it.

Layers:

* **bronze** – every input column as a string, exactly as received, plus ingestion metadata
  (``_source_file``, ``_ingested_at``, ``_batch_id``, ``_record_hash``; file tables also keep
  ``_malformed_line``, the raw CSV line when it had the wrong number of fields). The Kafka stream lands in
  its own bronze table (:data:`STREAM_TABLE`) as raw records. Bronze tables are ``delta.appendOnly``.
  The quarantine and the ingest log also live under ``bronze/`` because the quarantine keeps raw
  records (clear PII) and must be governed like bronze.
* **silver** – typed, deduplicated, conformed, PII replaced by HMAC tokens (64 hex) or masked, enriched.
* **gold** – per-user and per-key behaviour features.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from pixring.contract import (
    COLUMN_TYPES,
    COLUMNS,
    ENUMS,
    FILES,
    MONEY_PRECISION,
    MONEY_SCALE,
    PRIMARY_KEYS,
    STREAM_SCHEMA_VERSION,
)

__all__ = [
    "COLUMNS", "COLUMN_TYPES", "ENUMS", "FILES", "PRIMARY_KEYS",
    "MONEY", "META_COLUMNS", "STREAM_TABLE", "QUARANTINE_TABLE", "INGEST_LOG_TABLE", "RECONCILIATION_TABLE",
    "BRONZE", "BRONZE_STREAM", "INGEST_LOG", "QUARANTINE", "SILVER", "RECONCILIATION", "GOLD",
    "SILVER_KEYS", "SILVER_PARTITIONS", "SILVER_CHECKS", "GOLD_KEYS", "TOKEN_COLUMNS", "MASKED_COLUMNS",
    "STREAM_SCHEMA_VERSION",
]

#: The contract's money type as Spark's (every lakehouse, graph and stream table uses this one).
MONEY: Final[DecimalType] = DecimalType(MONEY_PRECISION, MONEY_SCALE)

STREAM_TABLE: Final[str] = "transacoes_pix_stream"
QUARANTINE_TABLE: Final[str] = "quarantine"
INGEST_LOG_TABLE: Final[str] = "_ingest_log"
RECONCILIATION_TABLE: Final[str] = "reconciliation"


def _f(name: str, dtype: DataType, nullable: bool = True) -> StructField:
    return StructField(name, dtype, nullable)


def _s(name: str, nullable: bool = True) -> StructField:
    return StructField(name, StringType(), nullable)


# ---------------------------------------------------------------------------------------------- bronze
#: Ingestion metadata carried by every bronze row.
META_FIELDS: Final[list[StructField]] = [
    _s("_source_file", False),
    _f("_ingested_at", TimestampType(), False),
    _s("_batch_id", False),
    _s("_record_hash", False),
]
META_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in META_FIELDS)

#: File tables: all input columns as strings, the raw line of a malformed CSV row, then the metadata.
BRONZE: Final[dict[str, StructType]] = {
    name: StructType([_s(c) for c in COLUMNS[name]] + [_s("_malformed_line")] + META_FIELDS) for name in FILES
}

#: The Kafka topic ``pix.transacoes``, record by record as received (the value is not parsed here).
BRONZE_STREAM: Final[StructType] = StructType([
    _s("_kafka_topic", False),
    _f("_kafka_partition", IntegerType(), False),
    _f("_kafka_offset", LongType(), False),
    _f("_kafka_timestamp", TimestampType()),
    _s("_kafka_key"),
    _s("_raw_value"),
    *META_FIELDS,
])

#: One row per landed batch (a file or a stream micro-batch); its versions define "as of version N".
INGEST_LOG: Final[StructType] = StructType([
    _s("bronze_table", False),
    _s("kind", False),  # file | stream
    _s("source", False),
    _s("sha256"),
    _f("bytes", LongType()),
    _f("rows", LongType(), False),
    _s("batch_id", False),
    _f("bronze_version", LongType(), False),
    _f("ingested_at", TimestampType(), False),
    _s("status", False),  # ingested | recovered
])

#: Rows that failed validation, with why, and the raw record (JSON of the bronze columns, or the Kafka value).
QUARANTINE: Final[StructType] = StructType([
    _s("bronze_table", False),
    _s("batch_id", False),
    _s("source", False),
    _s("reason", False),
    _f("reasons", ArrayType(StringType()), False),
    _s("raw_record"),
    _s("record_hash", False),
    _f("ingested_at", TimestampType(), False),
])

# ---------------------------------------------------------------------------------------------- silver
LINEAGE_FIELDS: Final[list[StructField]] = [
    _s("_batch_id", False),
    _s("_record_hash", False),
    _f("_ingested_at", TimestampType(), False),
]

_TS = TimestampType()

SILVER: Final[dict[str, StructType]] = {
    "usuarios": StructType([
        _s("id_usuario", False),
        _s("cpf_cnpj", False),  # token
        _s("tipo_pessoa", False),  # PF | PJ
        _s("nome", False),  # masked
        _s("email", False),  # token
        _s("email_dominio", False),
        _s("telefone", False),  # token of the E.164 number
        _f("data_cadastro", _TS, False),
        _s("status", False),
        *LINEAGE_FIELDS,
    ]),
    "chaves_pix": StructType([
        _s("chave_pix", False),  # token
        _s("tipo_chave", False),
        _s("cpf_cnpj", False),  # token
        _s("tipo_pessoa", False),
        _s("nome_titular", False),  # masked
        _f("data_cadastro", _TS, False),
        _s("status", False),
        _s("id_usuario"),  # holder's account, when the holder is a user of this institution
        *LINEAGE_FIELDS,
    ]),
    "dispositivos": StructType([
        _s("id_dispositivo", False),
        _s("id_usuario", False),
        _s("tipo_dispositivo", False),
        _f("data_registro", _TS, False),
        _s("status", False),
        *LINEAGE_FIELDS,
    ]),
    "fraudes": StructType([
        _s("id_fraude", False),
        _s("id_transacao", False),
        _s("tipo_fraude", False),
        _f("data_deteccao", _TS, False),
        _f("valor_fraude", MONEY, False),
        _s("status", False),
        *LINEAGE_FIELDS,
    ]),
    "limites_transacoes": StructType([
        _s("id_usuario", False),
        _f("limite_diario", MONEY, False),
        _f("limite_por_transacao", MONEY, False),
        _f("data_atualizacao", _TS, False),
        *LINEAGE_FIELDS,
    ]),
    "log_autenticacao": StructType([
        _s("id_log", False),
        _s("id_usuario", False),
        _f("timestamp", _TS, False),
        _s("tipo_autenticacao", False),
        _s("status", False),
        _s("id_dispositivo", False),
        *LINEAGE_FIELDS,
    ]),
    "transacoes_pix": StructType([
        _s("id_transacao", False),
        _f("timestamp", _TS, False),
        _f("data", DateType(), False),  # partition column (local date)
        _f("valor", MONEY, False),
        _s("chave_pix_origem", False),  # token
        _s("chave_pix_destino", False),  # token
        _s("tipo_transacao", False),
        _s("status", False),
        _s("tipo_chave_origem"),
        _s("tipo_chave_destino"),
        _s("id_usuario_origem"),
        _s("id_usuario_destino"),
        _f("idade_chave_origem_h", DoubleType()),
        _f("idade_chave_destino_h", DoubleType()),
        _f("idade_conta_origem_h", DoubleType()),
        _f("idade_conta_destino_h", DoubleType()),
        _f("noturna", BooleanType(), False),
        _s("id_dispositivo_login"),  # device of the origin user's preceding successful login
        _f("timestamp_login", _TS),
        _f("dispositivo_novo", BooleanType()),  # that device was first seen shortly before
        _s("canal", False),  # arquivo | kafka
        *LINEAGE_FIELDS,
    ]),
}

#: Natural id of every silver table (the MERGE key).
SILVER_KEYS: Final[dict[str, tuple[str, ...]]] = dict(PRIMARY_KEYS)
SILVER_PARTITIONS: Final[dict[str, tuple[str, ...]]] = {"transacoes_pix": ("data",)}

#: Columns holding HMAC tokens, per silver table, and columns holding masked values.
TOKEN_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "usuarios": ("cpf_cnpj", "email", "telefone"),
    "chaves_pix": ("chave_pix", "cpf_cnpj"),
    "transacoes_pix": ("chave_pix_origem", "chave_pix_destino"),
}
MASKED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {"usuarios": ("nome",), "chaves_pix": ("nome_titular",)}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _token(column: str) -> str:
    return f"{column} RLIKE '^[0-9a-f]{{64}}$'"


def _silver_checks() -> dict[str, dict[str, str]]:
    checks: dict[str, dict[str, str]] = {name: {} for name in SILVER}
    for (table, column), values in ENUMS.items():
        checks[table][f"{column}_conhecido"] = _in(column, values)
    for table, columns in TOKEN_COLUMNS.items():
        for column in columns:
            checks[table][f"{column}_e_token"] = _token(column)
    checks["transacoes_pix"]["valor_positivo"] = "valor > 0"
    checks["fraudes"]["valor_fraude_positivo"] = "valor_fraude > 0"
    checks["limites_transacoes"]["limite_diario_positivo"] = "limite_diario > 0"
    checks["limites_transacoes"]["limite_por_transacao_positivo"] = "limite_por_transacao > 0"
    checks["usuarios"]["tipo_pessoa_conhecido"] = _in("tipo_pessoa", ("PF", "PJ"))
    checks["chaves_pix"]["tipo_pessoa_conhecido"] = _in("tipo_pessoa", ("PF", "PJ"))
    checks["transacoes_pix"]["canal_conhecido"] = _in("canal", ("arquivo", "kafka"))
    return checks


#: Delta CHECK constraints per silver table (name -> SQL). Token columns must hold 64-hex tokens, so
#: a clear CPF, e-mail or phone can never be written to silver by mistake.
SILVER_CHECKS: Final[dict[str, dict[str, str]]] = _silver_checks()

#: Reconciliation of every refine run: per bronze table and batch,
#: bronze = silver + quarantine + duplicates + conflicts.
RECONCILIATION: Final[StructType] = StructType([
    _s("refine_id", False),
    _f("refined_at", TimestampType(), False),
    _s("bronze_as_of", False),
    _s("bronze_table", False),
    _s("batch_id", False),
    _f("bronze", LongType(), False),
    _f("silver", LongType(), False),
    _f("quarantine", LongType(), False),
    _f("duplicates", LongType(), False),
    _f("ok", BooleanType(), False),
    _f("conflicts", LongType()),  # added after the first release: NULL in older rows (read as 0)
])

# ------------------------------------------------------------------------------------------------ gold
_L, _D, _M2 = LongType(), DoubleType(), MONEY

#: Behaviour features shared by users and keys ("in" = received, "out" = sent; effective transactions,
#: i.e. ``concluida`` or ``em_processamento``).
_BEHAVIOUR: Final[list[StructField]] = [
    _f("n_tx_out", _L, False),
    _f("n_tx_in", _L, False),
    _f("valor_out", _M2, False),
    _f("valor_in", _M2, False),
    _f("max_tx_out_1h", _L, False),  # velocity: most transactions in any sliding hour
    _f("max_tx_out_24h", _L, False),
    _f("max_tx_in_1h", _L, False),
    _f("max_tx_in_24h", _L, False),
    _f("max_valor_out_24h", _M2, False),
    _f("n_contrapartes_out", _L, False),
    _f("n_contrapartes_in", _L, False),
    _f("pct_noturno", _D, False),  # share of the entity's transactions between 20:00 and 06:00
    _f("idade_na_primeira_tx_h", _D),  # account (user) or key age at its first transaction
    _f("idade_media_tx_h", _D),  # mean account/key age at transaction
    _f("valor_repassado_1h", _M2, False),  # received funds sent on within an hour
    _f("pct_repasse_1h", _D, False),
    _f("n_tx_rejeitadas_out", _L, False),
    _f("primeira_tx", TimestampType()),
    _f("ultima_tx", TimestampType()),
]

GOLD: Final[dict[str, StructType]] = {
    "features_usuario": StructType([
        _s("id_usuario", False),
        _s("tipo_pessoa"),
        *_BEHAVIOUR,
        _f("n_tx_dispositivo_novo", _L, False),  # new-device-then-transfer
        _f("pct_tx_dispositivo_novo", _D, False),
        _f("n_chaves", _L, False),
        _f("n_dispositivos", _L, False),
    ]),
    "features_chave": StructType([
        _s("chave_pix", False),  # token
        _s("tipo_chave"),
        _s("id_usuario"),
        *_BEHAVIOUR,
    ]),
}
GOLD_KEYS: Final[dict[str, str]] = {"features_usuario": "id_usuario", "features_chave": "chave_pix"}

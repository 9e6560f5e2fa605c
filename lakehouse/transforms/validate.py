"""Validation: every bronze row is checked and classified as ``silver``, ``quarantine`` or ``duplicate``.

Nothing is dropped: a row either passes every rule and is the chosen version of its natural id
(``silver``), passes every rule but another version of the same id was chosen (``duplicate``), passes
every rule but another version of the same id has *different content* and nothing says which one is
right (``conflict``: every such version is quarantined with ``conflict:<id column>``), or fails at least
one rule (``quarantine``, with the list of reasons). Reason codes are ``<rule>:<column>``, listed with
their meaning in :data:`REASONS` (and in ``docs/contract.md``, generated from this module).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.schemas import (
    COLUMN_TYPES,
    COLUMNS,
    ENUMS,
    META_COLUMNS,
    PRIMARY_KEYS,
    STREAM_SCHEMA_VERSION,
)
from lakehouse.transforms import conform as C
from pixring.contract import ID_COLUMNS, ID_RE

#: Shape every bronze source is brought to before validation (besides the contract columns).
PREPARED_EXTRA: tuple[str, ...] = (
    "_malformed_line", *META_COLUMNS, "_bronze_table", "_canal", "_seq", "_raw_value", "_reasons",
)
STATUS_SILVER, STATUS_QUARANTINE, STATUS_DUPLICATE = "silver", "quarantine", "duplicate"
STATUS_CONFLICT = "conflict"

#: Every reason code (``<rule>`` or ``<rule>:<column>``) and what it means.
REASONS: dict[str, str] = {
    "malformed_row": "CSV line with the wrong number of fields (the raw line is kept)",
    "bad_json": "Kafka value that is not a JSON object",
    "unsupported_schema_version": f"Kafka JSON without `\"schema_version\": {STREAM_SCHEMA_VERSION}`",
    "unexpected_fields": "Kafka JSON with fields the contract does not have",
    "missing": "required field NULL or blank (every contract field is required)",
    "too_long": "longer than `PIXRING_LAKEHOUSE_MAX_FIELD_CHARS` (512)",
    "bad_id": "id outside the id rule: 1-64 characters of `A-Za-z0-9._:-`, the first a letter or a digit",
    "bad_timestamp": "not one of the accepted timestamp forms, or an impossible date (`2026-13-45`)",
    "bad_number": "money that is not a plain decimal with at most two decimals",
    "not_positive": "money <= 0",
    "bad_enum": "value outside the contract's enum; `bad_enum:<col>=<value>` names the value when it is a "
                "code (a letter, then up to 31 of `A-Za-z0-9_.-`, no run of 5 digits), so a document or an "
                "e-mail in the wrong column never reaches a reason",
    "bad_document": "CPF/CNPJ with the wrong length or check digits (punctuation is allowed and dropped)",
    "bad_key_format": "Pix key not a valid CPF, CNPJ, e-mail, +55 phone or UUID (in `chaves_pix`: not valid "
                      "as its declared `tipo_chave`)",
    "key_not_holder_document": "a CPF/CNPJ key that is not its holder's own document",
    "bad_email": "not an e-mail address",
    "bad_phone": "not convertible to a Brazilian E.164 number",
    "unknown_key": "transaction key not among the valid `chaves_pix` keys",
    "unknown_user": "user id not among the valid `usuarios`",
    "unknown_transaction": "fraud claim on a transaction not among the valid `transacoes_pix`",
    "conflict": "valid versions of one id with different content that nothing orders (every such version "
                "is quarantined, the id has no silver row)",
}

#: Events: a row never changes once it happened, so *any* two valid versions of one id with different
#: content are a conflict. The other tables are entities whose later deliveries update them (a key
#: deactivated, a limit raised): only versions that nothing orders (same business version, same
#: ingestion, same Kafka offset) and that differ are a conflict.
IMMUTABLE: frozenset[str] = frozenset({"transacoes_pix", "log_autenticacao"})
#: An unknown enum value is named in its reason only when it looks like a code (a short word without a
#: run of digits), so that a document, phone or e-mail in the wrong column never reaches a reason.
SAFE_ENUM_VALUE_RE = r"^[A-Za-z][A-Za-z0-9_.\-]{0,31}$"

#: Business version column: the row with the latest value wins among valid duplicates (then the latest
#: ingestion, then the latest Kafka offset).
VERSION_COLUMN: dict[str, str] = {"limites_transacoes": "data_atualizacao"}

_DOCUMENT_COLUMNS = {("usuarios", "cpf_cnpj"), ("chaves_pix", "cpf_cnpj")}
_ANY_KEY_COLUMNS = {("transacoes_pix", "chave_pix_origem"), ("transacoes_pix", "chave_pix_destino")}


def _no_reasons() -> Column:
    return F.array().cast("array<string>")


def prepare_file(df: DataFrame, table: str, keep: tuple[str, ...] = ()) -> DataFrame:
    """A bronze file table in the prepared shape (plus the ``keep`` columns, carried along untouched)."""
    return df.select(
        *keep,
        *COLUMNS[table],
        "_malformed_line",
        *META_COLUMNS,
        F.lit(table).alias("_bronze_table"),
        F.lit("arquivo").alias("_canal"),
        F.lit(None).cast("long").alias("_seq"),
        F.lit(None).cast("string").alias("_raw_value"),
        F.when(F.col("_malformed_line").isNotNull(), F.array(F.lit("malformed_row")))
        .otherwise(_no_reasons()).alias("_reasons"),
    )


def prepare_stream(df: DataFrame, table: str = "transacoes_pix_stream") -> DataFrame:
    """The bronze Kafka table (raw records) parsed into the prepared ``transacoes_pix`` shape.

    The value is parsed as a flat JSON object of strings; a value that is not one is kept (``bad_json``),
    as are values of another schema version and values carrying fields the contract does not know.
    """
    columns = COLUMNS["transacoes_pix"]
    allowed = F.array(*[F.lit(c) for c in ("schema_version", *columns)])
    m = F.from_json(F.col("_raw_value"), "map<string,string>")
    parsed = df.withColumn("_m", m)
    extra = F.array_except(F.map_keys(F.col("_m")), allowed)
    version = F.col("_m").getItem("schema_version")
    reasons = F.array(
        F.when(F.col("_m").isNull(), F.lit("bad_json")),
        F.when(F.col("_m").isNotNull() & ~F.coalesce(version == str(STREAM_SCHEMA_VERSION), F.lit(False)),
               F.lit("unsupported_schema_version")),
        F.when(F.size(extra) > 0, F.lit("unexpected_fields")),
    )
    return parsed.select(
        *[F.col("_m").getItem(c).alias(c) for c in columns],
        F.lit(None).cast("string").alias("_malformed_line"),
        *META_COLUMNS,
        F.lit(table).alias("_bronze_table"),
        F.lit("kafka").alias("_canal"),
        F.col("_kafka_offset").alias("_seq"),
        F.col("_raw_value"),
        F.filter(reasons, lambda r: r.isNotNull()).alias("_reasons"),
    )


def column_checks(table: str, column: str) -> list[str]:
    """The rules one contract column is checked against, in the order they are tried (the first that fails
    is the column's reason, ``<rule>:<column>``). ``docs/contract.md`` is generated from this list."""
    kind = COLUMN_TYPES[table][column]
    checks = ["missing", "too_long"]
    if column in ID_COLUMNS:
        checks.append("bad_id")
    if kind == "ts":
        checks.append("bad_timestamp")
    elif kind == "money":
        checks += ["bad_number", "not_positive"]
    if (table, column) in ENUMS:
        checks.append("bad_enum")
    if (table, column) in _DOCUMENT_COLUMNS:
        checks.append("bad_document")
    if (table, column) in _ANY_KEY_COLUMNS or (table, column) == ("chaves_pix", "chave_pix"):
        checks.append("bad_key_format")
    if (table, column) == ("usuarios", "email"):
        checks.append("bad_email")
    if (table, column) == ("usuarios", "telefone"):
        checks.append("bad_phone")
    return checks


def _enum_reason(table: str, column: str) -> Column:
    c = F.col(f"_c_{column}")
    safe = c.rlike(SAFE_ENUM_VALUE_RE) & ~c.rlike("[0-9]{5}")
    return F.when(safe, F.concat(F.lit(f"bad_enum:{column}="), c)).otherwise(F.lit(f"bad_enum:{column}"))


def _fails(table: str, column: str, check: str, max_chars: int) -> Column:
    """The condition under which ``column`` fails ``check`` (on a :func:`stage`d frame)."""
    raw, c, v = F.col(column), F.col(f"_c_{column}"), F.col(f"_v_{column}")
    if check == "missing":
        return c.isNull()
    if check == "too_long":
        return F.length(raw) > max_chars
    if check == "bad_id":
        return ~c.rlike(ID_RE)
    if check in ("bad_timestamp", "bad_number"):
        return v.isNull()
    if check == "not_positive":
        return v <= 0
    if check == "bad_enum":
        return ~c.isin(*ENUMS[(table, column)])
    if check == "bad_document":
        return ~F.col(f"_ok_{column}")
    if check == "bad_key_format" and table == "chaves_pix":  # valid as the declared type
        return ~F.coalesce(F.col(f"_kt_{column}") == F.col("_c_tipo_chave"), F.lit(False))
    if check == "bad_key_format":
        return F.col(f"_kt_{column}").isNull()
    if check == "bad_email":
        return ~v.rlike(C.EMAIL_RE)
    if check == "bad_phone":
        return ~v.rlike(C.PHONE_RE)
    raise ValueError(f"unknown check {check}")  # pragma: no cover


def _column_rule(table: str, column: str, max_chars: int) -> Column:
    """The first failing rule of one column, as a reason code, or NULL (on a :func:`stage`d frame)."""
    rule = None
    for check in column_checks(table, column):
        cond = _fails(table, column, check, max_chars)
        reason = _enum_reason(table, column) if check == "bad_enum" else F.lit(f"{check}:{column}")
        rule = F.when(cond, reason) if rule is None else rule.when(cond, reason)
    return rule


def _table_rules(table: str) -> list[Column]:
    rules: list[Column] = []
    if table == "chaves_pix":
        rules.append(F.when(
            F.col("_c_tipo_chave").isin("cpf", "cnpj") & (F.col("_v_chave_pix") != F.col("_v_cpf_cnpj")),
            F.lit("key_not_holder_document"),
        ))
    return rules


def add_reasons(df: DataFrame, *reasons: Column) -> DataFrame:
    """Append the non-NULL ``reasons`` to ``_reasons``."""
    new = F.filter(F.array(*reasons), lambda r: r.isNotNull())
    return df.withColumn("_reasons", F.concat(F.col("_reasons"), new))


def validate(df: DataFrame, table: str, max_chars: int) -> DataFrame:
    """Row-level rules (types, formats, enums, lengths) of a prepared frame -> ``_reasons`` extended.

    The frame is :func:`~lakehouse.transforms.conform.stage`d first; the ``_c_*``/``_v_*`` columns stay
    (references, deduplication and the silver projection use them).
    """
    staged = C.stage(df, table)
    checks = {f"_ok_{c}": C.is_valid_document(F.col(f"_v_{c}")) for t, c in _DOCUMENT_COLUMNS if t == table}
    checks |= {f"_kt_{c}": C.key_type(F.col(f"_v_{c}")) for t, c in _ANY_KEY_COLUMNS if t == table}
    if table == "chaves_pix":
        checks["_kt_chave_pix"] = C.key_type(F.col("_v_chave_pix"))
    if checks:
        staged = staged.withColumns(checks)
    rules = [_column_rule(table, c, max_chars) for c in COLUMNS[table]] + _table_rules(table)
    return add_reasons(staged, *rules).drop(*checks)


def natural_key(table: str) -> list[Column]:
    """The natural id of a row as compared for deduplication and references (conformed)."""
    return [F.col(f"_v_{c}") for c in PRIMARY_KEYS[table]]


def valid_keys(classified: DataFrame, key: Column) -> DataFrame:
    """Distinct conformed values of ``key`` over the rows chosen for silver (a reference target)."""
    return classified.filter(F.col("_status") == STATUS_SILVER).select(key.alias("_ref")).distinct()


def check_reference(df: DataFrame, column: str, parent: DataFrame, reason: str) -> DataFrame:
    """``reason:column`` for rows whose conformed ``column`` is not in ``parent._ref``."""
    value = F.col(f"_v_{column}")
    tag = f"_ref_{column}"
    joined = df.join(parent.withColumnRenamed("_ref", tag), value == F.col(tag), "left")
    out = add_reasons(
        joined, F.when(value.isNotNull() & F.col(tag).isNull(), F.lit(f"{reason}:{column}"))
    )
    return out.drop(tag)


def conflict_reason(table: str) -> str:
    """``conflict:<id column>`` (``+``-joined for a composite key)."""
    return f"conflict:{'+'.join(PRIMARY_KEYS[table])}"


def classify(df: DataFrame, table: str) -> DataFrame:
    """``_status`` for every row: quarantine (any reason); else conflict; else silver for the winning
    version of its natural id; else duplicate.

    Versions of one id are ordered by the business version (limits), then the latest ingestion, then the
    latest Kafka offset. Their *content* is compared on the conformed values (``_v_*``, so ``10.5`` and
    ``10.50`` or a CPF with and without punctuation are the same content). A conflict is: for an event
    table (:data:`IMMUTABLE`) any valid versions that differ – all of them are quarantined; for an entity
    table the versions tied at the top of that order that differ – those are quarantined, the older ones
    stay duplicates, and the id has no silver row until a newer delivery settles it. Conflict rows get the
    single reason :func:`conflict_reason`.
    """
    valid = F.size(F.col("_reasons")) == 0
    order: list[Column] = []
    if table in VERSION_COLUMN:
        order.append(F.col(f"_v_{VERSION_COLUMN[table]}").desc_nulls_last())
    order += [F.col("_ingested_at").desc(), F.col("_seq").desc_nulls_last()]
    by_key = Window.partitionBy(valid, *natural_key(table))
    content = F.xxhash64(*[F.col(f"_v_{c}") for c in COLUMNS[table]])
    out = df.withColumn("_content", content)
    if table in IMMUTABLE:
        out = out.withColumn("_top", F.lit(True))
    else:
        out = out.withColumn("_top", F.rank().over(by_key.orderBy(*order)) == 1)
    top_content = F.when(F.col("_top"), F.col("_content"))
    conflict = F.col("_top") & (F.min(top_content).over(by_key) != F.max(top_content).over(by_key))
    first = F.row_number().over(by_key.orderBy(*order, F.col("_record_hash").desc())) == 1
    status = (
        F.when(~valid, F.lit(STATUS_QUARANTINE))
        .when(conflict, F.lit(STATUS_CONFLICT))
        .when(first, F.lit(STATUS_SILVER))
        .otherwise(F.lit(STATUS_DUPLICATE))
    )
    out = out.withColumn("_status", status).drop("_top", "_content")
    return out.withColumn("_reasons", F.when(F.col("_status") == STATUS_CONFLICT,
                                             F.array(F.lit(conflict_reason(table)))).otherwise(F.col("_reasons")))


def quarantine_rows(classified: DataFrame, table: str) -> DataFrame:
    """The quarantined rows of one classified frame in the quarantine table's shape."""
    raw_file = F.to_json(
        F.struct(*COLUMNS[table], "_malformed_line"), {"ignoreNullFields": "false"}
    )
    source = F.when(
        F.col("_seq").isNotNull(), F.concat(F.col("_source_file"), F.lit("@"), F.col("_seq").cast("string"))
    ).otherwise(F.col("_source_file"))
    return classified.filter(F.col("_status").isin(STATUS_QUARANTINE, STATUS_CONFLICT)).select(
        F.col("_bronze_table").alias("bronze_table"),
        F.col("_batch_id").alias("batch_id"),
        source.alias("source"),
        F.array_join(F.col("_reasons"), "; ").alias("reason"),
        F.col("_reasons").alias("reasons"),
        F.when(F.col("_canal") == "kafka", F.col("_raw_value")).otherwise(raw_file).alias("raw_record"),
        F.col("_record_hash").alias("record_hash"),
        F.col("_ingested_at").alias("ingested_at"),
    )


def status_counts(classified: DataFrame) -> DataFrame:
    """Rows per (bronze table, batch): total and duplicates."""
    return classified.groupBy("_bronze_table", "_batch_id").agg(
        F.count(F.lit(1)).alias("bronze"),
        F.sum(F.when(F.col("_status") == STATUS_DUPLICATE, 1).otherwise(0)).alias("duplicates"),
    )


def is_conflict(reasons: Column) -> Column:
    """Whether a quarantine row's ``reasons`` make it a conflict (a row is a conflict or invalid, never both)."""
    return F.exists(reasons, lambda r: r.startswith("conflict:"))


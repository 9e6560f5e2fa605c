"""Validation: every bronze row is checked and classified as ``silver``, ``quarantine`` or ``duplicate``.

Nothing is dropped: a row either passes every rule and is the chosen version of its natural id
(``silver``), passes every rule but another version of the same id was chosen (``duplicate``), or fails
at least one rule (``quarantine``, with the list of reasons). Reason codes are ``<rule>:<column>``:

============================  ==================================================================
``malformed_row``             CSV line with the wrong number of fields (raw line kept)
``bad_json``                  Kafka value is not a JSON object
``unsupported_schema_version``  Kafka JSON without ``"schema_version": 1``
``unexpected_fields``         Kafka JSON with fields the contract does not have
``missing:<col>``             required field NULL or blank
``too_long:<col>``            field longer than ``max_field_chars``
``bad_id:<col>``              id without its prefix + digits (``TX0000000001``)
``bad_timestamp:<col>``       not ``yyyy-MM-ddTHH:mm:ss``
``bad_number:<col>``          money that is not a plain decimal with at most two decimals
``not_positive:<col>``        money <= 0
``bad_enum:<col>``            value outside the contract's enum
``bad_document:<col>``        CPF/CNPJ with wrong length or check digits
``bad_key_format:<col>``      Pix key not well-formed (as its declared type, for ``chaves_pix``)
``key_not_holder_document``   CPF/CNPJ key different from the holder's document
``bad_email:<col>``           e-mail not well-formed
``bad_phone:<col>``           phone not convertible to Brazilian E.164
``unknown_key:<col>``         transaction key not registered in (valid) ``chaves_pix``
``unknown_user:<col>``        user id not in (valid) ``usuarios``
``unknown_transaction:<col>`` fraud claim on a transaction not in (valid) ``transacoes_pix``
============================  ==================================================================
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.schemas import (
    COLUMN_TYPES,
    COLUMNS,
    ENUMS,
    ID_PREFIX,
    META_COLUMNS,
    PRIMARY_KEYS,
    STREAM_SCHEMA_VERSION,
)
from lakehouse.transforms import conform as C

#: Shape every bronze source is brought to before validation (besides the contract columns).
PREPARED_EXTRA: tuple[str, ...] = (
    "_malformed_line", *META_COLUMNS, "_bronze_table", "_canal", "_seq", "_raw_value", "_reasons",
)
STATUS_SILVER, STATUS_QUARANTINE, STATUS_DUPLICATE = "silver", "quarantine", "duplicate"

#: Business version column: the row with the latest value wins among valid duplicates (then the latest
#: ingestion, then the latest Kafka offset).
VERSION_COLUMN: dict[str, str] = {"limites_transacoes": "data_atualizacao"}

_DOCUMENT_COLUMNS = {("usuarios", "cpf_cnpj"), ("chaves_pix", "cpf_cnpj")}
_ANY_KEY_COLUMNS = {("transacoes_pix", "chave_pix_origem"), ("transacoes_pix", "chave_pix_destino")}


def _no_reasons() -> Column:
    return F.array().cast("array<string>")


def prepare_file(df: DataFrame, table: str) -> DataFrame:
    """A bronze file table in the prepared shape."""
    return df.select(
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


def _column_rule(table: str, column: str, max_chars: int) -> Column:
    """The first failing rule of one column, as a reason code, or NULL (on a :func:`stage`d frame)."""
    raw, c, v = F.col(column), F.col(f"_c_{column}"), F.col(f"_v_{column}")
    kind = COLUMN_TYPES[table][column]
    rule = F.when(c.isNull(), F.lit(f"missing:{column}")).when(
        F.length(raw) > max_chars, F.lit(f"too_long:{column}")
    )
    if column in ID_PREFIX:
        rule = rule.when(~c.rlike(rf"^{ID_PREFIX[column]}[0-9]+$"), F.lit(f"bad_id:{column}"))
    if kind == "ts":
        rule = rule.when(v.isNull(), F.lit(f"bad_timestamp:{column}"))
    elif kind == "money":
        rule = rule.when(v.isNull(), F.lit(f"bad_number:{column}")).when(v <= 0, F.lit(f"not_positive:{column}"))
    if (table, column) in ENUMS:
        rule = rule.when(~c.isin(*ENUMS[(table, column)]), F.lit(f"bad_enum:{column}"))
    if (table, column) in _DOCUMENT_COLUMNS:
        rule = rule.when(~F.col(f"_ok_{column}"), F.lit(f"bad_document:{column}"))
    if (table, column) in _ANY_KEY_COLUMNS:
        rule = rule.when(F.col(f"_kt_{column}").isNull(), F.lit(f"bad_key_format:{column}"))
    if (table, column) == ("chaves_pix", "chave_pix"):
        declared = F.col("_c_tipo_chave")
        rule = rule.when(
            ~F.coalesce(F.col(f"_kt_{column}") == declared, F.lit(False)), F.lit(f"bad_key_format:{column}")
        )
    if (table, column) == ("usuarios", "email"):
        rule = rule.when(~v.rlike(C.EMAIL_RE), F.lit(f"bad_email:{column}"))
    if (table, column) == ("usuarios", "telefone"):
        rule = rule.when(~v.rlike(C.PHONE_RE), F.lit(f"bad_phone:{column}"))
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


def classify(df: DataFrame, table: str) -> DataFrame:
    """``_status`` for every row: quarantine (any reason), else silver for the winning version of its
    natural id, else duplicate."""
    valid = F.size(F.col("_reasons")) == 0
    order: list[Column] = []
    if table in VERSION_COLUMN:
        order.append(F.col(f"_v_{VERSION_COLUMN[table]}").desc_nulls_last())
    order += [F.col("_ingested_at").desc(), F.col("_seq").desc_nulls_last(), F.col("_record_hash").desc()]
    w = Window.partitionBy(valid, *natural_key(table)).orderBy(*order)
    status = (
        F.when(~valid, F.lit(STATUS_QUARANTINE))
        .when(F.row_number().over(w) == 1, F.lit(STATUS_SILVER))
        .otherwise(F.lit(STATUS_DUPLICATE))
    )
    return df.withColumn("_status", status)


def quarantine_rows(classified: DataFrame, table: str) -> DataFrame:
    """The quarantined rows of one classified frame in the quarantine table's shape."""
    raw_file = F.to_json(
        F.struct(*COLUMNS[table], "_malformed_line"), {"ignoreNullFields": "false"}
    )
    source = F.when(
        F.col("_seq").isNotNull(), F.concat(F.col("_source_file"), F.lit("@"), F.col("_seq").cast("string"))
    ).otherwise(F.col("_source_file"))
    return classified.filter(F.col("_status") == STATUS_QUARANTINE).select(
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


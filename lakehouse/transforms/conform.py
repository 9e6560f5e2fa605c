"""Column expressions that clean, parse and conform raw text: documents, keys, phones, e-mails, money,
timestamps. All are pure ``Column -> Column`` functions and never raise under ANSI mode (they use
``try_*`` parsing and character arithmetic instead of casts that can fail).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.schemas import COLUMN_TYPES, COLUMNS, MONEY
from pixring.contract import is_night_hour

#: Accepted timestamp forms, most frequent first (the first that parses wins). Without an offset the time is
#: local (``America/Sao_Paulo``, the session time zone); a date alone is 00:00 local; with an offset
#: (``-03:00``, ``Z``) it is that instant. Seconds may carry up to 6 decimals.
TS_FORMATS = (
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd",
    "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX",
    "yyyy-MM-dd HH:mm:ss[.SSSSSS]XXX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "yyyy-MM-dd'T'HH:mm",
    "yyyy-MM-dd HH:mm",
)
MONEY_RE = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$"
CPF_RE = r"^[0-9]{11}$"
CNPJ_RE = r"^[0-9]{14}$"
EMAIL_RE = r"^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$"
PHONE_RE = r"^\+55[1-9]{2}[0-9]{8,9}$"  # E.164 Brazil: +55, area code, 8 (landline) or 9 (mobile) digits
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
DOCUMENT_CHARS_RE = r"^[0-9./\- ]+$"
#: Longest e-mail key DICT accepts.
MAX_EMAIL_KEY = 77

_CPF_W1 = tuple(range(10, 1, -1))
_CPF_W2 = tuple(range(11, 1, -1))
_CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def clean(c: Column) -> Column:
    """Trimmed text; empty or blank becomes NULL."""
    t = F.trim(c)
    return F.when(t == "", F.lit(None).cast("string")).otherwise(t)


# The functions below expect a *cleaned* column reference (see :func:`clean`; validation stages them as
# ``_c_<column>``): they refer to their argument several times, so it must be a column, not an expression.
def digits(v: Column) -> Column:
    return F.regexp_replace(v, r"[^0-9]", "")


def document(v: Column) -> Column:
    """CPF/CNPJ digits only (``123.456.789-09`` or ``12.345.678/0001-95`` -> digits), so the same person
    gets the same token with or without punctuation; text with other characters is kept as it is (and
    rejected by validation); NULL stays NULL."""
    return F.when(v.rlike(DOCUMENT_CHARS_RE), digits(v)).otherwise(v)


def email(v: Column) -> Column:
    return F.lower(v)


def phone_e164(v: Column) -> Column:
    """Brazilian phone to E.164 (``(11) 98765-4321`` -> ``+5511987654321``); unrecognised text is kept
    as is so that validation rejects it."""
    d = digits(v)
    n = F.length(d)
    return (
        F.when(v.startswith("+"), F.concat(F.lit("+"), d))
        .when(n.isin(10, 11), F.concat(F.lit("+55"), d))
        .when(d.startswith("55") & n.isin(12, 13), F.concat(F.lit("+"), d))
        .otherwise(v)
    )


def pix_key(v: Column) -> Column:
    """Canonical form of a Pix key of any type: e-mail and EVP lower-case, phone E.164, CPF/CNPJ digits."""
    d = digits(v)
    return (
        F.when(v.contains("@") | F.lower(v).rlike(UUID_RE), F.lower(v))
        .when(v.startswith("+"), F.concat(F.lit("+"), d))
        .when(v.rlike(DOCUMENT_CHARS_RE) & F.length(d).isin(11, 14), d)
        .otherwise(v)
    )


def _digit(c: Column, i: int) -> Column:
    """The i-th (0-based) character of ``c`` as a number, by character code (never raises)."""
    return F.ascii(F.substring(c, i + 1, 1)) - 48


def _check_digit(c: Column, weights: tuple[int, ...]) -> Column:
    total = reduce(lambda acc, iw: acc + _digit(c, iw[0]) * iw[1], enumerate(weights), F.lit(0))
    r = total % 11
    return F.when(r < 2, F.lit(0)).otherwise(11 - r)


def _not_repdigit(c: Column, n: int) -> Column:
    return ~c.rlike(rf"^([0-9])\1{{{n - 1}}}$")


def is_valid_cpf(c: Column) -> Column:
    """11 digits with both check digits right (and not one digit repeated). Expects :func:`document`."""
    ok = (
        c.rlike(CPF_RE) & _not_repdigit(c, 11)
        & (_check_digit(c, _CPF_W1) == _digit(c, 9)) & (_check_digit(c, _CPF_W2) == _digit(c, 10))
    )
    return F.coalesce(ok, F.lit(False))


def is_valid_cnpj(c: Column) -> Column:
    ok = (
        c.rlike(CNPJ_RE) & _not_repdigit(c, 14)
        & (_check_digit(c, _CNPJ_W1) == _digit(c, 12)) & (_check_digit(c, _CNPJ_W2) == _digit(c, 13))
    )
    return F.coalesce(ok, F.lit(False))


def is_valid_document(c: Column) -> Column:
    return is_valid_cpf(c) | is_valid_cnpj(c)


def tipo_pessoa(doc: Column) -> Column:
    """``PF`` for a CPF (11 digits), ``PJ`` for a CNPJ (14 digits)."""
    return F.when(F.length(doc) == 11, F.lit("PF")).when(F.length(doc) == 14, F.lit("PJ"))


def key_type(canonical: Column) -> Column:
    """The type a canonical key is well-formed as (cpf, cnpj, email, telefone, aleatoria) or NULL."""
    return (
        F.when(is_valid_cpf(canonical), F.lit("cpf"))
        .when(is_valid_cnpj(canonical), F.lit("cnpj"))
        .when(canonical.rlike(EMAIL_RE) & (F.length(canonical) <= MAX_EMAIL_KEY), F.lit("email"))
        .when(canonical.rlike(PHONE_RE), F.lit("telefone"))
        .when(canonical.rlike(UUID_RE), F.lit("aleatoria"))
    )


def parse_ts(v: Column) -> Column:
    """An ISO date, date-time or date-time with offset (:data:`TS_FORMATS`), naive forms in the session time
    zone; NULL if none parses (or the date is impossible, ``2026-13-45``)."""
    return F.coalesce(*[F.try_to_timestamp(v, F.lit(fmt)) for fmt in TS_FORMATS])


def parse_money(v: Column) -> Column:
    """A plain decimal with at most two decimals (``1234.5``, ``-3``) as the contract's money type; NULL if not one."""
    return F.when(v.rlike(MONEY_RE), v.try_cast(MONEY))


def is_night(ts: Column) -> Column:
    """Between 20:00 and 06:00 local time (the BCB night period)."""
    return is_night_hour(F.hour(ts))


def mask_name(v: Column) -> Column:
    """``Maria da Silva`` -> ``M*** d*** S***``: initials only."""
    return F.regexp_replace(v, r"(\p{L})[\p{L}'’.\-]*", "$1***")


def email_domain(v: Column) -> Column:
    return F.substring_index(v, "@", -1)


# ------------------------------------------------------------------------------------------- tables
def conformer(table: str, column: str) -> Callable[[Column], Column]:
    """How one contract column is typed/conformed from its cleaned text."""
    kind = COLUMN_TYPES[table][column]
    if kind == "ts":
        return parse_ts
    if kind == "money":
        return parse_money
    if column == "cpf_cnpj":
        return document
    if column == "email":
        return email
    if column == "telefone":
        return phone_e164
    if column.startswith("chave_pix"):
        return pix_key
    return lambda v: v


def stage(df: DataFrame, table: str) -> DataFrame:
    """Add ``_c_<col>`` (cleaned text) and ``_v_<col>`` (typed, conformed value) for every contract column.

    Two projections, so that every later expression refers to a column instead of repeating an expression
    tree (the check-digit and key-type expressions refer to their input dozens of times).
    """
    cols = COLUMNS[table]
    cleaned = df.withColumns({f"_c_{c}": clean(F.col(c)) for c in cols})
    return cleaned.withColumns({f"_v_{c}": conformer(table, c)(F.col(f"_c_{c}")) for c in cols})


def conform_table(df: DataFrame, table: str) -> DataFrame:
    """Staged, valid rows -> the typed, conformed columns (still clear PII) plus derived columns and lineage.

    Documents become digits only, e-mails lower-case, phones E.164, keys canonical, timestamps and money
    typed. Derived: ``tipo_pessoa`` (PF/PJ), ``email_dominio``, the transaction's local ``data``, ``noturna``
    and ``canal``.
    """
    cols = {c: F.col(f"_v_{c}") for c in COLUMNS[table]}
    if table in ("usuarios", "chaves_pix"):
        cols["tipo_pessoa"] = tipo_pessoa(cols["cpf_cnpj"])
    if table == "usuarios":
        cols["email_dominio"] = email_domain(cols["email"])
    if table == "transacoes_pix":
        cols["data"] = F.to_date(cols["timestamp"])
        cols["noturna"] = is_night(cols["timestamp"])
        cols["canal"] = F.col("_canal")
    lineage = [F.col(c) for c in ("_batch_id", "_record_hash", "_ingested_at")]
    return df.select(*[expr.alias(name) for name, expr in cols.items()], *lineage)

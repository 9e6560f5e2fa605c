"""Keyed pseudonymisation: HMAC-SHA256 tokens of PII with the secret from settings.

A token is ``hex(HMAC-SHA256(secret, canonical value))`` – 64 lower-case hex characters. The same canonical
value gives the same token in every table (a CPF key and the holder's CPF, a phone key and the user's
phone), so joins keep working on tokens; without the secret a token cannot be reversed or recomputed from
a guessed CPF. The secret travels to the Python workers inside the UDF's closure and is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable

import pandas as pd
from pydantic import SecretStr
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def token(value: str, secret: SecretStr) -> str:
    """The reference implementation (the Spark UDF computes exactly this)."""
    key = secret.get_secret_value().encode("utf-8")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def token_udf(secret: SecretStr) -> Callable[[Column], Column]:
    """A vectorised (Arrow) Spark UDF ``Column[str] -> Column[str]`` computing :func:`token`; NULL stays NULL."""
    key = secret.get_secret_value().encode("utf-8")

    def _hmac(values: pd.Series) -> pd.Series:
        new, sha = hmac.new, hashlib.sha256
        return pd.Series(
            [new(key, v.encode("utf-8"), sha).hexdigest() if isinstance(v, str) else None for v in values],
            index=values.index, dtype=object,
        )

    return F.pandas_udf(_hmac, "string")  # type: ignore[call-overload]


def tokenise(df: DataFrame, columns: Iterable[str], secret: SecretStr) -> DataFrame:
    """Replace each of ``columns`` (already conformed) by its token."""
    udf = token_udf(secret)
    return df.withColumns({c: udf(F.col(c)) for c in columns})


def pseudonymise(df: DataFrame, table: str, secret: SecretStr) -> DataFrame:
    """Tokenise the PII columns of a conformed silver frame and mask the names (see ``schemas.TOKEN_COLUMNS``)."""
    from lakehouse.schemas import MASKED_COLUMNS, TOKEN_COLUMNS
    from lakehouse.transforms.conform import mask_name

    out = tokenise(df, TOKEN_COLUMNS.get(table, ()), secret)
    return out.withColumns({c: mask_name(F.col(c)) for c in MASKED_COLUMNS.get(table, ())})

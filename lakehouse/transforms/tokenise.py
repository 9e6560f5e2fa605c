"""Keyed pseudonymisation: HMAC-SHA256 tokens of PII with the secret from settings.

A token is ``hex(HMAC-SHA256(secret, canonical value))`` – 64 lower-case hex characters. The same canonical
value gives the same token in every table (a CPF key and the holder's CPF, a phone key and the user's
phone), so joins keep working on tokens; without the secret a token cannot be reversed or recomputed from
a guessed CPF. Spark computes the tokens natively (:func:`tokenise`); the key's pads reach the executors as
a broadcast one-row frame, never as a literal of a logged plan.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from pydantic import SecretStr
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def token(value: str, secret: SecretStr) -> str:
    """The reference implementation (:func:`tokenise` computes exactly this in Spark)."""
    key = secret.get_secret_value().encode("utf-8")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


#: SHA-256 block size (bytes): HMAC pads the key to it
_BLOCK = 64


def hmac_pads(secret: SecretStr) -> tuple[bytes, bytes]:
    """HMAC's inner and outer pads of the key (RFC 2104): a key longer than a block is hashed first."""
    key = secret.get_secret_value().encode("utf-8")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def tokenise(df: DataFrame, columns: Iterable[str], secret: SecretStr) -> DataFrame:
    """Replace each of ``columns`` (already conformed) by its token, in Spark's own expressions.

    ``HMAC(K, m) = sha256(opad || sha256(ipad || m))`` with Spark's ``sha2`` / ``unhex`` / ``concat`` over
    binary: no Python worker, the whole plan stays in generated code. The pads come from a one-row frame
    joined by broadcast, so they are data, not literals: they never appear in a query plan, an ``explain``
    or the Spark UI. NULL stays NULL. Equal to :func:`token` (the tests compare them).
    """
    columns = list(columns)
    if not columns:
        return df
    ipad, opad = hmac_pads(secret)
    pads = df.sparkSession.createDataFrame([(bytearray(ipad), bytearray(opad))], "_hmac_ipad binary, _hmac_opad binary")

    def hmac_sha256(c: str) -> Column:
        inner = F.unhex(F.sha2(F.concat(F.col("_hmac_ipad"), F.col(c).cast("binary")), 256))
        return F.sha2(F.concat(F.col("_hmac_opad"), inner), 256)

    return (df.crossJoin(F.broadcast(pads)).withColumns({c: hmac_sha256(c) for c in columns})
            .drop("_hmac_ipad", "_hmac_opad"))


def pseudonymise(df: DataFrame, table: str, secret: SecretStr) -> DataFrame:
    """Tokenise the PII columns of a conformed silver frame and mask the names (see ``schemas.TOKEN_COLUMNS``)."""
    from lakehouse.schemas import MASKED_COLUMNS, TOKEN_COLUMNS
    from lakehouse.transforms.conform import mask_name

    out = tokenise(df, TOKEN_COLUMNS.get(table, ()), secret)
    return out.withColumns({c: mask_name(F.col(c)) for c in MASKED_COLUMNS.get(table, ())})

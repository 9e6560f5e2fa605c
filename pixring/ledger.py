"""The erasure ledger: who was erased, so that no stage brings them back.

``pixring erase`` appends one row per erasure to a Delta table outside the lakehouse layers,
``$PIXRING_HOME/control/erasures`` (:func:`ledger_path`): the person's ids (``id_usuario``), the HMAC tokens
of their document, keys and contacts (never a clear CPF, key, e-mail or phone), the ids of the transactions
that had one of their keys on either side, when, by whom and why. Every stage consults it:

* ``refine`` drops the person's bronze rows before validation (also at ``--as-of-version`` from bronze
  written before the erasure: :func:`lakehouse.erase.exclude_erased`);
* ``graph build``, ``graph load-neo4j``, ``gnn train`` / ``gnn embed`` (and so the MLflow artifacts built
  from their frames, such as ``user_scores.parquet``) and the stream's Delta sink drop every row that
  mentions one of the ledger's values (:func:`without_erased`);
* the API answers 410 for an erased id, key or transaction (:mod:`api.erasure`).

A row "mentions" a value when one of its string columns equals it (after trimming) or one of its
``array<string>`` columns holds it. Ids, tokens (64 hex) and transaction ids are disjoint by construction, so
one set of needles serves every table.

Reading needs no Spark (``deltalake``), so the API and the stream's driver read it cheaply; writing goes
through Spark with the rest of the erasure. This module imports no stage.
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixring.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

#: The ledger's columns (Spark DDL).
LEDGER_DDL = (
    "erasure_id string not null, document_token string not null, ids array<string> not null, "
    "tokens array<string> not null, transactions array<string> not null, erased_at timestamp not null, "
    "erased_by string not null, reason string not null, vacuum_retention_hours double not null"
)
DEFAULT_REASON = "data subject request (LGPD art. 18, VI)"


def ledger_path(settings: Settings) -> Path:
    """``$PIXRING_HOME/control/erasures`` (outside ``lakehouse/``: the one place allowed to hold the ids)."""
    return settings.paths.home / "control" / "erasures"


@dataclass(frozen=True)
class Erased:
    """The union of every ledger entry: what no stage may keep or bring back."""

    ids: frozenset[str] = frozenset()
    tokens: frozenset[str] = frozenset()
    transactions: frozenset[str] = frozenset()
    version: int | None = None

    @property
    def needles(self) -> frozenset[str]:
        return self.ids | self.tokens | self.transactions

    def __bool__(self) -> bool:
        return bool(self.ids or self.tokens or self.transactions)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value.strip() in self.needles


@dataclass
class Entry:
    """One erasure (one ledger row)."""

    document_token: str
    ids: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    transactions: set[str] = field(default_factory=set)
    erased_by: str = ""
    reason: str = DEFAULT_REASON
    vacuum_retention_hours: float = 168.0
    erasure_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    erased_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None, microsecond=0))

    def row(self) -> tuple[Any, ...]:
        return (self.erasure_id, self.document_token, sorted(self.ids), sorted(self.tokens | {self.document_token}),
                sorted(self.transactions), self.erased_at, self.erased_by or _whoami(), self.reason,
                float(self.vacuum_retention_hours))


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in a container
        return "unknown"


# ------------------------------------------------------------------------------------------------ reading
def load(settings: Settings | Path) -> Erased:
    """Every erasure recorded so far (empty when the ledger does not exist yet). No Spark."""
    from deltalake import DeltaTable

    path = settings if isinstance(settings, Path) else ledger_path(settings)
    if not (path / "_delta_log").is_dir():
        return Erased()
    dt = DeltaTable(str(path))
    table = dt.to_pyarrow_dataset().to_table(columns=["ids", "tokens", "transactions"]).to_pydict()

    def union(column: str) -> frozenset[str]:
        return frozenset(v for values in table[column] for v in (values or ()) if v)

    return Erased(union("ids"), union("tokens"), union("transactions"), dt.version())


def entries(settings: Settings) -> list[dict[str, Any]]:
    """The ledger rows (for ``erase --verify`` and the tests), oldest first."""
    from deltalake import DeltaTable

    path = ledger_path(settings)
    if not (path / "_delta_log").is_dir():
        return []
    rows = DeltaTable(str(path)).to_pyarrow_dataset().to_table().to_pylist()
    return sorted(rows, key=lambda r: r["erased_at"])


class ErasedCache:
    """:func:`load` for long-running readers (the API, the stream): re-read when the ledger's Delta version
    moves, checked at most every ``check_seconds``; a failed read keeps the last good copy."""

    def __init__(self, settings: Settings | Path, check_seconds: float = 2.0) -> None:
        self.path = settings if isinstance(settings, Path) else ledger_path(settings)
        self.check_seconds = check_seconds
        self._erased = Erased()
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def _version(self) -> int | None:
        log_dir = self.path / "_delta_log"
        if not log_dir.is_dir():
            return None
        versions = [int(p.name[:-5]) for p in log_dir.iterdir() if p.name.endswith(".json") and p.name[:-5].isdigit()]
        return max(versions, default=None)

    def get(self) -> Erased:
        now = time.monotonic()
        if now - self._checked < self.check_seconds:
            return self._erased
        with self._lock:
            if now - self._checked >= self.check_seconds:
                try:
                    if self._version() != self._erased.version:
                        self._erased = load(self.path)
                except Exception as exc:  # noqa: BLE001 - a commit being written: next round
                    log.warning("erasure ledger not re-read: %s", type(exc).__name__)
                self._checked = now
        return self._erased


# ------------------------------------------------------------------------------------------------ writing
def record(spark: SparkSession, settings: Settings, entry: Entry) -> None:
    """Append one erasure to the ledger (created on first use)."""
    path = ledger_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    df = spark.createDataFrame([entry.row()], LEDGER_DDL)
    df.write.format("delta").mode("append").save(str(path))
    log.info("erasure %s recorded in the ledger", entry.erasure_id)


# ------------------------------------------------------------------------------------------ Spark filters
def _string_columns(df: DataFrame) -> tuple[list[str], list[str]]:
    from pyspark.sql.types import ArrayType, StringType

    scalars = [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]
    arrays = [f.name for f in df.schema.fields
              if isinstance(f.dataType, ArrayType) and isinstance(f.dataType.elementType, StringType)]
    return scalars, arrays


def mentions(df: DataFrame, values: Iterable[str], columns: Iterable[str] | None = None) -> Column:
    """True for a row of ``df`` that mentions one of ``values`` (Column expressions: ``isin`` and
    ``arrays_overlap`` over literals, never SQL text). ``columns`` restricts the columns looked at."""
    from pyspark.sql import functions as F

    needles = sorted({v for v in values if v})
    scalars, arrays = _string_columns(df)
    if columns is not None:
        wanted = set(columns)
        scalars, arrays = [c for c in scalars if c in wanted], [c for c in arrays if c in wanted]
    if not needles or not (scalars or arrays):
        return F.lit(False)
    cond = F.lit(False)
    for c in scalars:
        cond = cond | F.coalesce(F.trim(F.col(c)).isin(*needles), F.lit(False))
    if arrays:
        lits = F.array(*[F.lit(v) for v in needles])
        for c in arrays:
            cond = cond | F.coalesce(F.arrays_overlap(F.col(c), lits), F.lit(False))
    return cond


def without_erased(df: DataFrame, erased: Erased, columns: Iterable[str] | None = None) -> DataFrame:
    """``df`` without the rows that mention an erased id, token or transaction (unchanged when none)."""
    if not erased:
        return df
    return df.filter(~mentions(df, erased.needles, columns))


def without_erased_pandas(pdf: Any, erased: Erased) -> Any:
    """The pandas twin of :func:`without_erased` (text columns: equal values; list columns: holding one)."""
    if not erased or pdf is None or len(pdf) == 0:
        return pdf
    from pandas.api import types

    needles = erased.needles
    keep = None
    for c in pdf.columns:
        dtype = pdf[c].dtype
        if types.is_numeric_dtype(dtype) or types.is_datetime64_any_dtype(dtype) or types.is_bool_dtype(dtype):
            continue

        def hit(v: Any) -> bool:
            if isinstance(v, str):
                return v.strip() in needles
            if isinstance(v, (list, tuple)) or hasattr(v, "tolist"):
                return any(isinstance(x, str) and x in needles for x in (v.tolist() if hasattr(v, "tolist") else v))
            return False

        bad = pdf[c].map(hit).astype(bool)
        keep = ~bad if keep is None else keep & ~bad
    return pdf if keep is None else pdf[keep.to_numpy()].reset_index(drop=True)

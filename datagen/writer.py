"""Chunked, deterministic writers for CSV and Parquet.

A :class:`TableWriter` receives column chunks as numpy arrays in the file's logical types
(``schema.COLUMN_TYPES``): ``str`` columns as object/unicode arrays, ``ts`` as int64 local epoch
seconds, ``money`` as int64 cents. CSV gets ISO-8601 timestamps and ``%.2f`` amounts; Parquet gets
``timestamp[s]`` and the contract's ``decimal128(18, 2)``. Output depends only on the data: no wall clock, no
absolute paths, fixed float formatting, ``\\n`` line endings.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from datagen.timeline import to_iso
from pixring.contract import COLUMN_TYPES, COLUMNS, MONEY_PRECISION, MONEY_SCALE

MONEY_TYPE = pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
TS_TYPE = pa.timestamp("s")
_PARQUET_ROW_GROUP = 250_000


def _money_array(cents: np.ndarray) -> pa.Array:
    """int64 cents -> the contract's decimal128 without going through Python objects.

    A decimal128 value is the unscaled integer as 16 little-endian bytes: low word = cents, high
    word = sign extension.
    """
    c = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((c.size, 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = np.where(c < 0, -1, 0)
    return pa.Array.from_buffers(MONEY_TYPE, c.size, [None, pa.py_buffer(words.tobytes())])


def format_money(cents: np.ndarray) -> list[str]:
    """int64 cents -> ``"1234.50"`` strings (exact, no float rounding)."""
    c = np.asarray(cents, dtype=np.int64).tolist()
    return [f"{x // 100}.{x % 100:02d}" if x >= 0 else f"-{-x // 100}.{-x % 100:02d}" for x in c]


def _csv_quote(values: list[str]) -> list[str]:
    """RFC 4180 quoting, only for the values that need it."""
    if not any(("," in v or '"' in v or "\n" in v or "\r" in v) for v in values):
        return values
    return [f'"{v.replace(chr(34), chr(34) * 2)}"' if ("," in v or '"' in v or "\n" in v or "\r" in v)
            else v for v in values]


def arrow_schema(name: str) -> pa.Schema:
    types = COLUMN_TYPES[name]
    fields = []
    for col in COLUMNS[name]:
        t = types[col]
        fields.append(pa.field(col, pa.string() if t == "str" else TS_TYPE if t == "ts" else MONEY_TYPE,
                               nullable=False))
    return pa.schema(fields)


class TableWriter:
    """Append-only writer of one data set (``<dir>/<name>.csv`` or ``.parquet``)."""

    def __init__(self, directory: Path, name: str, fmt: str) -> None:
        self.name = name
        self.fmt = fmt
        self.columns = COLUMNS[name]
        self.types = COLUMN_TYPES[name]
        self.path = directory / f"{name}.{fmt}"
        self.rows = 0
        self._fh = None
        self._pq: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        if fmt == "csv":
            self._fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by close()
            self._fh.write(",".join(self.columns) + "\n")
        else:
            self._schema = arrow_schema(name)
            self._pq = pq.ParquetWriter(self.path, self._schema, compression="snappy")

    def write(self, chunk: dict[str, np.ndarray]) -> None:
        """Append one chunk (every column, same length)."""
        n = len(chunk[self.columns[0]])
        if n == 0:
            return
        if self.fmt == "csv":
            cols = []
            for col in self.columns:
                t = self.types[col]
                v = chunk[col]
                if t == "ts":
                    cols.append(to_iso(v).tolist())
                elif t == "money":
                    cols.append(format_money(v))
                else:
                    cols.append(_csv_quote([str(x) for x in np.asarray(v, dtype=object).tolist()]))
            self._fh.write("\n".join(map(",".join, zip(*cols))))
            self._fh.write("\n")
        else:
            arrays = []
            for col in self.columns:
                t = self.types[col]
                v = chunk[col]
                if t == "ts":
                    arrays.append(pa.array(np.asarray(v, dtype=np.int64), type=pa.int64()).cast(TS_TYPE))
                elif t == "money":
                    arrays.append(_money_array(v))
                else:
                    arrays.append(pa.array(np.asarray(v, dtype=object), type=pa.string()))
            self._pending.append(pa.Table.from_arrays(arrays, schema=self._schema))
            self._pending_rows += n
            if self._pending_rows >= _PARQUET_ROW_GROUP:
                self._flush_parquet()
        self.rows += n

    def _flush_parquet(self) -> None:
        if self._pending and self._pq is not None:
            table = pa.concat_tables(self._pending).combine_chunks()
            self._pq.write_table(table, row_group_size=_PARQUET_ROW_GROUP)
        self._pending = []
        self._pending_rows = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._pq is not None:
            self._flush_parquet()
            self._pq.close()
            self._pq = None

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def write_table(directory: Path, name: str, fmt: str, chunk: dict[str, np.ndarray]) -> int:
    """Write a whole (small) data set in one go; returns the row count."""
    with TableWriter(directory, name, fmt) as w:
        w.write(chunk)
        return w.rows


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """A plain deterministic CSV (used for the ground truth)."""
    df.to_csv(path, index=False, float_format="%.2f", lineterminator="\n", encoding="utf-8")


def read_table(directory: Path, name: str) -> pd.DataFrame:
    """Read a data set back with every column as string (CSV) or its Parquet type.

    Useful for tests and notebooks; CPF/CNPJ keep their leading zeros.
    """
    csv = directory / f"{name}.csv"
    if csv.exists():
        return pd.read_csv(csv, dtype=str, keep_default_na=False)
    return pq.read_table(directory / f"{name}.parquet").to_pandas()

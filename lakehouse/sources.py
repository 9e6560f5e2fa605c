"""The datagen output folder: find the seven files (CSV or Parquet), fingerprint them, read them as strings.

Only ``<DIR>/<name>.csv`` and ``<DIR>/<name>.parquet`` (a file or a folder of part files) are looked at;
``_truth/`` (the generator's ground truth) and ``_manifest.json`` are never opened.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType, StringType

from lakehouse.schemas import COLUMNS, FILES
from pixring.errors import PixringError

TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss"
MALFORMED = "_malformed_line"


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: Path
    fmt: str  # csv | parquet

    def files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        return [self.path]


def find_sources(source: Path) -> tuple[dict[str, SourceFile], list[str]]:
    """The input files found in ``source`` by table name, and the names of the missing ones."""
    if not source.is_dir():
        raise PixringError(f"{source} is not a folder (expected the datagen output: {', '.join(FILES)})")
    found: dict[str, SourceFile] = {}
    missing: list[str] = []
    for table in FILES:
        candidates = [SourceFile(table, source / f"{table}.{fmt}", fmt) for fmt in ("csv", "parquet")]
        present = [c for c in candidates if c.path.exists()]
        if len(present) > 1:
            raise PixringError(f"{source}: both {table}.csv and {table}.parquet exist; keep one")
        if present:
            found[table] = present[0]
        else:
            missing.append(table)
    if not found:
        raise PixringError(f"{source}: none of {', '.join(f + '.csv|.parquet' for f in FILES)} found")
    return found, missing


def fingerprint(sf: SourceFile) -> tuple[str, int]:
    """sha256 of the file content (of all part files in order, for a Parquet folder) and its size."""
    digest = hashlib.sha256()
    size = 0
    for path in sf.files():
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    return digest.hexdigest(), size


def check_header(sf: SourceFile, columns: list[str], *, ordered: bool = True) -> None:
    """The file must carry exactly the contract's columns (a wrong file is refused whole, not quarantined)."""
    expected = COLUMNS[sf.table]
    if (columns if ordered else sorted(columns)) != (expected if ordered else sorted(expected)):
        raise PixringError(
            f"{sf.path}: columns {columns} do not match the {sf.table} contract {expected}"
        )


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [c.strip() for c in next(csv.reader(fh), [])]


def read_source(spark: SparkSession, sf: SourceFile) -> DataFrame:
    """The file as a frame of string columns (contract order) plus ``_malformed_line``.

    CSV: every field read as text, RFC 4180 quoting; a line with the wrong number of fields is kept and
    its raw text lands in ``_malformed_line`` (it is quarantined at refine, never dropped).
    Parquet: values cast to text; timestamps written back as ISO ``yyyy-MM-ddTHH:mm:ss`` local time.
    """
    columns = COLUMNS[sf.table]
    if sf.fmt == "csv":
        check_header(sf, _csv_header(sf.path))
        schema = StructType([StructField(c, StringType()) for c in columns] + [StructField(MALFORMED, StringType())])
        return (
            spark.read.schema(schema)
            .option("header", True)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", MALFORMED)
            .option("escape", '"')
            .option("encoding", "UTF-8")
            .csv(str(sf.path))
        )
    df = spark.read.parquet(str(sf.path))
    check_header(sf, list(df.columns), ordered=False)
    as_text = []
    for field in df.schema.fields:
        kind = field.dataType.typeName()
        if kind.startswith("timestamp") or kind == "date":
            as_text.append(F.date_format(F.col(field.name), TS_FORMAT).alias(field.name))
        else:
            as_text.append(F.col(field.name).cast("string").alias(field.name))
    return df.select(*as_text).select(*columns, F.lit(None).cast("string").alias(MALFORMED))

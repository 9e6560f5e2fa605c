"""An input folder: find the seven files (CSV or Parquet), fingerprint them, read them as contract-shaped text.

Without a mapping only ``<DIR>/<name>.csv`` and ``<DIR>/<name>.parquet`` (a file or a folder of part files)
are looked at; a mapping (:mod:`lakehouse.mapping`) may name the files, rename columns, map enum values,
supply constants and declare the CSV dialect and encoding. ``_truth/`` (the generator's ground truth) and
``_manifest.json`` are never opened.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse.mapping import IDENTITY, CsvDialect, FileMapping, Mapping, money_columns, plan_columns
from lakehouse.schemas import FILES
from pixring.errors import PixringError

TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss"
MALFORMED = "_malformed_line"
#: With ``keep_source``: the row's fields exactly as read (array of strings), to find its line in the file.
SOURCE_FIELDS = "_src"
#: ``1.234.567,89`` / ``-12,5`` / ``12``: a money value written with a decimal comma (and dots for thousands).
_COMMA_MONEY_RE = r"^-?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+)(,[0-9]+)?$"


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: Path
    fmt: str  # csv | parquet
    mapping: FileMapping = field(default_factory=FileMapping)
    dialect: CsvDialect = field(default_factory=CsvDialect)
    #: sha256 of this file's part of the mapping, when one was given (see :func:`batch_fingerprint`)
    mapping_digest: str | None = None

    def files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        return [self.path]


def _fmt_of(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    return "parquet" if path.suffix.lower() == ".parquet" else "csv"


def find_sources(source: Path, mapping: Mapping | None = None) -> tuple[dict[str, SourceFile], list[str]]:
    """The input files found in ``source`` by table name, and the names of the missing ones."""
    m = mapping or IDENTITY
    if not source.is_dir():
        raise PixringError(f"{source} is not a folder (expected the input files: {', '.join(FILES)})")
    found: dict[str, SourceFile] = {}
    missing: list[str] = []
    for table in FILES:
        fm = m.for_table(table)
        digest = None
        if mapping is not None:
            part = {"file": fm.model_dump(mode="json"), "csv": m.dialect(table).model_dump(mode="json")}
            digest = hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()
        if fm.file:
            path = source / fm.file
            candidates = [SourceFile(table, path, _fmt_of(path, fm.format), fm, m.dialect(table), digest)]
        else:
            candidates = [SourceFile(table, source / f"{table}.{fmt}", fmt, fm, m.dialect(table), digest)
                          for fmt in ("csv", "parquet")]
        present = [c for c in candidates if c.path.exists()]
        if len(present) > 1:
            raise PixringError(f"{source}: both {table}.csv and {table}.parquet exist; keep one")
        if present:
            found[table] = present[0]
        else:
            missing.append(table)
    if not found:
        names = [f"{m.files[t].file}" if t in m.files and m.files[t].file else f"{t}.csv|.parquet" for t in FILES]
        raise PixringError(f"{source}: none of {', '.join(names)} found")
    return found, missing


def _first_bad_line(path: Path, codec: str) -> tuple[int, int]:
    """(line number, byte column), both 1-based, of the first line that is not valid ``codec``."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode(codec)
            except UnicodeDecodeError as exc:
                return number, exc.start + 1
    return -1, -1  # pragma: no cover - only called after a decode error


def fingerprint(sf: SourceFile) -> tuple[str, int]:
    """sha256 of the file content (of all part files in order, for a Parquet folder) and its size.

    A CSV file is also decoded in its declared encoding on the way (Latin-1 accepts every byte); one that
    is not valid in it is refused with an error naming the file and the line, before anything is read.
    """
    digest = hashlib.sha256()
    size = 0
    codec = sf.dialect.encoding if sf.fmt == "csv" else "latin-1"
    for path in sf.files():
        decoder = None if codec == "latin-1" else codecs.getincrementaldecoder(codec)("strict")
        with path.open("rb") as fh:
            try:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    if decoder is not None:
                        decoder.decode(chunk)
                if decoder is not None:
                    decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                line, col = _first_bad_line(path, codec)
                raise PixringError(f"{path}: line {line}, byte {col}: not valid {codec} (the declared encoding; "
                                   "declare another with csv.encoding in a mapping file)") from None
    return digest.hexdigest(), size


def batch_fingerprint(sf: SourceFile, content_sha: str) -> str:
    """The fingerprint a file is ingested under: its content's sha256, combined with the mapping's digest
    when a mapping is given (the same file mapped differently is another delivery)."""
    if sf.mapping_digest is None:
        return content_sha
    return hashlib.sha256(f"{content_sha}:{sf.mapping_digest}".encode()).hexdigest()


def csv_header(sf: SourceFile) -> list[str]:
    codec = "utf-8-sig" if sf.dialect.encoding == "utf-8" else sf.dialect.encoding
    with sf.path.open(newline="", encoding=codec) as fh:
        reader = csv.reader(fh, delimiter=sf.dialect.separator, quotechar=sf.dialect.quote)
        return [c.strip() for c in next(reader, [])]


def _map_values(expr: Column, table_map: dict[str, str]) -> Column:
    """``expr`` through an enum value map (trimmed lookup); a value without an entry stays as it is."""
    pairs = [F.lit(x) for kv in table_map.items() for x in kv]
    return F.coalesce(F.try_element_at(F.create_map(*pairs), F.trim(expr)), expr)


def _decimal_comma(expr: Column) -> Column:
    """``1.234,56`` -> ``1234.56``; text that is not a decimal-comma number stays as it is."""
    t = F.trim(expr)
    return F.when(t.rlike(_COMMA_MONEY_RE), F.translate(F.regexp_replace(t, r"\.", ""), ",", ".")).otherwise(expr)


def _declared_ts(expr: Column, pattern: str) -> Column:
    """A timestamp in its declared form -> the contract's ISO local form; text not in that form stays as it is."""
    parsed = F.try_to_timestamp(F.trim(expr), F.lit(pattern))
    return F.coalesce(F.date_format(parsed, TS_FORMAT), expr)


def _contract_columns(sf: SourceFile, header: list[str], fields: list[Column], csv_source: bool) -> list[Column]:
    """The contract columns (in contract order) from the read fields: renamed, mapped, constants, money."""
    plan = plan_columns(sf.table, header, sf.mapping, str(sf.path))
    index = {h: i for i, h in enumerate(header)}
    money = set(money_columns(sf.table)) if csv_source and sf.dialect.decimal == "," else set()
    out = []
    for col, src in plan.items():
        expr = F.lit(sf.mapping.constants[col]) if src is None else fields[index[src]]
        if src is not None and col in sf.mapping.values:
            expr = _map_values(expr, sf.mapping.values[col])
        if src is not None and col in money:
            expr = _decimal_comma(expr)
        if src is not None and col in sf.mapping.timestamps:
            expr = _declared_ts(expr, sf.mapping.timestamps[col])
        out.append(expr.cast("string").alias(col))
    return out


def read_source(spark: SparkSession, sf: SourceFile, *, keep_source: bool = False) -> DataFrame:
    """The file as a frame of string columns (contract order) plus ``_malformed_line`` (and, with
    ``keep_source``, :data:`SOURCE_FIELDS`).

    CSV: every field read as text in the declared dialect and encoding, RFC 4180 quoting; a line with the
    wrong number of fields is kept and its raw text lands in ``_malformed_line`` (it is quarantined at
    refine, never dropped). Parquet: values cast to text; timestamps written back as ISO
    ``yyyy-MM-ddTHH:mm:ss`` local time. Then the mapping: renames, value maps, constants, decimal comma,
    declared timestamp forms (rewritten to ISO local time).
    """
    if sf.fmt == "csv":
        header = csv_header(sf)
        plan_columns(sf.table, header, sf.mapping, str(sf.path))  # a wrong file is refused before Spark reads it
        # the header's own names (so Spark's header check agrees), referred to quoted
        schema = StructType([StructField(h, StringType()) for h in header] + [StructField(MALFORMED, StringType())])
        d = sf.dialect
        df = (
            spark.read.schema(schema)
            .option("header", True)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", MALFORMED)
            .option("sep", d.separator)
            .option("quote", d.quote)
            .option("escape", d.quote)
            .option("encoding", d.java_charset)
            .csv(str(sf.path))
        )
        fields = [F.col("`" + h.replace("`", "``") + "`") for h in header]
        extra = [F.array(*fields).alias(SOURCE_FIELDS)] if keep_source else []
        return df.select(*_contract_columns(sf, header, fields, True), F.col(MALFORMED), *extra)
    df = spark.read.parquet(str(sf.path))
    header = list(df.columns)
    fields = []
    for f in df.schema.fields:
        kind = f.dataType.typeName()
        if kind.startswith("timestamp") or kind == "date":
            fields.append(F.date_format(F.col(f"`{f.name}`"), TS_FORMAT))
        else:
            fields.append(F.col(f"`{f.name}`").cast("string"))
    extra = [F.lit(None).cast("array<string>").alias(SOURCE_FIELDS)] if keep_source else []
    return df.select(*_contract_columns(sf, header, fields, False), F.lit(None).cast("string").alias(MALFORMED),
                     *extra)


def line_numbers(sf: SourceFile, wanted_fields: set[tuple[str, ...]], wanted_raw: set[str],
                 *, max_hits: int = 64) -> dict[object, list[int]]:
    """Line numbers (1 = the header) of CSV records whose fields (``""`` for empty) are in ``wanted_fields``,
    or whose raw text (malformed lines) is in ``wanted_raw``. Lines are split as Spark splits them (one
    record per physical line).

    The file is not parsed line by line: each wanted record's most telling bytes (a malformed line's whole
    text, else its longest field) are searched for in the memory-mapped file, and only the lines holding
    them are decoded, parsed and compared; a line's number is the count of newlines before it. At most
    ``max_hits`` candidate lines are looked at per record (a record of nothing but common values may go
    without a line number: the numbers are samples).
    """
    import mmap

    out: dict[object, list[int]] = {}
    if sf.fmt != "csv" or not (wanted_fields or wanted_raw):
        return out
    d = sf.dialect
    codec = d.encoding
    wanted: list[tuple[object, bytes]] = [(raw, raw.encode(codec, "replace")) for raw in wanted_raw if raw]
    for key in wanted_fields:
        longest = max(key, key=len, default="")
        if longest:
            wanted.append((key, longest.encode(codec, "replace")))
    with sf.path.open("rb") as fh:
        if sf.path.stat().st_size == 0:
            return out
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            header_end = data.find(b"\n")
            if header_end < 0:
                return out
            starts: dict[int, list[object]] = {}  # line start offset -> the wanted records on that line
            for key, needle in wanted:
                pos, hits = data.find(needle, header_end + 1), 0
                while pos >= 0 and hits < max_hits:
                    hits += 1
                    start = data.rfind(b"\n", 0, pos) + 1
                    end = data.find(b"\n", pos)
                    end = len(data) if end < 0 else end
                    text = data[start:end].decode(codec, "replace").rstrip("\r")
                    if isinstance(key, str):
                        match = text == key
                    else:
                        match = tuple(next(csv.reader([text], delimiter=d.separator, quotechar=d.quote), [])) == key
                    if match and key not in starts.setdefault(start, []):
                        starts[start].append(key)
                    pos = data.find(needle, end)
            number, done = 1, 0  # one sweep counts the newlines before every matched line
            for start in sorted(starts):
                number += data[done:start].count(b"\n")
                done = start
                for key in starts[start]:
                    out.setdefault(key, []).append(number)
    return out

"""A source's mapping file: how one bank's extract becomes the input contract (``pixring ingest --mapping FILE``).

YAML (``.yaml``/``.yml``) or TOML (``.toml``), validated by pydantic; every mistake is one clear error
before anything is read. Example (``docs/contract.md`` has the full reference)::

    source: banco-exemplo
    csv: {separator: ";", decimal: ",", encoding: latin-1}
    files:
      transacoes_pix:
        file: PIX_TRANSACOES.csv            # default: transacoes_pix.csv or .parquet
        columns: {id_e2e: id_transacao, dt_hora: timestamp, vl_transacao: valor}   # source -> contract
        values:
          tipo_transacao: {PIX_TRANSF: transferencia_p2p, PIX_QRS: qr_estatico}   # source value -> contract value
        constants: {status: concluida}       # a contract column the extract does not have
        ignore: [agencia]                    # source columns deliberately not loaded

Timestamps in a bank's own form (``31/05/2026``, ``31/05/2026 14:03``) are declared per column
(``timestamps: {data_cadastro: dd/MM/yyyy}`` under a file) or for every timestamp column of the source
(``timestamp_format: dd/MM/yyyy HH:mm:ss``), as Spark datetime patterns; such a value is rewritten at ingest
to the contract's ISO form (naive = local time, an offset pattern letter ``XXX`` converts it), and a value
that does not parse in its declared form is kept as it is (quarantined as ``bad_timestamp`` unless it is
one of the contract's own forms).

Renames, value maps and constants are applied at ingest, so bronze holds the contract's columns (as text);
a value without an entry in its value map lands as it is and is quarantined at refine with the value in
the reason (``bad_enum:<column>=<value>``). Money columns of a ``decimal: ","`` file are rewritten from
``1.234,56`` to ``1234.56`` (text that is not such a number is kept, and quarantined as ``bad_number``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pixring.contract import COLUMN_TYPES, COLUMNS, ENUMS, FILES
from pixring.errors import PixringError

#: Declared encodings and their Python codec names (Spark takes the same Java charset names).
ENCODINGS: dict[str, str] = {
    "utf-8": "utf-8", "utf8": "utf-8",
    "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1",
    "cp1252": "cp1252", "windows-1252": "cp1252",
}
#: Java charset name per codec.
JAVA_CHARSETS: dict[str, str] = {"utf-8": "UTF-8", "latin-1": "ISO-8859-1", "cp1252": "windows-1252"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvDialect(_Strict):
    """How a CSV file is written: field separator, quote, decimal mark of money columns, encoding."""

    separator: str = Field(",", min_length=1, max_length=1, description="field separator (`;` for many bank extracts)")
    quote: str = Field('"', min_length=1, max_length=1,
                       description="quote character; a quote inside a quoted field is doubled (RFC 4180)")
    decimal: Literal[".", ","] = Field(".", description="decimal mark of the money columns: `,` reads `1.234,56` "
                                                        "as 1234.56")
    encoding: str = Field("utf-8", description="`utf-8`, `latin-1` (ISO-8859-1) or `cp1252`; a file that is not "
                                               "valid in it is refused with the line named")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        codec = ENCODINGS.get(value.strip().lower())
        if codec is None:
            raise ValueError(f"encoding {value!r} is not one of {', '.join(sorted(set(ENCODINGS.values())))}")
        return codec

    @model_validator(mode="after")
    def _distinct(self) -> CsvDialect:
        if self.separator in (self.quote, "\n", "\r") or (self.decimal == "," and self.separator == ","):
            raise ValueError(f"separator {self.separator!r} clashes with the quote or the decimal comma")
        return self

    @property
    def java_charset(self) -> str:
        return JAVA_CHARSETS[self.encoding]


#: Pattern letters a declared timestamp form may use (Spark datetime patterns): years, months, days, hours,
#: minutes, seconds, fractions, AM/PM and offsets; any other letter must be quoted (``'T'``).
TS_PATTERN_LETTERS = frozenset("yMdHhKkmsSaXxZ")


def _check_ts_pattern(pattern: str) -> str:
    """A declared timestamp form: a Spark datetime pattern with a full date (``y``, ``M``, ``d``)."""
    if not 1 <= len(pattern) <= 64:
        raise ValueError(f"timestamp form {pattern!r}: 1 to 64 characters")
    letters, quoted = set(), False
    for ch in pattern:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch.isalpha():
            letters.add(ch)
    if quoted:
        raise ValueError(f"timestamp form {pattern!r}: an unclosed quote")
    bad = sorted(letters - TS_PATTERN_LETTERS)
    if bad:
        raise ValueError(f"timestamp form {pattern!r}: pattern letter(s) {', '.join(bad)} not accepted "
                         f"(use {''.join(sorted(TS_PATTERN_LETTERS))}; quote literal text: 'T')")
    if not {"y", "M", "d"} <= letters:
        raise ValueError(f"timestamp form {pattern!r}: needs a year (y), a month (M) and a day (d)")
    return pattern


def timestamp_columns(table: str) -> list[str]:
    return [c for c in COLUMNS[table] if COLUMN_TYPES[table][c] == "ts"]


class FileMapping(_Strict):
    """One contract file: where it is and how its columns and values map onto the contract."""

    file: str | None = Field(None, description="the file's name in the source folder (default `<table>.csv` or "
                                               "`<table>.parquet`)")
    format: Literal["csv", "parquet"] | None = Field(None, description="`csv` or `parquet` (default: from the "
                                                                      "file name)")
    columns: dict[str, str] = Field(default_factory=dict, description="source column -> contract column")
    values: dict[str, dict[str, str]] = Field(default_factory=dict,
                                              description="enum column -> {source value: contract value}")
    constants: dict[str, str] = Field(default_factory=dict,
                                      description="contract column the source lacks -> the value of every row")
    ignore: tuple[str, ...] = Field((), description="source columns deliberately not loaded (any other column "
                                                    "outside the contract is an error)")
    timestamps: dict[str, str] = Field(default_factory=dict,
                                       description="timestamp column -> its form as a Spark datetime pattern "
                                                   "(`dd/MM/yyyy`, `dd/MM/yyyy HH:mm:ss`), rewritten to ISO at "
                                                   "ingest; a value not in that form is kept as it is")
    csv: CsvDialect | None = Field(None, description="this file's dialect, when it differs from the source's")

    @field_validator("timestamps")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        return {col: _check_ts_pattern(pattern) for col, pattern in value.items()}

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value or "\\" in value or value.startswith(".")):
            raise ValueError(f"file {value!r}: a file name inside the source folder, without a path")
        return value


class Mapping(_Strict):
    """A source's mapping file (see the module docstring)."""

    source: str = Field(min_length=1, max_length=80, description="the source's name (shown by the reports)")
    csv: CsvDialect = Field(CsvDialect(), description="the dialect of every CSV file of the source")
    timestamp_format: str | None = Field(None, description="the form of every timestamp column of the source "
                                                          "(a Spark datetime pattern, e.g. `dd/MM/yyyy HH:mm`) "
                                                          "unless its file's `timestamps` names another")
    files: dict[str, FileMapping] = Field(default_factory=dict, description="contract file -> its mapping")

    @field_validator("timestamp_format")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else _check_ts_pattern(value)

    @model_validator(mode="after")
    def _against_the_contract(self) -> Mapping:
        errors: list[str] = []
        for table, fm in self.files.items():
            if table not in FILES:
                errors.append(f"files.{table}: not a contract file ({', '.join(FILES)})")
                continue
            contract = COLUMNS[table]
            targets = list(fm.columns.values())
            for src, dst in fm.columns.items():
                if dst not in contract:
                    errors.append(f"files.{table}.columns.{src}: {dst!r} is not a column of {table} ({', '.join(contract)})")
            for dst in {t for t in targets if targets.count(t) > 1}:
                errors.append(f"files.{table}.columns: several source columns map to {dst}")
            for col, value in fm.constants.items():
                if col not in contract:
                    errors.append(f"files.{table}.constants.{col}: not a column of {table}")
                elif col in targets:
                    errors.append(f"files.{table}.constants.{col}: also mapped from a source column")
                elif (table, col) in ENUMS and value not in ENUMS[(table, col)]:
                    errors.append(f"files.{table}.constants.{col}: {value!r} is not one of {', '.join(ENUMS[(table, col)])}")
            for col, table_map in fm.values.items():
                if (table, col) not in ENUMS:
                    errors.append(f"files.{table}.values.{col}: not an enum column of {table}")
                    continue
                for src_value, value in table_map.items():
                    if value not in ENUMS[(table, col)]:
                        errors.append(f"files.{table}.values.{col}.{src_value}: {value!r} is not one of "
                                      f"{', '.join(ENUMS[(table, col)])}")
            for col in fm.timestamps:
                if col not in timestamp_columns(table):
                    errors.append(f"files.{table}.timestamps.{col}: not a timestamp column of {table} "
                                  f"({', '.join(timestamp_columns(table))})")
            for col in fm.ignore:
                if col in fm.columns:
                    errors.append(f"files.{table}.ignore: {col} is also mapped")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def for_table(self, table: str) -> FileMapping:
        """The file's mapping, with the source's ``timestamp_format`` filled in for its other timestamp columns."""
        fm = self.files.get(table, FileMapping())
        if self.timestamp_format is None:
            return fm
        forms = {c: self.timestamp_format for c in timestamp_columns(table)} | fm.timestamps
        return fm.model_copy(update={"timestamps": forms})

    def dialect(self, table: str) -> CsvDialect:
        return self.for_table(table).csv or self.csv

    def digest(self) -> str:
        """sha256 of the mapping's canonical JSON (part of a mapped file's batch fingerprint)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


#: The contract as it is: no renames, comma-separated UTF-8 with a decimal point.
IDENTITY = Mapping(source="contract")


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file; a :class:`PixringError` naming the file and every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PixringError(f"mapping {path}: {exc.strerror or exc}") from exc
    kind = path.suffix.lower()
    if kind not in (".yaml", ".yml", ".toml"):
        raise PixringError(f"mapping {path}: expected a .yaml, .yml or .toml file")
    try:
        if kind == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # tomllib.TOMLDecodeError, yaml.YAMLError
        raise PixringError(f"mapping {path}: not valid {'TOML' if kind == '.toml' else 'YAML'}: "
                           f"{str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise PixringError(f"mapping {path}: expected a mapping at the top level")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors())
        raise PixringError(f"mapping {path}: {problems}") from exc


def plan_columns(table: str, header: list[str], fm: FileMapping, where: str) -> dict[str, str | None]:
    """Contract column -> the source column it is read from (None: a constant), checked against ``header``.

    A source column named like a contract column maps to it unless renamed; every contract column needs a
    source column or a constant; every source column must be used or listed under ``ignore``.
    """
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise PixringError(f"{where}: column(s) {', '.join(dupes)} appear more than once in the header")
    renamed = {dst: src for src, dst in fm.columns.items()}
    plan: dict[str, str | None] = {}
    missing: list[str] = []
    for col in COLUMNS[table]:
        if col in renamed:
            src = renamed[col]
            if src not in header:
                raise PixringError(f"{where}: mapped column {src!r} (-> {col}) is not in the header {header}")
            plan[col] = src
        elif col in fm.constants:
            plan[col] = None
        elif col in header:
            plan[col] = col
        else:
            missing.append(col)
    if missing:
        raise PixringError(f"{where}: no column for {', '.join(missing)} of the {table} contract {COLUMNS[table]} "
                           f"(header {header}; map a column to it or give a constant in a mapping file)")
    used = {s for s in plan.values() if s is not None} | set(fm.ignore)
    extra = [h for h in header if h not in used]
    if extra:
        raise PixringError(f"{where}: column(s) {', '.join(extra)} are not in the {table} contract {COLUMNS[table]} "
                           "(rename them or list them under ignore in a mapping file)")
    return plan


def money_columns(table: str) -> list[str]:
    return [c for c in COLUMNS[table] if COLUMN_TYPES[table][c] == "money"]

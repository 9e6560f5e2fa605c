"""Reading a source file: declared timestamp forms (Spark) and finding sample records' line numbers (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest


def _limits(path: Path, rows: list[str], encoding: str = "latin-1") -> Path:
    text = "cd_cliente;vl_dia;vl_tx;dt_alteracao\r\n" + "".join(r + "\r\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


_MAPPING = """
source: banco
csv: {separator: ";", decimal: ",", encoding: latin-1}
timestamp_format: "dd/MM/yyyy HH:mm:ssXXX"
files:
  limites_transacoes:
    columns: {cd_cliente: id_usuario, vl_dia: limite_diario, vl_tx: limite_por_transacao,
              dt_alteracao: data_atualizacao}
"""


@pytest.mark.spark
def test_declared_timestamp_forms_are_rewritten_to_iso_at_ingest(spark, tmp_path: Path) -> None:
    from lakehouse.mapping import load_mapping
    from lakehouse.sources import find_sources, read_source

    values = ["31/05/2026 14:03", "2026-05-31", "31/02/2026 10:00", "31/05/2026", "ontem"]
    _limits(tmp_path / "limites_transacoes.csv", [f"C{i};1.000,00;500,00;{v}" for i, v in enumerate(values)])
    per_file = tmp_path / "m.yaml"
    per_file.write_text(_MAPPING.replace("              dt_alteracao: data_atualizacao}",
                                         "              dt_alteracao: data_atualizacao}\n"
                                         "    timestamps: {data_atualizacao: dd/MM/yyyy HH:mm}"))
    sf = find_sources(tmp_path, load_mapping(per_file))[0]["limites_transacoes"]
    got = [r.data_atualizacao for r in read_source(spark, sf).orderBy("id_usuario").collect()]
    # the declared form is rewritten; anything else (an ISO date, an impossible date, a date without
    # the time the form asks for, a word) is kept as it is, for refine to accept or quarantine
    assert got == ["2026-05-31T14:03:00", "2026-05-31", "31/02/2026 10:00", "31/05/2026", "ontem"]

    # the source's default form, with an offset: converted to local time (America/Sao_Paulo, -03:00)
    _limits(tmp_path / "limites_transacoes.csv", ["C0;1,00;1,00;31/05/2026 14:03:00-02:00",
                                                  "C1;1,00;1,00;01/06/2026 00:30:00Z"])
    source_wide = tmp_path / "s.yaml"
    source_wide.write_text(_MAPPING)
    sf = find_sources(tmp_path, load_mapping(source_wide))[0]["limites_transacoes"]
    got = [r.data_atualizacao for r in read_source(spark, sf).orderBy("id_usuario").collect()]
    assert got == ["2026-05-31T13:03:00", "2026-05-31T21:30:00"]


def test_line_numbers_find_sample_records_and_malformed_lines(tmp_path: Path) -> None:
    from lakehouse.mapping import CsvDialect
    from lakehouse.sources import SourceFile, line_numbers

    rows = ["C1;10,00;5,00;2026-05-31", "C2;José;5,00;2026-05-31", "C1;10,00;5,00;2026-05-31", "C3;1;2",
            "C10;10,00;5,00;2026-05-31", '"C4;x";1,00;1,00;2026-06-01']
    path = _limits(tmp_path / "l.csv", rows)
    sf = SourceFile("limites_transacoes", path, "csv", dialect=CsvDialect(separator=";", encoding="latin-1"))
    want = {("C1", "10,00", "5,00", "2026-05-31"), ("C2", "José", "5,00", "2026-05-31"),
            ("C4;x", "1,00", "1,00", "2026-06-01"), ("C9", "", "", "")}
    found = line_numbers(sf, want, {"C3;1;2"})
    # line 1 is the header; a record repeated is found on each of its lines, C10's line is not C1's,
    # a Latin-1 field and a quoted separator are compared as read, a record not in the file has no line
    assert found == {("C1", "10,00", "5,00", "2026-05-31"): [2, 4], ("C2", "José", "5,00", "2026-05-31"): [3],
                     "C3;1;2": [5], ("C4;x", "1,00", "1,00", "2026-06-01"): [7]}

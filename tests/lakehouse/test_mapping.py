"""Mapping files (YAML and TOML), header plans and the encoding check: pure logic, no Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixring.errors import PixringError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_and_a_toml_mapping_read_the_same(tmp_path: Path) -> None:
    from lakehouse.mapping import load_mapping

    y = _write(tmp_path / "m.yaml", """
source: banco
csv: {separator: ";", decimal: ",", encoding: ISO-8859-1}
files:
  transacoes_pix:
    file: PIX.csv
    columns: {id_e2e: id_transacao}
    values: {tipo_transacao: {PIX_TRANSF: transferencia_p2p}}
    constants: {status: concluida}
    ignore: [agencia]
""")
    t = _write(tmp_path / "m.toml", """
source = "banco"
[csv]
separator = ";"
decimal = ","
encoding = "ISO-8859-1"
[files.transacoes_pix]
file = "PIX.csv"
columns = {id_e2e = "id_transacao"}
values = {tipo_transacao = {PIX_TRANSF = "transferencia_p2p"}}
constants = {status = "concluida"}
ignore = ["agencia"]
""")
    a, b = load_mapping(y), load_mapping(t)
    assert a == b and a.digest() == b.digest()
    assert a.dialect("transacoes_pix").encoding == "latin-1" and a.csv.java_charset == "ISO-8859-1"
    assert a.for_table("usuarios").columns == {}


@pytest.mark.parametrize("body, message", [
    ("source: b\nfiles: {nope: {}}", "files.nope: not a contract file"),
    ("source: b\nfiles: {usuarios: {columns: {x: y}}}", "'y' is not a column of usuarios"),
    ("source: b\nfiles: {usuarios: {columns: {a: nome, b: nome}}}", "several source columns map to nome"),
    ("source: b\nfiles: {usuarios: {values: {nome: {a: b}}}}", "values.nome: not an enum column"),
    ("source: b\nfiles: {usuarios: {values: {status: {A: activo}}}}", "'activo' is not one of ativo"),
    ("source: b\nfiles: {usuarios: {constants: {status: x}}}", "'x' is not one of"),
    ("source: b\nfiles: {usuarios: {colunas: {}}}", "files.usuarios.colunas: Extra inputs"),
    ("source: b\ncsv: {encoding: ebcdic}", "encoding 'ebcdic' is not one of"),
    ("source: b\ncsv: {separator: ',', decimal: ','}", "clashes with the quote or the decimal comma"),
    ("source: b\nfiles: {usuarios: {file: ../x.csv}}", "a file name inside the source folder"),
    ("files: {}", "source: Field required"),
    ("source: b\nfiles: {usuarios: {timestamps: {nome: dd/MM/yyyy}}}", "timestamps.nome: not a timestamp column"),
    ("source: b\nfiles: {usuarios: {timestamps: {data_cadastro: dd/MM}}}", "needs a year (y), a month (M)"),
    ("source: b\nfiles: {usuarios: {timestamps: {data_cadastro: dd/MM/yyyy EEEE}}}", "letter(s) E not accepted"),
    ("source: b\ntimestamp_format: \"yyyy-MM-dd'T\"", "an unclosed quote"),
    ("source: [unclosed", "not valid YAML"),
])
def test_mapping_mistakes_are_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    from lakehouse.mapping import load_mapping

    with pytest.raises(PixringError, match=None) as err:
        load_mapping(_write(tmp_path / "m.yaml", body))
    assert message in str(err.value) and "m.yaml" in str(err.value)


def test_mapping_file_kinds(tmp_path: Path) -> None:
    from lakehouse.mapping import load_mapping

    with pytest.raises(PixringError, match="expected a .yaml, .yml or .toml"):
        load_mapping(_write(tmp_path / "m.json", "{}"))
    with pytest.raises(PixringError, match="not valid TOML"):
        load_mapping(_write(tmp_path / "m.toml", "source = "))
    with pytest.raises(PixringError, match="No such file"):
        load_mapping(tmp_path / "absent.yaml")


def test_header_plans_rename_constants_and_refuse_strangers() -> None:
    from lakehouse.mapping import FileMapping, plan_columns

    fm = FileMapping(columns={"cd": "id_usuario", "doc": "cpf_cnpj"}, constants={"status": "ativo"}, ignore=("ag",))
    header = ["cd", "doc", "nome", "email", "telefone", "data_cadastro", "ag"]
    assert plan_columns("usuarios", header, fm, "f") == {
        "id_usuario": "cd", "cpf_cnpj": "doc", "nome": "nome", "email": "email", "telefone": "telefone",
        "data_cadastro": "data_cadastro", "status": None}
    with pytest.raises(PixringError, match="no column for status"):
        plan_columns("usuarios", header, FileMapping(columns=fm.columns, ignore=("ag",)), "f")
    with pytest.raises(PixringError, match="column\\(s\\) ag are not in the usuarios contract"):
        plan_columns("usuarios", header, FileMapping(columns=fm.columns, constants=fm.constants), "f")
    with pytest.raises(PixringError, match="more than once"):
        plan_columns("usuarios", [*header, "nome"], fm, "f")
    with pytest.raises(PixringError, match="mapped column 'cd'"):
        plan_columns("usuarios", header[1:], fm, "f")


def test_a_file_invalid_in_its_declared_encoding_is_refused_naming_the_line(tmp_path: Path) -> None:
    from lakehouse.mapping import CsvDialect
    from lakehouse.sources import SourceFile, fingerprint

    path = tmp_path / "usuarios.csv"
    path.write_bytes("id_usuario,nome\nU1,José\n".encode("utf-8") + "U2,Conceição\n".encode("latin-1"))
    with pytest.raises(PixringError, match=r"usuarios.csv: line 3, byte 10: not valid utf-8"):
        fingerprint(SourceFile("usuarios", path, "csv"))
    sha, size = fingerprint(SourceFile("usuarios", path, "csv", dialect=CsvDialect(encoding="latin-1")))
    assert size == path.stat().st_size and len(sha) == 64  # every byte is Latin-1
    cp = tmp_path / "cp.csv"
    cp.write_bytes(b"a\nok\n\x81\n")
    with pytest.raises(PixringError, match="line 3, byte 1: not valid cp1252"):
        fingerprint(SourceFile("usuarios", cp, "csv", dialect=CsvDialect(encoding="cp1252")))


def test_a_mapped_file_is_another_delivery_than_the_same_file_unmapped(tmp_path: Path) -> None:
    from lakehouse.mapping import Mapping
    from lakehouse.sources import batch_fingerprint, find_sources

    (tmp_path / "usuarios.csv").write_text("x\n")
    plain, _ = find_sources(tmp_path)
    mapped, _ = find_sources(tmp_path, Mapping(source="b"))
    other, _ = find_sources(tmp_path, Mapping(source="b", csv={"separator": ";"}))
    shas = {batch_fingerprint(f["usuarios"], "c" * 64) for f in (plain, mapped, other)}
    assert len(shas) == 3 and batch_fingerprint(plain["usuarios"], "c" * 64) == "c" * 64


def test_declared_timestamp_forms_per_file_and_per_source(tmp_path: Path) -> None:
    from lakehouse.mapping import load_mapping
    from lakehouse.sources import find_sources

    m = load_mapping(_write(tmp_path / "m.yaml", """
source: banco
timestamp_format: "dd/MM/yyyy HH:mm:ss"
files:
  usuarios: {timestamps: {data_cadastro: dd/MM/yyyy}}
"""))
    # the file's own form wins; the source's form fills every other timestamp column
    assert m.for_table("usuarios").timestamps == {"data_cadastro": "dd/MM/yyyy"}
    assert m.for_table("transacoes_pix").timestamps == {"timestamp": "dd/MM/yyyy HH:mm:ss"}
    assert m.for_table("limites_transacoes").timestamps == {"data_atualizacao": "dd/MM/yyyy HH:mm:ss"}
    # a changed form is another delivery of the same file
    for name in ("usuarios", "transacoes_pix"):
        (tmp_path / f"{name}.csv").write_text("x\n")
    a, _ = find_sources(tmp_path, m)
    b, _ = find_sources(tmp_path, m.model_copy(update={"timestamp_format": "yyyy/MM/dd HH:mm:ss"}))
    assert a["transacoes_pix"].mapping_digest != b["transacoes_pix"].mapping_digest
    assert a["usuarios"].mapping_digest == b["usuarios"].mapping_digest  # its own form did not change

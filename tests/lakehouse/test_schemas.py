"""Table contracts, paths, argument checks and report formatting: no Spark session needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixring.errors import PixringError


def test_bronze_is_the_contract_as_text_plus_ingestion_metadata() -> None:
    from pixring.contract import COLUMNS, FILES
    from lakehouse.schemas import BRONZE, META_COLUMNS

    assert set(BRONZE) == set(FILES)
    for name, schema in BRONZE.items():
        assert schema.fieldNames() == [*COLUMNS[name], "_malformed_line", *META_COLUMNS]
        assert {f.dataType.simpleString() for f in schema.fields if f.name in COLUMNS[name]} == {"string"}
    assert META_COLUMNS == ("_source_file", "_ingested_at", "_batch_id", "_record_hash")


def test_silver_gold_and_checks_are_consistent() -> None:
    from pixring.contract import ENUMS, PRIMARY_KEYS
    from lakehouse.schemas import (
        GOLD, GOLD_KEYS, MASKED_COLUMNS, QUARANTINE, SILVER, SILVER_CHECKS, SILVER_KEYS, TOKEN_COLUMNS,
    )

    for table, keys in PRIMARY_KEYS.items():
        assert set(keys) <= set(SILVER[table].fieldNames()) and SILVER_KEYS[table] == keys
        for key in keys:
            assert not SILVER[table][key].nullable
    for table, cols in {**TOKEN_COLUMNS, **MASKED_COLUMNS}.items():
        assert set(cols) <= set(SILVER[table].fieldNames())
    for (table, column), values in ENUMS.items():
        assert all(repr(v) in SILVER_CHECKS[table][f"{column}_conhecido"] for v in values)
    assert SILVER_CHECKS["transacoes_pix"]["chave_pix_origem_e_token"].endswith("'^[0-9a-f]{64}$'")
    for table, key in GOLD_KEYS.items():
        assert GOLD[table].fieldNames()[0] == key
    assert {"reason", "reasons", "raw_record", "batch_id", "bronze_table"} <= set(QUARANTINE.fieldNames())


def test_table_paths_follow_the_layout(settings) -> None:
    from lakehouse.paths import checkpoint_path, table_path

    assert table_path(settings, "silver", "usuarios") == str(settings.paths.home / "lakehouse" / "silver" / "usuarios")
    assert checkpoint_path(settings, "x").startswith(str(settings.paths.checkpoints))
    with pytest.raises(ValueError):
        table_path(settings, "platinum", "x")


def test_erase_refuses_something_that_is_not_a_document(settings) -> None:
    from lakehouse.erase import erase, mask_document

    with pytest.raises(PixringError, match="CPF"):
        erase(None, settings, "12-34")  # type: ignore[arg-type]  # checked before Spark is touched
    assert mask_document("12345678909") == "***.456.789-**"


def test_source_folder_problems_are_one_clear_error(tmp_path: Path) -> None:
    from lakehouse.mapping import plan_columns
    from lakehouse.sources import csv_header, find_sources

    with pytest.raises(PixringError, match="not a folder"):
        find_sources(tmp_path / "nope")
    with pytest.raises(PixringError, match="none of"):
        find_sources(tmp_path)
    (tmp_path / "usuarios.csv").write_text("a,b\n")
    (tmp_path / "usuarios.parquet").write_text("")
    with pytest.raises(PixringError, match="keep one"):
        find_sources(tmp_path)
    (tmp_path / "usuarios.parquet").unlink()
    (tmp_path / "_truth").mkdir()
    (tmp_path / "_truth" / "transacoes_fraudulentas.csv").write_text("x\n")
    found, missing = find_sources(tmp_path)
    assert list(found) == ["usuarios"] and "transacoes_pix" in missing
    sf = found["usuarios"]
    with pytest.raises(PixringError, match=r"usuarios.csv: no column for id_usuario, cpf_cnpj"):
        plan_columns("usuarios", csv_header(sf), sf.mapping, str(sf.path))


def test_kafka_message_contract() -> None:
    from lakehouse.producer import message_value

    row = {"id_transacao": "TX0000000001", "timestamp": "2026-09-10T09:10:00", "valor": "1234.50",
           "chave_pix_origem": "a", "chave_pix_destino": "b", "tipo_transacao": "qr_estatico", "status": "concluida"}
    doc = json.loads(message_value(row))
    assert doc["schema_version"] == 1 and doc["valor"] == 1234.5 and doc["timestamp"] == row["timestamp"]
    assert json.loads(message_value({**row, "valor": "abc"}))["valor"] == "abc"  # sent as found, quarantined later


def test_refine_report_prints_the_reconciliation() -> None:
    from lakehouse.refine import RefineReport

    rep = RefineReport("r1", "latest", reconciliation=[
        {"bronze_table": "usuarios", "batch_id": "usuarios-1", "bronze": 10, "silver": 8, "quarantine": 1,
         "duplicates": 1, "ok": True},
        {"bronze_table": "transacoes_pix_stream", "batch_id": "stream-1", "bronze": 3, "silver": 2, "quarantine": 0,
         "duplicates": 0, "ok": False},
    ])
    text = str(rep)
    assert "bronze = silver + quarantine + duplicates" in text and "reconciled: NO" in text
    assert rep.silver_rows() == {"usuarios": 8, "transacoes_pix": 2}

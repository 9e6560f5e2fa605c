"""A bank's own extract on real Spark + Delta: it lands whole through its mapping file, and the same files
with 5 % broken rows land the rest and quarantine exactly those rows, with the right reasons.

The extract is datagen's output (scale 0.05) turned into a bank's shape by ``bankshape.convert``: E2E
ids, opaque customer ids, punctuated CPFs, date-only columns, timestamps with an offset, ``;`` with decimal
commas, Latin-1, the bank's own enum codes, an extra column and a missing one (a constant).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

import bankshape as bank

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> dict:
    from datagen.generator import generate

    root = tmp_path_factory.mktemp("bank")
    raw = root / "raw"
    generate(out=raw, scale=0.05, seed=7, fmt="csv", difficulty="normal", overwrite=True)
    clean = root / "clean"
    mapping = bank.convert(raw, clean)
    broken = root / "broken"
    expected = bank.break_rows(clean, broken, fraction=0.05)
    return dict(root=root, raw=raw, clean=clean, broken=broken, mapping=mapping, expected=expected)


def _land(spark, make_settings, home: Path, folder: Path, mapping_file: Path):
    from lakehouse.ingest import ingest_files
    from lakehouse.mapping import load_mapping
    from lakehouse.refine import refine

    settings = make_settings(home)
    mapping = load_mapping(mapping_file)
    ingested = ingest_files(spark, settings, folder, mapping)
    return settings, ingested, refine(spark, settings)


@pytest.fixture(scope="module")
def clean_lake(spark, make_settings, extract) -> dict:
    settings, ingested, report = _land(spark, make_settings, extract["root"] / "home-clean", extract["clean"],
                                       extract["mapping"])
    return dict(settings=settings, ingested=ingested, report=report)


@pytest.fixture(scope="module")
def broken_lake(spark, make_settings, extract) -> dict:
    settings, ingested, report = _land(spark, make_settings, extract["root"] / "home-broken", extract["broken"],
                                       extract["mapping"])
    return dict(settings=settings, ingested=ingested, report=report)


def _read(spark, settings, layer: str, table: str):
    from lakehouse.paths import table_path

    return spark.read.format("delta").load(table_path(settings, layer, table))


def _datagen_rows(raw: Path, table: str) -> list[dict[str, str]]:
    with (raw / f"{table}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_bank_extract_lands_whole_through_its_mapping(spark, extract, clean_lake) -> None:
    report = clean_lake["report"]
    rows = report.silver_rows()
    n_tx = len(_datagen_rows(extract["raw"], "transacoes_pix"))
    assert rows["transacoes_pix"] >= 0.99 * n_tx, report
    for table in ("usuarios", "chaves_pix", "dispositivos", "limites_transacoes", "log_autenticacao", "fraudes"):
        assert rows[table] >= 0.99 * len(_datagen_rows(extract["raw"], table)), (table, report)
    # whatever did not land is quarantined with a reason, and every batch adds up
    assert report.ok and all(r["bronze"] == r["silver"] + r["quarantine"] + r["duplicates"] + r["conflicts"]
                             for r in report.reconciliation)
    q = _read(spark, clean_lake["settings"], "bronze", "quarantine").collect()
    assert all(r.reasons for r in q)


def test_bank_ids_dates_offsets_and_punctuated_documents_are_conformed(spark, extract, clean_lake) -> None:
    from pyspark.sql import functions as F

    from lakehouse.transforms.tokenise import token

    settings = clean_lake["settings"]
    raw_tx = {bank.e2e_id(r["id_transacao"], r["timestamp"]): r for r in _datagen_rows(extract["raw"], "transacoes_pix")}
    tx = {r.id_transacao: r for r in _read(spark, settings, "silver", "transacoes_pix")
          .select("id_transacao", F.date_format("timestamp", "yyyy-MM-dd'T'HH:mm:ss").alias("ts"), "valor",
                  "tipo_transacao").collect()}
    assert all(k.startswith("E") and len(k) == 32 for k in tx)
    sample = list(tx)[:50]
    for k in sample:  # an offset timestamp is the same instant as datagen's local time; decimal commas parsed
        assert tx[k].ts == raw_tx[k]["timestamp"] and str(tx[k].valor) == raw_tx[k]["valor"]
        assert tx[k].tipo_transacao == raw_tx[k]["tipo_transacao"]  # the bank's code mapped back
    users = {r["id_usuario"]: r for r in _datagen_rows(extract["raw"], "usuarios")}
    silver_users = {r.id_usuario: r for r in _read(spark, settings, "silver", "usuarios")
                    .select("id_usuario", "cpf_cnpj", F.date_format("data_cadastro", "yyyy-MM-dd HH:mm:ss").alias("d"))
                    .collect()}
    secret = settings.security.pii_secret
    for u in list(users)[:50]:
        got = silver_users[bank.customer_id(u)]
        # the punctuated CPF gets the token of its digits: the same person as in an unpunctuated source
        assert got.cpf_cnpj == token(users[u]["cpf_cnpj"], secret)
        assert got.d == users[u]["data_cadastro"][:10] + " 00:00:00"  # a date alone is 00:00 local
    # CPF keys are punctuated in the key file and digits in the transactions: they still join
    keys = _read(spark, settings, "silver", "chaves_pix").filter(F.col("tipo_chave") == "cpf").select("chave_pix")
    joined = _read(spark, settings, "silver", "transacoes_pix").join(
        keys, F.col("chave_pix_origem") == F.col("chave_pix"), "left_semi").count()
    assert joined > 0


def test_five_percent_broken_rows_are_quarantined_exactly_with_their_reasons(spark, extract, clean_lake,
                                                                              broken_lake) -> None:
    from pyspark.sql import functions as F

    from pixring.contract import COLUMNS

    settings = broken_lake["settings"]
    clean_q = _read(spark, clean_lake["settings"], "bronze", "quarantine").count()
    assert clean_q == 0  # so that every quarantined row below is one of the broken ones
    got: dict[str, Counter] = {t: Counter() for t in extract["expected"]}
    for r in _read(spark, settings, "bronze", "quarantine").collect():
        raw = json.loads(r.raw_record)
        first = raw[COLUMNS[r.bronze_table][0]]
        if raw.get("_malformed_line"):
            first = raw["_malformed_line"].split(";")[0]
        for reason in r.reasons:
            got[r.bronze_table][(first, reason)] += 1
        assert "84717042182" not in r.reason  # a document in an enum column is never echoed in a reason
    for table, expected in extract["expected"].items():
        assert got[table] == expected, table

    report, clean = broken_lake["report"], clean_lake["report"].silver_rows()
    for r in report.reconciliation:  # per file: it adds up, and it holds back exactly its broken rows
        assert r["ok"] and r["bronze"] == r["silver"] + r["quarantine"] + r["duplicates"] + r["conflicts"], r
        rows_of: dict[str, int] = {}  # a row with two reasons is one row; a conflict's two versions are two
        for (key, _), n in extract["expected"].get(r["bronze_table"], Counter()).items():
            rows_of[key] = max(rows_of.get(key, 0), n)
        assert r["quarantine"] + r["conflicts"] == sum(rows_of.values()), r
    rows = report.silver_rows()
    broken_tx = {k for (k, _) in extract["expected"]["transacoes_pix"]}  # one id per broken row (a conflict's twin adds none)
    assert rows["transacoes_pix"] == clean["transacoes_pix"] - len(broken_tx)
    n_conflicts = sum(n for (_, reason), n in extract["expected"]["transacoes_pix"].items() if reason.startswith("conflict"))
    tx = [r for r in report.reconciliation if r["bronze_table"] == "transacoes_pix"]
    assert len(tx) == 1 and tx[0]["conflicts"] == n_conflicts > 0 and tx[0]["ok"]
    assert tx[0]["bronze"] == tx[0]["silver"] + tx[0]["quarantine"] + tx[0]["duplicates"] + tx[0]["conflicts"]
    # both versions of a conflicting id are kept, with the reason, and neither is in silver
    conflict_ids = {k for (k, reason) in extract["expected"]["transacoes_pix"] if reason.startswith("conflict")}
    silver_ids = _read(spark, settings, "silver", "transacoes_pix").filter(
        F.col("id_transacao").isin(*conflict_ids)).count()
    assert silver_ids == 0


def test_check_is_a_dry_run_that_predicts_the_refine(spark, make_settings, extract, broken_lake) -> None:
    from lakehouse.check import check_files
    from lakehouse.mapping import load_mapping
    from lakehouse.transforms import validate as V

    home = extract["root"] / "home-check"
    settings = make_settings(home)
    report = check_files(spark, settings, extract["broken"], load_mapping(extract["mapping"]), top=20)
    assert not (home / "lakehouse").exists()  # nothing written
    text = str(report)
    assert "nothing written" in text and "PIX_TRANSACOES.csv" in text
    by_table = {f.table: f for f in report.files}
    for r in broken_lake["report"].reconciliation:
        f = by_table[r["bronze_table"]]
        assert (f.counts[V.STATUS_SILVER], f.counts[V.STATUS_QUARANTINE], f.counts[V.STATUS_DUPLICATE],
                f.counts[V.STATUS_CONFLICT]) == (r["silver"], r["quarantine"], r["duplicates"], r["conflicts"])
    # every sample line number points at a row broken with that reason
    expected = extract["expected"]["transacoes_pix"]
    with (extract["broken"] / bank.FILES["transacoes_pix"][0]).open(newline="", encoding=bank.ENCODING) as fh:
        lines = fh.read().split("\r\n")
    tx = by_table["transacoes_pix"]
    assert {r.reason for r in tx.reasons} == {reason for _, reason in expected}
    for r in tx.reasons:
        assert r.rows == sum(n for (_, reason), n in expected.items() if reason == r.reason)
        assert r.lines, r
        for n in r.lines:
            first = lines[n - 1].split(";")[0]
            assert (first, r.reason) in expected, (n, lines[n - 1], r.reason)

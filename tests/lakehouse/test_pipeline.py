"""The lakehouse end to end on real Spark + Delta + Kafka: files and stream -> bronze -> silver/quarantine -> gold.

One small lakehouse is built once for the module (two file deliveries and a Kafka stream with broken
records); the tests read it in order: schemas, idempotent ingest, quarantine, reconciliation, PII, features,
MERGE + time travel, and last the LGPD erasure (which changes it).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError

import minilake as ml

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

TOKEN = re.compile(r"^[0-9a-f]{64}$")


def _rows(spark, path: str, order: str, version: int | None = None) -> list[tuple]:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    df = reader.load(path)
    return [tuple(r) for r in df.orderBy(*order.split(",")).collect()]


@pytest.fixture(scope="module")
def lake(spark, make_settings, kafka_bootstrap, tmp_path_factory):
    """Batch 1 (CSV with broken rows) + Kafka records -> bronze, ingested twice; then one refine."""
    from confluent_kafka import Producer

    from lakehouse import delta
    from lakehouse.ingest import ingest_files, ingest_stream
    from lakehouse.paths import table_path
    from lakehouse.producer import produce
    from lakehouse.refine import refine
    from lakehouse.schemas import INGEST_LOG_TABLE

    root = tmp_path_factory.mktemp("lake")
    topic = f"test.lakehouse.{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        root / "home",
        PIXRING_KAFKA_TOPIC_TRANSACTIONS=topic,
        PIXRING_LAKEHOUSE_VACUUM_RETENTION_HOURS="0",
    )
    src = ml.write_csv(root / "batch1", ml.batch1())
    first = ingest_files(spark, settings, src)
    second = ingest_files(spark, settings, src)

    stream_src = root / "stream"
    ml.write_csv(stream_src, ml.Dataset(rows={"transacoes_pix": [list(t) for t in ml.STREAM_VALID]}))
    produced = produce(settings, stream_src, rate=500.0, limit=None)
    raw = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"})
    for value, _ in ml.STREAM_BROKEN:
        raw.produce(topic, key=b"x", value=value.encode())
    assert raw.flush(10) == 0
    ingest_stream(spark, settings, available_now=True)
    version1 = delta.latest_version(spark, table_path(settings, "bronze", INGEST_LOG_TABLE))

    report = refine(spark, settings)
    paths = {(layer, t): table_path(settings, layer, t) for layer, t in (
        ("silver", "transacoes_pix"), ("silver", "limites_transacoes"), ("silver", "chaves_pix"),
        ("gold", "features_usuario"), ("gold", "features_chave"))}
    before = {
        "tx": _rows(spark, paths[("silver", "transacoes_pix")], "id_transacao"),
        "limites": _rows(spark, paths[("silver", "limites_transacoes")], "id_usuario"),
        "features_usuario": _rows(spark, paths[("gold", "features_usuario")], "id_usuario"),
        "features_chave": _rows(spark, paths[("gold", "features_chave")], "chave_pix"),
    }
    return dict(settings=settings, root=root, first=first, second=second, produced=produced,
                report=report, version1=version1, before=before, paths=paths)


def _table(spark, settings, layer: str, name: str):
    from lakehouse.paths import table_path

    return spark.read.format("delta").load(table_path(settings, layer, name))


def _same_fields(actual, expected) -> None:
    assert [(f.name, f.dataType.simpleString()) for f in actual.fields] == \
        [(f.name, f.dataType.simpleString()) for f in expected.fields]


# ------------------------------------------------------------------------------------------ bronze
def test_bronze_tables_hold_text_and_ingestion_metadata(spark, lake) -> None:
    from lakehouse.schemas import BRONZE, BRONZE_STREAM

    s = lake["settings"]
    for name, schema in BRONZE.items():
        df = _table(spark, s, "bronze", name)
        _same_fields(df.schema, schema)
    _same_fields(_table(spark, s, "bronze", "transacoes_pix_stream").schema, BRONZE_STREAM)

    tx = _table(spark, s, "bronze", "transacoes_pix")
    expected = len(ml.batch1().rows["transacoes_pix"]) + len(ml.BROKEN_TX)
    meta = tx.selectExpr("count(*) n", "count(distinct _batch_id) b", "count(_ingested_at) t",
                         "count(distinct _record_hash) h", "max(_source_file) f").first()
    assert meta.n == expected and meta.b == 1 and meta.t == expected
    assert meta.h == expected - 1  # TX0000000003 is in the file twice, byte for byte
    assert meta.f.endswith("batch1/transacoes_pix.csv")
    props = spark.sql(f"DESCRIBE DETAIL delta.`{lake['paths'][('silver', 'transacoes_pix')].replace('silver', 'bronze')}`")
    assert props.first().properties.get("delta.appendOnly") == "true"
    print(lake["first"])


def test_reingesting_the_same_files_adds_nothing(spark, lake) -> None:
    first, second = lake["first"], lake["second"]
    assert {f.status for f in first.files} == {"ingested", "missing"} or {f.status for f in first.files} == {"ingested"}
    assert all(f.status == "skipped" for f in second.files if f.status != "missing")
    assert second.rows == 0
    assert second.lakehouse_version == first.lakehouse_version
    counts = {f.table: f.rows for f in first.files}
    for table, n in counts.items():
        assert _table(spark, lake["settings"], "bronze", table).count() == n


def test_producer_reports_the_contract(lake) -> None:
    produced = lake["produced"]
    assert produced.sent == produced.delivered == len(ml.STREAM_VALID) and produced.failed == 0
    assert produced.first_timestamp <= produced.last_timestamp
    assert "achieved" in str(produced)


# -------------------------------------------------------------------------------------- validation
def test_broken_rows_are_quarantined_with_their_reason_and_raw_record(spark, lake) -> None:
    q = _table(spark, lake["settings"], "bronze", "quarantine").collect()
    by_table: dict[str, list] = {}
    for r in q:
        by_table.setdefault(r.bronze_table, []).append(r)

    broken = ml.batch1().broken
    for table, rows in broken.items():
        got = by_table.get(table, [])
        assert len(got) == len(rows), (table, [g.reason for g in got])
        for fields, reason in rows:
            match = [g for g in got if g.raw_record is not None and json.loads(g.raw_record).get(
                ml_first_column(table)) == fields[0]]
            assert match, (table, fields[0])
            assert reason in match[0].reasons, (table, fields[0], match[0].reasons)

    big = [g for g in by_table["usuarios"] if "too_long:nome" in g.reasons][0]
    assert len(big.raw_record) > ml.ONE_MB  # the raw record is kept whole

    stream = by_table["transacoes_pix_stream"]
    assert len(stream) == len(ml.STREAM_BROKEN)
    for value, reason in ml.STREAM_BROKEN:
        row = [g for g in stream if g.raw_record == value]
        assert row and reason in row[0].reasons, (value, [g.reasons for g in stream])
        assert row[0].source.startswith("kafka://")


def ml_first_column(table: str) -> str:
    from pixring.contract import COLUMNS

    return COLUMNS[table][0]


def test_reconciliation_holds_for_every_batch_and_is_recorded(spark, lake) -> None:
    report = lake["report"]
    text = str(report)
    assert "reconciled: yes" in text
    rows = {(r["bronze_table"], r["batch_id"]): r for r in report.reconciliation}
    assert all(r["ok"] for r in rows.values())
    assert all(r["bronze"] == r["silver"] + r["quarantine"] + r["duplicates"] + r["conflicts"] for r in rows.values())

    tx_file = [r for (t, _), r in rows.items() if t == "transacoes_pix"]
    assert len(tx_file) == 1
    # 18 lines: 8 good (TX1 superseded by its newer Kafka copy), 1 exact duplicate, 9 broken
    assert (tx_file[0]["bronze"], tx_file[0]["silver"], tx_file[0]["quarantine"], tx_file[0]["duplicates"]) == \
        (18, 7, 9, 2)
    stream = [r for (t, _), r in rows.items() if t == "transacoes_pix_stream"]
    assert sum(r["bronze"] for r in stream) == len(ml.STREAM_VALID) + len(ml.STREAM_BROKEN)
    assert sum(r["silver"] for r in stream) == len(ml.STREAM_VALID)

    recorded = _table(spark, lake["settings"], "silver", "reconciliation").filter(
        f"refine_id = '{report.refine_id}'").collect()
    assert len(recorded) == len(rows) and all(r.ok for r in recorded)


# ------------------------------------------------------------------------------------ silver, gold
def test_silver_and_gold_schemas_constraints_and_partitioning(spark, lake) -> None:
    from lakehouse.paths import table_path
    from lakehouse.schemas import GOLD, SILVER, SILVER_CHECKS

    s = lake["settings"]
    for name, schema in SILVER.items():
        _same_fields(_table(spark, s, "silver", name).schema, schema)
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{table_path(s, 'silver', name)}`").first()
        for check in SILVER_CHECKS[name]:
            assert f"delta.constraints.{check}" in detail.properties, (name, check)
        not_null = {f.name for f in schema.fields if not f.nullable}
        actual_not_null = {f.name for f in _table(spark, s, "silver", name).schema.fields if not f.nullable}
        assert not_null <= actual_not_null
    for name, schema in GOLD.items():
        _same_fields(_table(spark, s, "gold", name).schema, schema)
    tx_detail = spark.sql(f"DESCRIBE DETAIL delta.`{table_path(s, 'silver', 'transacoes_pix')}`").first()
    assert tx_detail.partitionColumns == ["data"]
    history = spark.sql(f"DESCRIBE HISTORY delta.`{table_path(s, 'gold', 'features_usuario')}`").collect()
    assert any(h.operation == "OPTIMIZE" and "id_usuario" in str(h.operationParameters) for h in history)


def test_a_check_constraint_refuses_a_clear_cpf_in_silver(spark, lake) -> None:
    from lakehouse.paths import table_path

    path = table_path(lake["settings"], "silver", "usuarios")
    row = _table(spark, lake["settings"], "silver", "usuarios").limit(1).withColumn(
        "cpf_cnpj", __import__("pyspark.sql.functions", fromlist=["lit"]).lit(ml.USERS["U00000001"]["doc"]))
    with pytest.raises(Py4JJavaError, match="DELTA_VIOLATE_CONSTRAINT"):
        row.write.format("delta").mode("append").save(path)


def test_no_clear_cpf_email_or_phone_in_silver_or_gold(spark, lake) -> None:
    from lakehouse.schemas import GOLD, SILVER, TOKEN_COLUMNS

    pii = ml.clear_pii()
    needles = pii["documents"] | pii["emails"] | pii["phones"] | {d["email"] for d in ml.USERS.values()}
    s = lake["settings"]
    for layer, tables in (("silver", SILVER), ("gold", GOLD)):
        for name in tables:
            df = _table(spark, s, layer, name)
            cols = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
            for row in df.select(*cols).collect():
                for col, value in zip(cols, row):
                    if value is None:
                        continue
                    assert "@" not in value, (layer, name, col, value)
                    assert not any(n in value for n in needles), (layer, name, col, value)
                    if col in TOKEN_COLUMNS.get(name, ()):
                        assert TOKEN.match(value), (name, col, value)
    names = {r.nome for r in _table(spark, s, "silver", "usuarios").collect()}
    assert "A*** S***" in names and not any("Ana" in n for n in names)


def test_tokens_are_stable_so_keys_join_their_holders(spark, lake) -> None:
    from lakehouse.transforms.tokenise import token

    s = lake["settings"]
    secret = s.security.pii_secret
    ana_doc = ml.USERS["U00000001"]["doc"]
    users = {r.id_usuario: r for r in _table(spark, s, "silver", "usuarios").collect()}
    keys = {r.chave_pix: r for r in _table(spark, s, "silver", "chaves_pix").collect()}
    assert users["U00000001"].cpf_cnpj == token(ana_doc, secret)
    assert users["U00000001"].telefone == token("+5511987650001", secret)  # conformed to E.164 first
    assert users["U00000001"].email == token("ana.souza@example.com", secret)  # lower-cased first
    assert keys[token(ana_doc, secret)].id_usuario == "U00000001"  # the CPF key joins its holder
    assert keys[token("ana.souza@example.com", secret)].id_usuario == "U00000001"


def test_transactions_are_enriched_and_gold_features_make_sense(spark, lake) -> None:
    s = lake["settings"]
    tx = {r.id_transacao: r for r in _table(spark, s, "silver", "transacoes_pix").collect()}
    t1 = tx["TX0000000001"]
    assert (t1.id_usuario_origem, t1.id_usuario_destino) == ("U00000001", "U00000003")
    assert t1.id_dispositivo_login == "D00000007" and t1.dispositivo_novo is True  # new device, then transfer
    assert t1.canal == "kafka"  # the newer Kafka copy won over the file row
    assert 9 * 24 < t1.idade_chave_destino_h < 10 * 24  # Carla's key was 9 days old
    assert tx["TX0000000005"].noturna is True and tx["TX0000000001"].noturna is False
    assert tx["TX0000000003"].id_dispositivo_login == "D00000003" and tx["TX0000000003"].dispositivo_novo is False

    feats = {r.id_usuario: r for r in _table(spark, s, "gold", "features_usuario").collect()}
    carla = feats["U00000003"]
    assert carla.max_tx_in_1h == 2 and carla.n_contrapartes_in == 2
    # received 500 + 300 (+ 25.50 by Kafka two days later); sent on 780 (+ 25.00) within the hour
    assert carla.pct_repasse_1h == pytest.approx((780 + 25) / (800 + 25.5), abs=1e-5)
    assert carla.idade_na_primeira_tx_h < 24 * 10
    assert feats["U00000001"].n_tx_dispositivo_novo == 2  # both transfers within 24 h of the new device
    assert feats["U00000006"].pct_noturno == 1.0
    assert feats["U00000002"].n_tx_rejeitadas_out == 1
    assert feats["U00000005"].tipo_pessoa == "PJ" and feats["U00000001"].n_chaves == 2


# ---------------------------------------------------------------------------- MERGE, time travel
def test_limit_and_key_changes_are_merged_and_time_travel_rebuilds_the_earlier_set(spark, lake) -> None:
    from lakehouse.ingest import ingest_files
    from lakehouse.refine import refine

    s, root, paths = lake["settings"], lake["root"], lake["paths"]
    unchanged = refine(spark, s, if_changed=True)  # bronze did not move since the fixture's refine
    assert unchanged.skipped and unchanged.refine_id == lake["report"].refine_id
    assert "nothing to do" in str(unchanged)
    b2 = ml.batch2()
    src = root / "batch2"
    ml.write_parquet(src, "limites_transacoes", b2.rows.pop("limites_transacoes"))  # a Parquet delivery
    ml.write_csv(src, b2)
    ingested = ingest_files(spark, s, src)
    assert ingested.rows == 1 + 1 + 3

    now = refine(spark, s, if_changed=True)  # bronze moved: a real refine
    assert now.ok and not now.skipped and now.refine_id != lake["report"].refine_id
    assert now.silver["limites_transacoes"]["updated"] == 1
    assert now.silver["chaves_pix"]["updated"] == 1
    limits = {r.id_usuario: r for r in _table(spark, s, "silver", "limites_transacoes").collect()}
    assert str(limits["U00000001"].limite_diario) == "9000.00"
    assert {r.status for r in _table(spark, s, "silver", "chaves_pix").collect() if r.tipo_chave == "aleatoria"} \
        >= {"inativa"}
    tx_ids = {r.id_transacao for r in _table(spark, s, "silver", "transacoes_pix").collect()}
    assert {"TX0000000009", "TX0000000010"} <= tx_ids
    batch2_tx = [r for r in now.reconciliation if r["bronze_table"] == "transacoes_pix"
                 and r["batch_id"] != lake["report"].reconciliation[0]["batch_id"]]
    assert any(r["bronze"] == 3 and r["silver"] == 3 for r in batch2_tx)  # the re-sent TX4 wins, its old copy is a dup

    # Delta time travel on silver: the version before this refine still has the old limit
    hist = spark.sql(f"DESCRIBE HISTORY delta.`{paths[('silver', 'limites_transacoes')]}`").collect()
    previous = sorted(h.version for h in hist)[-2]
    assert _rows(spark, paths[("silver", "limites_transacoes")], "id_usuario", previous) == lake["before"]["limites"]

    # refine --as-of-version rebuilds silver and gold exactly as they were from the batch-1 bronze
    again = refine(spark, s, as_of_version=lake["version1"])
    assert again.ok and "as of lakehouse version" in again.bronze_as_of
    assert _rows(spark, paths[("silver", "transacoes_pix")], "id_transacao") == lake["before"]["tx"]
    assert _rows(spark, paths[("silver", "limites_transacoes")], "id_usuario") == lake["before"]["limites"]
    assert _rows(spark, paths[("gold", "features_usuario")], "id_usuario") == lake["before"]["features_usuario"]
    assert _rows(spark, paths[("gold", "features_chave")], "chave_pix") == lake["before"]["features_chave"]


def test_bad_time_travel_requests_are_one_clear_error(spark, lake) -> None:
    from lakehouse.refine import refine
    from pixring.errors import PixringError

    with pytest.raises(PixringError, match="lakehouse versions are 0.."):
        refine(spark, lake["settings"], as_of_version=10_000)
    with pytest.raises(PixringError, match="not both"):
        refine(spark, lake["settings"], as_of_version=1, as_of_timestamp="2026-01-01")
    with pytest.raises(PixringError, match="expected YYYY-MM-DD"):
        refine(spark, lake["settings"], as_of_timestamp="yesterday")


# ------------------------------------------------------------------------------------------ LGPD
def test_erasure_leaves_no_trace_of_the_person_in_any_current_version(spark, lake) -> None:
    from lakehouse.erase import erase
    from lakehouse.paths import LAYERS
    from lakehouse.transforms.tokenise import token

    s = lake["settings"]
    eva = ml.USERS[ml.ERASED]
    # the Delta part only: this lakehouse's ids are datagen-shaped, the shared Neo4j/MLflow may hold the demo's
    report = erase(spark, s, cpf_cnpj=f"{eva['doc'][:3]}.{eva['doc'][3:6]}.{eva['doc'][6:9]}-{eva['doc'][9:]}",
                   other_stores=False)
    text = str(report)
    assert report.accounts == 1 and report.keys == 2 and report.transactions == 2, text
    assert report.deleted["bronze/usuarios"] == 1 and report.deleted["silver/transacoes_pix"] == 2, text
    assert report.deleted["gold/features_usuario"] == 1, text
    assert eva["doc"] not in text

    secret = s.security.pii_secret
    clear = {eva["doc"], eva["email"], eva["tel"], "eva.melo@example.com", "Eva Melo", ml.ERASED,
             "TX0000000005", "TX0000000006"}
    tokens = {token(v, secret) for v in (eva["doc"], eva["email"], eva["tel"])}
    lake_root: Path = s.paths.lakehouse
    for layer in LAYERS:
        for table_dir in sorted((lake_root / layer).iterdir()):
            df = spark.read.format("delta").load(str(table_dir))
            cols = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
            for row in df.select(*cols).collect():
                for value in row:
                    if value:
                        assert not any(c in value for c in clear | tokens), (layer, table_dir.name, value[:200])
            # nor in the transaction log (statistics, recorded predicates)
            for log_file in (table_dir / "_delta_log").glob("*.json"):
                text_log = log_file.read_text()
                assert eva["doc"] not in text_log and "eva.melo" not in text_log, log_file
    # VACUUM with retention 0 removed the old files: the version before the erasure is gone for good
    from lakehouse.paths import table_path

    with pytest.raises(Py4JJavaError, match=r"FAILED_READ_FILE\.FILE_NOT_EXIST"):
        spark.read.format("delta").option("versionAsOf", 1).load(table_path(s, "bronze", "usuarios")).collect()

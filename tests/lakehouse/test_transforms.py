"""The pure transforms on tiny in-memory frames (real Spark, no tables), and the Delta helpers on tiny tables.

Each test collects once or twice: the rules are checked on many rows at a time, not row by row.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings as hsettings, strategies as st

import minilake as ml

pytestmark = pytest.mark.spark


# -------------------------------------------------------------------------------------- documents
@hsettings(max_examples=3, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.-/ ", max_size=18), min_size=40, max_size=40), st.randoms())
def test_cpf_cnpj_check_digits_agree_with_the_reference(spark, texts, rnd) -> None:
    from pyspark.sql import functions as F

    from datagen.documents import is_valid_cnpj, is_valid_cpf
    from lakehouse.transforms import conform as C

    valid = [ml.cpf(f"{rnd.randrange(10**9):09d}") for _ in range(15)] + \
        [ml.cnpj(f"{rnd.randrange(10**12):012d}") for _ in range(15)]
    corrupted = [v[:-1] + str((int(v[-1]) + 1) % 10) for v in valid[:10]]
    values = texts + valid + corrupted + ["11111111111", "00000000000000", "123.456.789-09"]
    df = spark.createDataFrame([(v,) for v in values], "v string").withColumn("c", C.clean(F.col("v")))
    df = df.withColumn("d", C.document(F.col("c")))
    got = {r.v: r.ok for r in df.select("v", C.is_valid_document(F.col("d")).alias("ok")).collect()}
    for v in values:
        digits = "".join(ch for ch in v if ch.isdigit())
        expected = is_valid_cpf(digits) or is_valid_cnpj(digits)
        assert got[v] == expected, v


def test_conform_phones_emails_keys_and_money(spark) -> None:
    from pyspark.sql import functions as F

    from lakehouse.transforms import conform as C

    rows = [
        ("(11) 98765-4321", "  Ana.Souza@Example.COM ", "123.456.789-09", "1234.5", "2026-09-10T09:10:00"),
        ("+55 21 98765-0002", "x@y.com", "+55 (21) 98765-0002", "-3", "2026-09-10 09:10:00"),
        ("5531987650003", "", "0F8FAD5B-D9CB-469F-A165-70867728950E", "1.005", "10/09/2026"),
        ("abc", None, "Eva.Melo@Example.com", "1e3", "2026-02-30T00:00:00"),
    ]
    df = spark.createDataFrame(rows, "tel string, email string, key string, money string, ts string")
    cleaned = df.select(*[C.clean(F.col(c)).alias(c) for c in df.columns])
    out = cleaned.select(
        C.phone_e164(F.col("tel")).alias("tel"), C.email(F.col("email")).alias("email"),
        C.pix_key(F.col("key")).alias("key"), C.parse_money(F.col("money")).alias("money"),
        C.parse_ts(F.col("ts")).alias("ts"),
    ).withColumn("kind", C.key_type(F.col("key"))).collect()
    assert [r.tel for r in out] == ["+5511987654321", "+5521987650002", "+5531987650003", "abc"]
    assert [r.email for r in out] == ["ana.souza@example.com", "x@y.com", None, None]
    assert [r.key for r in out] == ["12345678909", "+5521987650002", "0f8fad5b-d9cb-469f-a165-70867728950e",
                                    "eva.melo@example.com"]
    assert [r.kind for r in out] == ["cpf", "telefone", "aleatoria", "email"]
    assert [r.money for r in out] == [Decimal("1234.50"), Decimal("-3.00"), None, None]
    assert out[0].ts == out[1].ts and out[0].ts is not None
    assert out[2].ts is None and out[3].ts is None


def test_hmac_tokens_are_real_hmac_sha256_and_names_are_masked(spark) -> None:
    from pydantic import SecretStr
    from pyspark.sql import functions as F

    from lakehouse.transforms import conform as C
    from lakehouse.transforms.tokenise import hmac_pads, token, tokenise

    values = ["12345678909", "ana.souza@example.com", "+5511987650001", "joão@exemplo.com.br", "", None]
    for secret in (SecretStr("a-test-secret"), SecretStr("k" * 100)):  # a key longer than a block is hashed
        key = secret.get_secret_value().encode()
        df = spark.createDataFrame([(v, "Maria da Silva") for v in values], "v string, nome string")
        tok = tokenise(df, ["v"], secret)
        assert tok.columns == ["v", "nome"]
        out = tok.select("v", C.mask_name(F.col("nome")).alias("m")).collect()
        for v, r in zip(values, out):
            if v is None:
                assert r.v is None
            else:
                assert r.v == hmac.new(key, v.encode(), hashlib.sha256).hexdigest() == token(v, secret)
                assert r.v != hashlib.sha256(key + v.encode()).hexdigest()
        # neither the secret nor its pads are in the plan (plans end up in logs and in the Spark UI)
        plan = tok._jdf.queryExecution().toString()
        ipad, opad = hmac_pads(secret)
        for needle in (secret.get_secret_value(), ipad.hex(), opad.hex(), ipad.hex().upper(), opad.hex().upper()):
            assert needle not in plan
    assert out[0].m == "M*** d*** S***"
    assert token("x", SecretStr("other")) != token("x", SecretStr("a-test-secret"))
    assert tokenise(df, [], SecretStr("s")) is df


# -------------------------------------------------------------------------------------- validation
def test_kafka_records_are_parsed_and_bad_ones_get_reasons(spark) -> None:
    from lakehouse.transforms import validate as V

    values = [json_value(t) for t in ml.STREAM_VALID[:2]] + [v for v, _ in ml.STREAM_BROKEN] + [None]
    raw = spark.createDataFrame(
        [("t", 0, i, "kafka://t/0", datetime(2026, 9, 12), "b", f"h{i}", v) for i, v in enumerate(values)],
        "_kafka_topic string, _kafka_partition int, _kafka_offset long, _source_file string, "
        "_ingested_at timestamp, _batch_id string, _record_hash string, _raw_value string",
    )
    checked = V.validate(V.prepare_stream(raw), "transacoes_pix", max_chars=512)
    got = {r._seq: r for r in checked.select("_seq", "_reasons", "valor", "id_transacao").collect()}
    assert got[0]._reasons == [] and got[0].valor == "25.5" and got[0].id_transacao == "TX0000000201"
    assert got[1]._reasons == []
    for i, (_, reason) in enumerate(ml.STREAM_BROKEN, start=2):
        assert reason in got[i]._reasons, (reason, got[i]._reasons)
    assert "bad_json" in got[len(values) - 1]._reasons  # a tombstone (NULL value) is kept and quarantined
    assert sorted(got) == list(range(len(values)))  # every record comes out once, none dropped or doubled


def json_value(t: tuple) -> str:
    import json

    from pixring.contract import COLUMNS

    doc = {"schema_version": 1, **dict(zip(COLUMNS["transacoes_pix"], t))}
    doc["valor"] = float(doc["valor"])
    return json.dumps(doc)


def test_classify_keeps_the_newest_valid_version_and_counts_every_row(spark) -> None:
    from lakehouse.transforms import validate as V

    base = ["U00000001", "5000.00", "2000.00"]
    rows = [
        (*base, "2024-01-01T00:00:00", "b1", datetime(2026, 9, 1), "h1"),
        ("U00000001", "9000.00", "3000.00", "2026-09-15T10:00:00", "b2", datetime(2026, 9, 2), "h2"),
        ("U00000001", "9500.00", "3000.00", "2025-01-01T00:00:00", "b3", datetime(2026, 9, 3), "h3"),  # older version
        ("U00000002", "0", "100.00", "2024-01-01T00:00:00", "b1", datetime(2026, 9, 1), "h4"),
    ]
    df = spark.createDataFrame(rows, "id_usuario string, limite_diario string, limite_por_transacao string, "
                                     "data_atualizacao string, _batch_id string, _ingested_at timestamp, "
                                     "_record_hash string")
    prepared = V.prepare_file(df.selectExpr("*", "cast(null as string) _malformed_line", "'f' _source_file"),
                              "limites_transacoes")
    out = {r._record_hash: r for r in V.classify(V.validate(prepared, "limites_transacoes", 512),
                                                 "limites_transacoes").collect()}
    assert out["h2"]._status == "silver"  # the latest data_atualizacao wins, not the latest ingestion
    assert out["h1"]._status == out["h3"]._status == "duplicate"
    assert out["h4"]._status == "quarantine" and out["h4"]._reasons == ["not_positive:limite_diario"]


def test_reconcile_flags_a_batch_that_does_not_add_up(spark) -> None:
    from lakehouse.transforms.reconcile import reconcile

    bronze = spark.createDataFrame([("t", "b1", 10, 1), ("t", "b2", 5, 0), ("t", "b3", 4, 0)],
                                   "_bronze_table string, _batch_id string, bronze long, duplicates long")
    silver = spark.createDataFrame([("b1",)] * 7 + [("b2",)] * 4 + [("b3",)] * 2, "_batch_id string")
    quarantine = spark.createDataFrame(
        [("t", "b1", ["bad_id:x"])] * 2 + [("t", "b3", ["conflict:x"])] * 2,
        "bronze_table string, batch_id string, reasons array<string>")
    got = {r.batch_id: (r.bronze, r.silver, r.quarantine, r.duplicates, r.conflicts, r.ok)
           for r in reconcile(bronze, silver, quarantine).collect()}
    assert got == {"b1": (10, 7, 2, 1, 0, True), "b2": (5, 4, 0, 0, 0, False), "b3": (4, 2, 0, 0, 2, True)}


def _classified(spark, table: str, rows: list[dict]):
    """``rows`` (contract fields + ``_ingested_at``/``_record_hash``/``_seq``) validated and classified."""
    from pyspark.sql import functions as F

    from lakehouse.transforms import validate as V
    from pixring.contract import COLUMNS

    cols = COLUMNS[table]
    data = [tuple(r.get(c) for c in cols) + (r.get("_ingested_at", datetime(2026, 9, 1)), r["_record_hash"])
            for r in rows]
    df = spark.createDataFrame(data, ", ".join(f"{c} string" for c in cols) + ", _ingested_at timestamp, "
                                                                                "_record_hash string")
    df = df.select(*cols, F.lit(None).cast("string").alias("_malformed_line"), F.lit("f").alias("_source_file"),
                   "_ingested_at", F.lit("b").alias("_batch_id"), "_record_hash")
    return {r._record_hash: r for r in V.classify(V.validate(V.prepare_file(df, table), table, 512), table).collect()}


def test_same_id_with_other_content_is_a_conflict_not_an_overwrite(spark) -> None:
    tx = dict(timestamp="2026-09-10T09:10:00", valor="10.50", chave_pix_origem=ml.EVP2, chave_pix_destino=ml.EVP3,
              tipo_transacao="transferencia_p2p", status="concluida")
    out = _classified(spark, "transacoes_pix", [
        dict(tx, id_transacao="T1", _record_hash="a1"),
        dict(tx, id_transacao="T1", valor="99.00", _record_hash="a2", _ingested_at=datetime(2026, 9, 2)),  # replayed
        dict(tx, id_transacao="T2", _record_hash="b1"),
        dict(tx, id_transacao="T2", valor="10.5", timestamp="2026-09-10 09:10:00", _record_hash="b2"),  # same content
        dict(tx, id_transacao="T3", valor="-1", _record_hash="c1"),
        dict(tx, id_transacao="T3", _record_hash="c2"),  # the other version is invalid: no conflict
    ])
    assert out["a1"]._status == out["a2"]._status == "conflict"
    assert out["a1"]._reasons == out["a2"]._reasons == ["conflict:id_transacao"]
    assert sorted([out["b1"]._status, out["b2"]._status]) == ["duplicate", "silver"]
    assert (out["c1"]._status, out["c2"]._status) == ("quarantine", "silver")

    user = dict(cpf_cnpj=ml.cpf("123456789"), nome="Ana", email="a@b.com", telefone="+5511987650001",
                data_cadastro="2024-01-10", status="ativo")
    out = _classified(spark, "usuarios", [
        dict(user, id_usuario="0001-1", _record_hash="u1"),
        dict(user, id_usuario="0001-1", status="bloqueado", _record_hash="u2", _ingested_at=datetime(2026, 9, 2)),
        dict(user, id_usuario="0002-2", _record_hash="v1"),
        dict(user, id_usuario="0002-2", nome="Bia", _record_hash="v2"),  # same delivery, other content
        dict(user, id_usuario="0002-2", nome="Old", _record_hash="v0", _ingested_at=datetime(2026, 8, 1)),
    ])
    assert (out["u1"]._status, out["u2"]._status) == ("duplicate", "silver")  # a later delivery updates
    assert out["v1"]._status == out["v2"]._status == "conflict" and out["v0"]._status == "duplicate"
    assert out["v1"]._reasons == ["conflict:id_usuario"]


def test_a_kafka_record_replaying_an_id_with_other_values_is_a_conflict(spark) -> None:
    """Issue 19.6: a republished id with other content no longer overwrites the first version."""
    from lakehouse.transforms import validate as V

    same = ml.STREAM_VALID[2]  # TX0000000001 with the file's content: a duplicate
    other = (ml.TX[1][0], *ml.TX[1][1:2], "9999.00", *ml.TX[1][3:])  # TX0000000002 with another amount
    raw = spark.createDataFrame(
        [("t", 0, i, "kafka://t/0", datetime(2026, 9, 12), "s", f"k{i}", json_value(v)) for i, v in
         enumerate([same, other])],
        "_kafka_topic string, _kafka_partition int, _kafka_offset long, _source_file string, "
        "_ingested_at timestamp, _batch_id string, _record_hash string, _raw_value string",
    )
    from pixring.contract import COLUMNS

    files = spark.createDataFrame(
        [(*t, None, "f", datetime(2026, 9, 11), "b", f"f{i}") for i, t in enumerate(ml.TX[:2])],
        ", ".join(f"{c} string" for c in COLUMNS["transacoes_pix"]) +
        ", _malformed_line string, _source_file string, _ingested_at timestamp, _batch_id string, _record_hash string")
    prepared = V.prepare_file(files, "transacoes_pix").unionByName(V.prepare_stream(raw))
    out = {r._record_hash: r for r in V.classify(V.validate(prepared, "transacoes_pix", 512), "transacoes_pix").collect()}
    assert (out["k0"]._status, out["f0"]._status) == ("silver", "duplicate")  # the newer copy wins
    assert out["k1"]._status == out["f1"]._status == "conflict"
    assert out["k1"]._reasons == ["conflict:id_transacao"]
    quarantined = V.quarantine_rows(V.classify(V.validate(prepared, "transacoes_pix", 512), "transacoes_pix"),
                                    "transacoes_pix").collect()
    assert {q.record_hash for q in quarantined} == {"k1", "f1"}  # both versions, each with its raw record
    assert any("9999" in q.raw_record for q in quarantined) and all(q.raw_record for q in quarantined)


def test_id_rule_and_unknown_enum_values_in_reasons(spark) -> None:
    tx = dict(timestamp="2026-09-10T09:10:00", valor="10.00", chave_pix_origem=ml.EVP2, chave_pix_destino=ml.EVP3,
              tipo_transacao="transferencia_p2p", status="concluida")
    e2e = "E18236120202609100910abcDEF12345"
    out = _classified(spark, "transacoes_pix", [
        dict(tx, id_transacao=e2e, _record_hash="ok1"),
        dict(tx, id_transacao="TX0000000001", _record_hash="ok2"),
        dict(tx, id_transacao="a:b.c-d_9", _record_hash="ok3"),
        dict(tx, id_transacao="TX'1", _record_hash="q1"),
        dict(tx, id_transacao="TX1\\", _record_hash="q2"),
        dict(tx, id_transacao="a b", _record_hash="q3"),
        dict(tx, id_transacao="x" * 65, _record_hash="q4"),
        dict(tx, id_transacao="-x", _record_hash="q5"),
        dict(tx, id_transacao="T10", tipo_transacao="PIX_SAQUE", _record_hash="e1"),
        dict(tx, id_transacao="T11", tipo_transacao="84717042182", _record_hash="e2"),
        dict(tx, id_transacao="T12", status="ana@example.com", _record_hash="e3"),
        dict(tx, id_transacao="T13", status="Cod12345", _record_hash="e4"),
    ])
    assert {k for k, r in out.items() if r._status == "silver"} == {"ok1", "ok2", "ok3"}
    for k in ("q1", "q2", "q3", "q4", "q5"):
        assert out[k]._reasons == ["bad_id:id_transacao"], k
    assert out["e1"]._reasons == ["bad_enum:tipo_transacao=PIX_SAQUE"]
    assert out["e2"]._reasons == ["bad_enum:tipo_transacao"]  # a document is never echoed
    assert out["e3"]._reasons == ["bad_enum:status"] and out["e4"]._reasons == ["bad_enum:status"]


def test_timestamps_with_or_without_a_time_or_an_offset_and_punctuated_documents(spark) -> None:
    from pyspark.sql import functions as F

    from lakehouse.transforms import conform as C

    cases = {
        "2026-05-31T10:00:00": "2026-05-31 10:00:00.000",
        "2026-05-31 10:00:00": "2026-05-31 10:00:00.000",
        "2026-05-31": "2026-05-31 00:00:00.000",  # a date alone is 00:00 local
        "2026-05-31T10:00:00-03:00": "2026-05-31 10:00:00.000",
        "2026-05-31T13:00:00Z": "2026-05-31 10:00:00.000",
        "2026-05-31T12:00:00.250+02:00": "2026-05-31 07:00:00.250",
        "2026-05-31 10:00:00.5": "2026-05-31 10:00:00.500",
        "2026-05-31T10:00": "2026-05-31 10:00:00.000",
        "2026-05-31 10:00": "2026-05-31 10:00:00.000",
        "2026-13-45": None, "31/05/2026": None, "2026-02-30 10:00:00": None, "2026-05-31T10:00:00 -03:00": None,
    }
    df = spark.createDataFrame([(k,) for k in cases], "v string")
    got = {r.v: r.ts for r in df.select(
        "v", F.date_format(C.parse_ts(C.clean(F.col("v"))), "yyyy-MM-dd HH:mm:ss.SSS").alias("ts")).collect()}
    assert got == cases
    docs = {"847.170.421-82": "84717042182", "84717042182": "84717042182",
            "12.345.678/0001-95": "12345678000195", "847.170.421-8X": "847.170.421-8X"}
    df = spark.createDataFrame([(k,) for k in docs], "v string")
    assert {r.v: r.d for r in df.select("v", C.document(F.col("v")).alias("d")).collect()} == docs


# -------------------------------------------------------------------------------- enrich, features
def _tx_frame(spark, rows):
    from lakehouse.schemas import SILVER

    schema = SILVER["transacoes_pix"]
    names = schema.fieldNames()
    full = []
    for r in rows:
        d = {n: None for n in names}
        d.update(r)
        d["data"] = d["timestamp"].date()
        d["noturna"] = d["timestamp"].hour >= 20 or d["timestamp"].hour < 6
        for n in ("canal", "_batch_id", "_record_hash", "tipo_transacao", "chave_pix_origem", "chave_pix_destino"):
            d[n] = d[n] or "x"
        d["_ingested_at"] = d["_ingested_at"] or datetime(2026, 9, 30)
        full.append(tuple(d[n] for n in names))
    return spark.createDataFrame(full, schema)


def test_behaviour_features_velocity_forwarding_night_and_new_device(spark) -> None:
    from lakehouse.transforms import features

    def tx(i, hh, mm, src, dst, valor, status="concluida", new=False):
        return {"id_transacao": f"TX{i:010d}", "timestamp": datetime(2026, 9, 10, hh, mm), "valor": Decimal(valor),
                "id_usuario_origem": src, "id_usuario_destino": dst, "status": status, "dispositivo_novo": new,
                "idade_conta_origem_h": 10.0, "idade_conta_destino_h": 20.0 + i}

    rows = [
        tx(1, 9, 0, "V1", "M", "100.00", new=True), tx(2, 9, 10, "V2", "M", "200.00"), tx(3, 9, 20, "V3", "M", "300.00"),
        tx(4, 9, 50, "M", "C", "550.00"),  # M forwards 550 of the 600 received within the hour
        tx(5, 23, 0, "M", "C", "10.00"),  # at night, hours later
        tx(6, 9, 55, "V1", "M", "5.00", status="rejeitada"),
    ]
    feats = {r.entity: r for r in features.behaviour(features.user_events(_tx_frame(spark, rows))).collect()}
    m = feats["M"]
    assert (m.n_tx_in, m.n_tx_out, m.max_tx_in_1h, m.max_tx_in_24h) == (3, 2, 3, 3)
    assert m.n_contrapartes_in == 3 and m.n_contrapartes_out == 1
    assert m.valor_repassado_1h == Decimal("560.00") or m.valor_repassado_1h == Decimal("550.00")
    assert m.pct_repasse_1h == pytest.approx(float(m.valor_repassado_1h) / 600)
    assert m.pct_noturno == pytest.approx(1 / 5)
    assert m.idade_na_primeira_tx_h == pytest.approx(21.0)  # age as receiver of the first transfer
    assert feats["V1"].n_tx_dispositivo_novo == 1 and feats["V1"].n_tx_rejeitadas_out == 1
    assert feats["C"].pct_repasse_1h == 0.0


def test_preceding_login_device_is_carried_to_each_transfer(spark) -> None:
    from lakehouse.transforms import enrich

    logins = spark.createDataFrame([
        ("U1", datetime(2026, 9, 10, 8, 0), "sucesso", "D1"),
        ("U1", datetime(2026, 9, 10, 9, 0), "falha", "D9"),  # a failed login does not count
        ("U1", datetime(2026, 9, 10, 9, 30), "sucesso", "D2"),
    ], "id_usuario string, timestamp timestamp, status string, id_dispositivo string")
    tx = spark.createDataFrame([
        ("T1", "U1", datetime(2026, 9, 10, 9, 10)), ("T2", "U1", datetime(2026, 9, 10, 9, 30)),
        ("T0", "U1", datetime(2026, 9, 10, 7, 0)), ("T3", None, datetime(2026, 9, 10, 9, 40)),
    ], "id_transacao string, id_usuario_origem string, timestamp timestamp")
    got = {r.id_transacao: r.id_dispositivo_login for r in enrich._preceding_login(tx, logins).collect()}
    assert got == {"T0": None, "T1": "D1", "T2": "D2", "T3": None}


# ---------------------------------------------------------------------------------- Delta helpers
def test_delta_helpers_create_upsert_constrain_and_version(spark, tmp_path) -> None:
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    from lakehouse import delta

    path = str(tmp_path / "t")
    schema = StructType([StructField("id", StringType(), False), StructField("v", IntegerType(), False)])
    assert delta.latest_version(spark, path) == -1
    assert delta.ensure_table(spark, path, schema, checks={"v_positivo": "v > 0"})
    assert not delta.ensure_table(spark, path, schema)
    first = delta.upsert(spark, path, spark.createDataFrame([("a", 1), ("b", 2)], schema), ["id"])
    second = delta.upsert(spark, path, spark.createDataFrame([("a", 5), ("c", 3)], schema), ["id"])
    assert first == {"inserted": 2, "updated": 0, "deleted": 0}
    assert second == {"inserted": 1, "updated": 1, "deleted": 1}
    assert delta.latest_version(spark, path) == 2
    with pytest.raises(Exception, match="(?i)v_positivo"):
        spark.createDataFrame([("z", -1)], schema).write.format("delta").mode("append").save(path)
    assert sorted(tuple(r) for r in spark.read.format("delta").load(path).collect()) == [("a", 5), ("c", 3)]
    assert delta.latest_version(spark, path) == 2  # the refused append committed nothing

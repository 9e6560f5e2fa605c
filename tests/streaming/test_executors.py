"""The executor engine (``PIXRING_STREAMING_ENGINE=executors``, :mod:`streaming.executors`) against the driver
engine on the real broker, Spark + Delta (RocksDB state store) and the real MLflow registry."""

from __future__ import annotations

import json

import pytest

from tests.streaming import world
from tests.streaming.test_stream import GARBAGE, _hostile, _produce_raw, _scored

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.mlflow]

COMPARED = ("id_usuario_origem", "id_usuario_destino", "id_anel_origem", "id_anel_destino", "noturna",
            "score_origem", "score_destino", "risco_anel_destino", "idade_chave_destino_h",
            "recebidos_10min_destino", "recebidos_1h_destino", "remetentes_distintos_1h_destino",
            "repasse_origem", "score", "decisao", "motivos", "modelo_versao", "atrasada", "valor", "timestamp",
            "chave_pix_origem", "chave_pix_destino", "status")


def _run(spark, settings, kafka_bootstrap, good, bad):
    from streaming.scorer import run_stream

    world.create_topic(kafka_bootstrap, settings.kafka.topic_transactions, partitions=3)
    _produce_raw(kafka_bootstrap, settings.kafka.topic_transactions, good, list(bad))
    report = run_stream(spark, settings, available_now=True, serve_metrics=False)
    rows = {r.id_transacao: r.asDict() for r in _scored(spark, settings).collect()}
    dlq = world.consume(kafka_bootstrap, settings.kafka.topic_dlq, len(bad))
    reasons = sorted(((m.value() or b"")[:64], dict(m.headers())["pixring.motivo"].decode()) for m in dlq)
    return report, rows, reasons, dlq


def test_the_executor_engine_scores_like_the_driver_engine_and_sends_hostile_records_to_the_dlq(
        spark, make_settings, stream_env, tmp_path, mlflow_uri, kafka_bootstrap) -> None:
    from tests.helpers import register_toy_model

    # statuses mixed in (a rejected receipt counts in the windows, not in repasse), and forwarding: U06 pays on
    good = world.ordinary_and_ring(90)
    for i, d in enumerate(good):
        if i % 7 == 3:
            d["status"] = "rejeitada"
    good += [world.tx(500 + i, "U06", "U20", minutes=i * 0.5 + 0.25, valor=40.0) for i in range(10)]
    bad = [v for v, _ in GARBAGE] + [v for v, _ in _hostile(1, 20)]
    expected = sorted([(v[:64], r) for v, r in GARBAGE] + [(v[:64], r) for v, r in _hostile(1, 20)])

    out = {}
    for engine in ("driver", "executors"):
        env = {k: v + (f".{engine}" if k.startswith("PIXRING_KAFKA_TOPIC") else "") for k, v in stream_env.items()}
        s = make_settings(tmp_path / engine, **env, PIXRING_STREAMING_ENGINE=engine)
        world.build_gold(spark, s)
        if engine == "driver":
            register_toy_model(s, s.mlflow.model_name)
        out[engine] = _run(spark, s, kafka_bootstrap, [dict(d) for d in good], bad)

    d_rep, d_rows, d_dlq, _ = out["driver"]
    e_rep, e_rows, e_dlq, e_msgs = out["executors"]
    assert (e_rep.scored, e_rep.dlq) == (d_rep.scored, d_rep.dlq) == (len(good), len(bad)), (str(d_rep), str(e_rep))
    assert set(e_rows) == set(d_rows) == {d["id_transacao"] for d in good}
    diffs = [(i, c, d_rows[i][c], e_rows[i][c]) for i in d_rows for c in COMPARED if d_rows[i][c] != e_rows[i][c]]
    assert not diffs, diffs[:10]
    # the features are not trivially equal: windows, distinct senders and forwarding all fire
    assert max(r["recebidos_1h_destino"] for r in e_rows.values()) >= 10
    assert any(r["repasse_origem"] == 1.0 for r in e_rows.values())
    assert any(r["decisao"] != "allow" for r in e_rows.values())
    # the hostile records (mixed in between, on U01 -> U20) changed nobody's features: the mule's receipts count on
    mule = sorted((r for r in e_rows.values() if r["id_anel_destino"] == "ANEL-1" and r["chave_pix_origem"] !=
                   e_rows["TX0000000501"]["chave_pix_origem"]), key=lambda r: r["timestamp"])
    assert mule and all(r["recebidos_1h_destino"] >= i for i, r in enumerate(mule))
    # every bad record in the DLQ with the driver engine's reason; a cut value carries its size and digest
    assert e_dlq == d_dlq == expected
    big = [m for m in e_msgs if dict(m.headers()).get("pixring.sha256")]
    assert len(big) == 1 and int(dict(big[0].headers())["pixring.tamanho"].decode()) > 1_000_000
    scored = world.consume(kafka_bootstrap, f"{stream_env['PIXRING_KAFKA_TOPIC_SCORED']}.executors", len(good))
    assert {json.loads(m.value())["id_transacao"] for m in scored} == set(e_rows)

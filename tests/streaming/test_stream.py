"""The scorer end to end on the real broker, Spark + Delta and the real MLflow registry."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.streaming import world

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.mlflow]

GARBAGE: list[tuple[bytes, str]] = [
    (b"{not json", "json_invalido"),
    (b"[1, 2, 3]", "nao_objeto"),
    (b"", "valor_vazio"),
    (b"\xff\xfe\x00garbage", "utf8_invalido"),
    (json.dumps({"id_transacao": "X"}).encode(), "versao_ausente"),
    (json.dumps({**world.tx(9001, "U01", "U02", 1), "schema_version": 7}).encode(), "versao_desconhecida"),
    (json.dumps({k: v for k, v in world.tx(9002, "U01", "U02", 1).items() if k != "valor"}).encode(),
     "campo_ausente:valor"),
    (json.dumps({**world.tx(9003, "U01", "U02", 1), "valor": "cem"}).encode(), "tipo_invalido:valor"),
    (json.dumps({**world.tx(9004, "U01", "U02", 1), "valor": -5}).encode(), "valor_invalido:valor"),
    (json.dumps({**world.tx(9005, "U01", "U02", 1), "timestamp": "ontem"}).encode(), "timestamp_invalido:timestamp"),
    (json.dumps({**world.tx(9006, "U01", "U02", 1), "chave_pix_destino": "nao-e-chave"}).encode(),
     "chave_invalida:chave_pix_destino"),
    (json.dumps({**world.tx(9007, "U01", "U02", 1), "status": "talvez"}).encode(), "enum_desconhecido:status"),
]


@pytest.fixture
def scorer_settings(make_settings, stream_env, tmp_path, spark, mlflow_uri):
    from tests.helpers import register_toy_model

    settings = make_settings(tmp_path / "home", **stream_env)
    world.build_gold(spark, settings)
    register_toy_model(settings, settings.mlflow.model_name)
    return settings


def _scored(spark, settings):
    from lakehouse.paths import table_path

    return spark.read.format("delta").load(table_path(settings, "gold", "scored_transactions"))


def test_garbage_goes_to_the_dlq_with_reasons_and_every_good_record_is_scored(
        spark, scorer_settings, kafka_bootstrap) -> None:
    from streaming.scorer import run_stream

    s = scorer_settings
    good = world.ordinary_and_ring(120)
    garbage = [g for g, _ in GARBAGE]  # 12 of 132: ~10 %
    world.produce(kafka_bootstrap, s.kafka.topic_transactions, good, garbage)

    report = run_stream(spark, s, available_now=True)
    assert (report.scored, report.dlq) == (120, len(GARBAGE)), str(report)

    df = _scored(spark, s)
    assert df.count() == df.select("id_transacao").distinct().count() == 120
    ids = {r[0] for r in df.select("id_transacao").collect()}
    assert ids == {d["id_transacao"] for d in good}
    # tokens only: no clear key anywhere in the table or the scored topic
    clear = {world.key(u) for u in world.ORDINARY + world.RING}
    keys = {r[0] for r in df.select("chave_pix_origem").collect()} | {r[0] for r in df.select("chave_pix_destino").collect()}
    assert all(len(k) == 64 for k in keys) and not keys & clear
    # ring payments are flagged (the ring rule and the model), ordinary ones allowed
    rows = {r.id_transacao: r for r in df.collect()}
    ring_tx = [d["id_transacao"] for d in good if d["chave_pix_destino"] == world.key("U20")]
    assert ring_tx and all(rows[i].decisao in ("review", "block") for i in ring_tx)
    assert all("destino_em_anel" in rows[i].motivos for i in ring_tx)
    assert all(rows[i].id_anel_destino == "ANEL-1" and rows[i].modelo_versao == "1" for i in ring_tx)
    others = [i for i in ids if i not in ring_tx]
    assert sum(rows[i].decisao == "allow" for i in others) == len(others)

    dlq = world.consume(kafka_bootstrap, s.kafka.topic_dlq, len(GARBAGE))
    assert len(dlq) == len(GARBAGE)
    got = sorted(((m.value() or b""), dict(m.headers())["pixring.motivo"].decode()) for m in dlq)
    assert got == sorted(GARBAGE)  # raw bytes as received, with the reason
    scored = world.consume(kafka_bootstrap, s.kafka.topic_scored, 120)
    assert {json.loads(m.value())["id_transacao"] for m in scored} == ids
    assert not any(k.encode() in m.value() for m in scored for k in clear)
    alerts = world.consume(kafka_bootstrap, s.kafka.topic_alerts, len(ring_tx))
    docs = [json.loads(m.value()) for m in alerts]
    assert {d["id_transacao"] for d in docs} == set(ring_tx)
    assert all(d["id_anel"] == "ANEL-1" and d["membros_envolvidos"] == ["U20"] and d["valor_em_risco"] > 0
               for d in docs)


@pytest.mark.slow
def test_kill_9_mid_stream_then_restart_scores_every_transaction_exactly_once(
        spark, scorer_settings, stream_env, kafka_bootstrap, tmp_path) -> None:
    from lakehouse.delta import latest_version
    from lakehouse.paths import table_path

    s = scorer_settings
    n = 400
    good = world.ordinary_and_ring(n)
    world.create_topic(kafka_bootstrap, s.kafka.topic_transactions, partitions=1)  # one total event order
    # the last quarter is produced only once the scorer is dead, so the kill always lands before the end
    # (on a fast machine the whole backlog could be scored before the second sink batch committed)
    first = 3 * n // 4
    world.produce(kafka_bootstrap, s.kafka.topic_transactions, good[:first])
    path = table_path(s, "gold", "scored_transactions")
    env = {**os.environ, **stream_env, "PIXRING_HOME": str(s.paths.home),
           "PIXRING_STREAMING_MAX_OFFSETS_PER_TRIGGER": "20", "PIXRING_SPARK_MASTER": "local[1]",
           "PIXRING_SPARK_DRIVER_MEMORY": "1g", "PIXRING_SPARK_SHUFFLE_PARTITIONS": "1"}
    log_path = tmp_path / "stream.log"
    with log_path.open("w") as log_file:
        child = subprocess.Popen([sys.executable, "-m", "pixring.cli", "stream"], env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=str(Path(__file__).parents[2]))
        try:
            deadline = time.monotonic() + 420
            # version 0 creates the table; wait for two committed Delta sink batches, then kill -9 mid-stream
            while latest_version(spark, path) < 2 and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.2)
            assert child.poll() is None, log_path.read_text()[-3000:]
            assert latest_version(spark, path) >= 2, "the scorer committed nothing in time"
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{stream_env['PIXRING_STREAMING_METRICS_PORT']}"
                                             "/metrics", timeout=10).read().decode()
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
    world.produce(kafka_bootstrap, s.kafka.topic_transactions, good[first:])
    assert 'pixring_stream_rows_total{outcome="scored"}' in metrics
    assert "pixring_stream_model_version 1.0" in metrics and "pixring_stream_batch_duration_seconds_count" in metrics
    landed = _scored(spark, s).count()
    assert 0 < landed < n, f"kill -9 came too late to interrupt the stream ({landed} of {n} scored)"

    env["PIXRING_STREAMING_MAX_OFFSETS_PER_TRIGGER"] = "1000"  # the rest in one batch
    restart = subprocess.run([sys.executable, "-m", "pixring.cli", "stream", "--available-now", "--no-metrics"],
                             env=env, capture_output=True, text=True, timeout=600,
                             cwd=str(Path(__file__).parents[2]))
    assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-3000:]
    df = _scored(spark, s)
    assert df.count() == df.select("id_transacao").distinct().count() == n
    assert {r[0] for r in df.select("id_transacao").collect()} == {d["id_transacao"] for d in good}
    # features survived the restart: the ring mule's receipts keep counting across it
    last = df.filter(df.chave_pix_destino == df.filter(df.id_anel_destino == "ANEL-1")
                     .select("chave_pix_destino").first()[0]).orderBy("timestamp").collect()
    assert [r.recebidos_1h_destino for r in last] == [float(min(i, 12)) for i in range(len(last))]
    # the scored topic got every id at least once (at-least-once: the replayed batch may repeat some)
    scored = world.consume(kafka_bootstrap, s.kafka.topic_scored, n)
    assert {json.loads(m.value())["id_transacao"] for m in scored} == {d["id_transacao"] for d in good}


def _hostile(n: int, minutes: float) -> list[tuple[bytes, str]]:
    """The hostile set (issue 19), distinct per ``n``: each value with the DLQ reason it must get."""
    def doc(i: int, **over) -> dict:
        return {**world.tx(9000 + 10 * n + i, "U01", "U20", minutes), **over}

    nan = json.dumps(doc(4)).replace('"valor": 100.0', '"valor": NaN')
    assert "NaN" in nan
    return [
        (json.dumps(doc(0, id_transacao=f"TX{n}\\")).encode(), "id_invalido:id_transacao"),
        (json.dumps(doc(1, id_transacao=f"O'Brien{n}")).encode(), "id_invalido:id_transacao"),
        (json.dumps(doc(2, id_transacao=f"' OR true --{n}")).encode(), "id_invalido:id_transacao"),
        (json.dumps(doc(3, timestamp="2099-01-01T00:00:00")).encode(), "timestamp_futuro:timestamp"),
        (nan.encode(), "json_invalido"),
        (f"{{not json {n}".encode(), "json_invalido"),
        (json.dumps(doc(5, status="conclu\u00edda"), ensure_ascii=False).encode("latin-1"), "utf8_invalido"),
        (json.dumps({**doc(6), "pad": "x" * 1_000_000}).encode(), "mensagem_grande"),
    ]


def _produce_raw(bootstrap: str, topic: str, docs: list[dict], raw: list[bytes]) -> None:
    """Like ``world.produce``, with a producer that can send a 1 MB value (librdkafka's default stops at 1e6)."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                  "message.max.bytes": 1_048_000})
    for i, d in enumerate(docs):
        p.produce(topic, key=d["chave_pix_origem"].encode(), value=json.dumps(d).encode())
        if i % 10 == 3 and raw:  # the bad records mixed in between the good ones
            p.produce(topic, key=b"hostile", value=raw.pop())
    for r in raw:
        p.produce(topic, key=b"hostile", value=r)
    assert p.flush(30) == 0


@pytest.mark.slow
def test_the_hostile_set_while_the_scorer_runs_then_a_restart(
        spark, scorer_settings, stream_env, kafka_bootstrap, tmp_path) -> None:
    """Issue 19: no record stops scoring. The hostile set (quote, backslash and injection ids, a 2099 timestamp,
    NaN, non-JSON, invalid UTF-8, a 1 MB value) mixed with good records, sent while ``pixring stream`` runs;
    then kill -9, a second hostile set plus a record older than the watermark, and a restart: every good
    record exactly once in Delta with continuous features, every bad one in the DLQ with its reason."""
    import hashlib

    s = scorer_settings
    n, half = 160, 80
    good = world.ordinary_and_ring(n)  # T0 + 0.5 min each
    world.create_topic(kafka_bootstrap, s.kafka.topic_transactions, partitions=1)  # one total event order
    first, second = _hostile(1, 20), _hostile(2, 60)
    second.append((json.dumps(world.tx(9100, "U01", "U20", 0)).encode(), "timestamp_atrasado:timestamp"))
    env = {**os.environ, **stream_env, "PIXRING_HOME": str(s.paths.home), "PIXRING_SPARK_MASTER": "local[1]",
           "PIXRING_SPARK_DRIVER_MEMORY": "1g", "PIXRING_SPARK_SHUFFLE_PARTITIONS": "1"}
    cwd = str(Path(__file__).parents[2])
    log_path = tmp_path / "stream.log"
    metrics_url = f"http://127.0.0.1:{stream_env['PIXRING_STREAMING_METRICS_PORT']}/metrics"
    with log_path.open("w") as log_file:
        child = subprocess.Popen([sys.executable, "-m", "pixring.cli", "stream"], env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
        try:
            deadline = time.monotonic() + 420
            metrics = ""
            while "pixring_stream_scoring 1.0" not in metrics and time.monotonic() < deadline:
                assert child.poll() is None, log_path.read_text()[-3000:]
                time.sleep(0.5)
                try:
                    metrics = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
                except OSError:
                    pass
            assert "pixring_stream_scoring 1.0" in metrics, "the scorer did not start in time"
            _produce_raw(kafka_bootstrap, s.kafka.topic_transactions, good[:half], [v for v, _ in first])
            while _scored(spark, s).count() < half and time.monotonic() < deadline:
                assert child.poll() is None, log_path.read_text()[-3000:]  # still scoring
                time.sleep(1)
            assert _scored(spark, s).count() == half, log_path.read_text()[-3000:]
            metrics = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
            assert child.poll() is None, log_path.read_text()[-3000:]
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
    assert 'pixring_stream_dlq_total{motivo="id_invalido"} 3.0' in metrics, metrics
    assert 'pixring_stream_dlq_total{motivo="mensagem_grande"} 1.0' in metrics

    _produce_raw(kafka_bootstrap, s.kafka.topic_transactions, good[half:], [v for v, _ in second])
    restart = subprocess.run([sys.executable, "-m", "pixring.cli", "stream", "--available-now", "--no-metrics"],
                             env=env, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert restart.returncode == 0, restart.stdout[-2000:] + restart.stderr[-3000:]

    df = _scored(spark, s)
    assert df.count() == df.select("id_transacao").distinct().count() == n
    assert {r[0] for r in df.select("id_transacao").collect()} == {d["id_transacao"] for d in good}
    assert df.filter("atrasada").count() == 0
    # the 2099 records never reached the state: the ring mule's receipts keep counting across both sets and
    # the restart (with them, the state's clock would have jumped to 2099 and evicted every receipt)
    mule = df.filter(df.id_anel_destino == "ANEL-1").orderBy("timestamp").collect()
    assert [r.recebidos_1h_destino for r in mule] == [float(min(i, 12)) for i in range(len(mule))]
    assert len(mule) == n // 10

    # every bad record in the DLQ with its reason (at-least-once: a replayed batch may repeat one); a value
    # over the size limit is cut, its size and digest in the headers
    bad = first + second
    dlq = world.consume(kafka_bootstrap, s.kafka.topic_dlq, len(bad))
    got = set()
    for m in dlq:
        h = {k: v.decode() for k, v in m.headers()}
        digest = h.get("pixring.sha256") or hashlib.sha256(m.value()).hexdigest()
        got.add((digest, h["pixring.motivo"]))
        assert h["pixring.origem"].startswith(f"{s.kafka.topic_transactions}/0/")
        if "pixring.sha256" in h:
            assert len(m.value()) == s.streaming.max_message_bytes and int(h["pixring.tamanho"]) > 1_000_000
    assert got == {(hashlib.sha256(v).hexdigest(), reason) for v, reason in bad}
    scored = world.consume(kafka_bootstrap, s.kafka.topic_scored, n)
    assert {json.loads(m.value())["id_transacao"] for m in scored} == {d["id_transacao"] for d in good}


def test_gold_rebuild_and_a_new_champion_are_picked_up_without_restart(
        spark, scorer_settings, make_settings, stream_env, tmp_path, caplog) -> None:
    from mlflow import MlflowClient

    from streaming.features import ReceiptState
    from streaming.lookup import GoldLookup
    from streaming.metrics import StreamMetrics
    from streaming.model import ChampionModel
    from tests.helpers import register_toy_model
    from streaming.scorer import BatchScorer, StreamReport, ensure_scored_table, ensure_topics, make_producer
    from streaming.sink import drain

    from pixring import logs

    logs.install_record_factory()  # what the CLI's logging set-up does
    caplog.set_level(logging.INFO, logger="streaming.scorer")
    s = make_settings(tmp_path / "home", **stream_env, PIXRING_STREAMING_MODEL_REFRESH_SECONDS="0.01")
    ensure_topics(s)
    ensure_scored_table(spark, s)
    model = ChampionModel(s)
    report = StreamReport(s.kafka.topic_transactions)
    scorer = BatchScorer(spark, s, model, GoldLookup(spark, s), ReceiptState(600), StreamMetrics(),
                         make_producer(s), report)

    def batch(i: int, minutes: float):
        doc = world.tx(i, "U01", "U21", minutes)  # pays the collector U21
        return spark.createDataFrame([(doc["chave_pix_origem"].encode(), json.dumps(doc).encode(), "t", 0, i,
                                       world.T0)], "key binary, value binary, topic string, partition int, "
                                                  "offset long, timestamp timestamp")

    scorer(batch(1, 0), 0)
    world.build_gold(spark, s, ring_risco=0.3, ring_id="ANEL-2")  # the graph was rebuilt: a weaker, renamed ring
    v2 = register_toy_model(s, s.mlflow.model_name)  # and a new champion
    assert v2 == "2" and MlflowClient().get_model_version_by_alias(s.mlflow.model_name, "champion").version == "2"
    time.sleep(0.05)
    scorer(batch(2, 1), 1)
    drained = drain(spark, s)  # the Delta sink: scored topic -> table
    assert (drained.messages, drained.inserted, drained.invalid) == (2, 2, 0)
    rows = {r.id_transacao: r for r in _scored(spark, s).collect()}
    first, second = rows["TX0000000001"], rows["TX0000000002"]
    assert (first.id_anel_destino, first.risco_anel_destino, first.modelo_versao) == ("ANEL-1", 0.8, "1")
    assert (second.id_anel_destino, second.risco_anel_destino, second.modelo_versao) == ("ANEL-2", 0.3, "2")
    assert first.gold_versao != second.gold_versao
    assert second.recebidos_10min_destino == 1.0  # the state carried over between batches
    # each micro-batch's log records carry its correlation id (pixring.logs)
    batch_logs = {r.getMessage().split(":")[0]: r.corr for r in caplog.records
                  if r.name == "streaming.scorer" and r.getMessage().startswith("epoch ")}
    assert batch_logs == {"epoch 0": "scorer-b0", "epoch 1": "scorer-b1"}


@pytest.mark.slow
def test_a_broker_restart_under_load_loses_and_duplicates_nothing(spark, kafka_bootstrap, mlflow_uri) -> None:
    """A private broker (own home and ports; the shared one is never touched) is stopped for 8 s and
    started again while the producer runs and both queries (scorer and Delta sink) read from it."""
    from bench.stream_harness import run_broker_restart

    out = run_broker_restart(rate=200, seconds=45, restart_after=5, down_s=8, drain_s=240)
    assert out["produced"] == 9000
    assert out["scored_topic_ids"] == out["delta_rows"] == out["delta_ids"] == 9000, out

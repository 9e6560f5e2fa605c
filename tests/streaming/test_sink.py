"""The scored message <-> ``gold/scored_transactions`` converter of the Delta sink (Spark, no broker)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.streaming import world

pytestmark = [pytest.mark.spark]


class _Model:
    """Scores by amount (a pure stand-in for the champion: this test is about the converter)."""

    version = "7"
    reference: dict = {}

    def predict(self, features):
        return np.clip(features["valor"].to_numpy() / 1000.0, 0, 1)


def _records(docs: list[dict]):
    import pandas as pd

    return pd.DataFrame({"key": [d["chave_pix_origem"].encode() for d in docs],
                         "value": [json.dumps(d).encode() for d in docs], "topic": "pix.transacoes",
                         "partition": 0, "offset": range(len(docs)),
                         "ts_us": [1_790_000_000_123_000 + i * 1000 for i in range(len(docs))]})


def test_every_scored_message_becomes_the_same_table_row(spark, make_settings, tmp_path) -> None:
    from pyspark.sql import functions as F

    from streaming.features import ReceiptState
    from streaming.lookup import GoldLookup
    from streaming.metrics import StreamMetrics
    from streaming.scorer import BatchScorer, StreamReport
    from streaming.schemas import SCORED_COLUMNS, SCORED_TRANSACTIONS
    from streaming.sink import scored_rows

    s = make_settings(tmp_path / "home")
    world.build_gold(spark, s)
    lookup = GoldLookup(spark, s)
    lookup.refresh()
    scorer = BatchScorer(spark, s, _Model(), lookup, ReceiptState(600), StreamMetrics(), None,
                         StreamReport("pix.transacoes"))
    docs = world.ordinary_and_ring(30) + [world.tx(99, "U01", "U20", 200, valor=1234.56, status="rejeitada")]
    out = scorer.score_records(_records(docs))
    assert len(out.scored) == len(out.scored_msgs) == 31

    garbage = [b"{not json", json.dumps({"id_transacao": "TX1"}).encode()]
    msgs = spark.createDataFrame([(v,) for _, v in out.scored_msgs] + [(g,) for g in garbage], "value binary")
    rows = scored_rows(msgs)
    assert rows.columns == [*SCORED_COLUMNS, "_valida"]
    assert rows.filter(~F.col("_valida")).count() == len(garbage)
    valid = rows.filter("_valida").drop("_valida")
    assert [(f.name, f.dataType) for f in valid.schema.fields] == \
        [(f.name, f.dataType) for f in SCORED_TRANSACTIONS.fields]  # what the MERGE inserts into the table
    got = {r["id_transacao"]: r for r in valid.withColumns({
        "_ts": F.date_format("timestamp", "yyyy-MM-dd'T'HH:mm:ss"),  # local wall clock, session time zone
        "_kafka_ms": F.unix_millis("kafka_timestamp"), "_scored_ms": F.unix_millis("pontuado_em")}).collect()}
    assert set(got) == {d["id_transacao"] for d in docs}
    for sent in out.scored:
        row = got[sent["id_transacao"]]
        assert row["_ts"] == sent["timestamp"].isoformat() and row["data"] == sent["data"]
        assert row["valor"] == Decimal(str(sent["valor"])).quantize(Decimal("0.01"))
        assert row["_kafka_ms"] == sent["kafka_ts_ms"] and row["_scored_ms"] == sent["pontuado_em_ms"]
        for name in SCORED_COLUMNS:
            if name not in ("timestamp", "data", "valor", "kafka_timestamp", "pontuado_em"):
                assert row[name] == sent[name], name
    assert got["TX0000000099"]["valor"] == Decimal("1234.56") and got["TX0000000099"]["status"] == "rejeitada"
    ring = [r for r in got.values() if r["id_anel_destino"] == "ANEL-1"]
    assert ring and all("destino_em_anel" in r["motivos"] for r in ring)


def _scorer(spark, s, state=None):
    from streaming.features import ReceiptState
    from streaming.lookup import GoldLookup
    from streaming.metrics import StreamMetrics
    from streaming.scorer import BatchScorer, StreamReport

    lookup = GoldLookup(spark, s)
    lookup.refresh()
    return BatchScorer(spark, s, _Model(), lookup, state or ReceiptState(600), StreamMetrics(), None,
                       StreamReport("pix.transacoes"))


def test_future_and_late_records_go_to_the_dlq_and_never_touch_the_state(spark, make_settings, tmp_path) -> None:
    from streaming.features import seconds

    s = make_settings(tmp_path / "home", PIXRING_STREAMING_MAX_FUTURE_SECONDS="120")
    world.build_gold(spark, s)
    scorer = _scorer(spark, s)
    first = world.ordinary_and_ring(40)  # T0 .. T0 + 19.5 min
    out = scorer.score_records(_records(first))
    assert (len(out.scored), len(out.dlq)) == (40, 0)
    st = scorer.state
    before = (st.max_event, len(st), {k: list(v) for k, v in st.by_key.items()})
    assert before[0] == seconds(world.T0 + timedelta(minutes=19.5))

    from datetime import datetime
    now = datetime.now(scorer._tz).replace(tzinfo=None, microsecond=0)
    future = {**world.tx(900, "U01", "U20", 0), "timestamp": "2099-01-01T00:00:00"}
    soon = {**world.tx(901, "U01", "U20", 0), "timestamp": (now + timedelta(minutes=10)).isoformat()}
    late = world.tx(902, "U01", "U20", 9)  # 10.5 min before the newest event: past the 10 min watermark
    replayed = dict(first[5])  # already in the state, late by now: scored again, as the first time
    on_time = world.tx(903, "U01", "U20", 17)  # 2.5 min before the newest: scored
    out = scorer.score_records(_records([future, soon, late, replayed, on_time]))
    reasons = {json.loads(v)["id_transacao"]: dict(h)["pixring.motivo"].decode() for _, v, h in out.dlq}
    assert reasons == {"TX0000000900": "timestamp_futuro:timestamp", "TX0000000901": "timestamp_futuro:timestamp",
                       "TX0000000902": "timestamp_atrasado:timestamp"}
    assert {r["id_transacao"] for r in out.scored} == {"TX0000000006", "TX0000000903"}
    assert st.max_event == before[0]  # the 2099 record did not move the state's clock
    assert len(st) == before[1] + 1 and "TX0000000902" not in st.ids and "TX0000000900" not in st.ids
    # nobody's receipts were evicted (the end of the batch evicts from the state's clock): the ring mule still
    # counts every payment of the last hour before 17 min (4.5, 9.5, 14.5)
    mule = next(r for r in out.scored if r["id_transacao"] == "TX0000000903")
    assert mule["recebidos_1h_destino"] == 3.0 and not mule["atrasada"]


def test_hostile_ids_on_the_scored_topic_never_reach_the_merge(spark, make_settings, tmp_path) -> None:
    from pyspark.sql import functions as F

    from pixring.contract import is_valid_id
    from streaming.scorer import ensure_scored_table
    from streaming.sink import DeltaSink, id_rule

    hostile = ["TX1\\", "O'Brien", "' OR true --", "TX9') OR 1=1 --", "TX1\n", "TX1\r\n", "TX1\u2028",
               "TX 1", "", "x" * 65]
    probe = spark.createDataFrame([(i,) for i in hostile + ["TX0000000001", "E12345678202612031500abcdefGHIJK"]],
                                  "id string")
    got = {r["id"]: r["ok"] for r in probe.select("id", id_rule(F.col("id")).alias("ok")).collect()}
    assert got == {i: is_valid_id(i) for i in got}  # Spark and Python accept the same ids
    assert not any(got[i] for i in hostile)

    s = make_settings(tmp_path / "home")
    world.build_gold(spark, s)
    ensure_scored_table(spark, s)
    out = _scorer(spark, s).score_records(_records(world.ordinary_and_ring(6)))
    msgs = [v for _, v in out.scored_msgs]
    # the same scored row with a hostile id, as a producer other than the scorer could write to the topic
    forged = [json.dumps({**json.loads(msgs[0]), "id_transacao": i}).encode() for i in hostile]
    batch = spark.createDataFrame([(v,) for v in msgs[:3] + forged + msgs[3:]], "value binary")
    sink = DeltaSink(spark, s)
    sink(batch, 0)
    sink(batch, 1)  # replayed: nothing new
    assert (sink.report.inserted, sink.report.invalid) == (6, 2 * len(hostile))
    table = spark.read.format("delta").load(sink.path)
    assert sorted(r[0] for r in table.select("id_transacao").collect()) == [f"TX{i:010d}" for i in range(1, 7)]


def test_the_state_rebuilt_on_restart_ignores_a_far_future_row(spark, make_settings, tmp_path) -> None:
    from lakehouse.paths import table_path
    from streaming.features import ReceiptState, seconds
    from streaming.scorer import ensure_scored_table, load_state
    from streaming.sink import scored_rows

    s = make_settings(tmp_path / "home")
    world.build_gold(spark, s)
    ensure_scored_table(spark, s)
    out = _scorer(spark, s).score_records(_records(world.ordinary_and_ring(20)))
    msgs = [v for _, v in out.scored_msgs]
    # a row a scorer without the future check wrote: 2099 would evict every receipt on load
    msgs.append(json.dumps({**json.loads(msgs[0]), "id_transacao": "TX9999", "timestamp": "2099-01-01T00:00:00",
                            "data": "2099-01-01"}).encode())
    rows = scored_rows(spark.createDataFrame([(v,) for v in msgs], "value binary"))
    rows.filter("_valida").drop("_valida").write.format("delta").mode("append").save(
        table_path(s, "gold", "scored_transactions"))
    state = ReceiptState(600)
    assert load_state(spark, s, state) == 20
    assert state.max_event == seconds(world.T0 + timedelta(minutes=9.5)) and len(state) == 20

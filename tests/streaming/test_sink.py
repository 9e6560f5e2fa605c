"""The scored message <-> ``gold/scored_transactions`` converter of the Delta sink (Spark, no broker)."""

from __future__ import annotations

import json
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

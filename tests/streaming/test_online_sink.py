"""The scorer's rows into the online store (Spark for the scorer, a real redis-server, no broker): what
``BatchScorer.score_records`` produced, written by the driver writer and by the executor path
(``write_spark``), reads back through the API's ``features_online`` as the very features the stream scored."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from tests.helpers import RedisProc
from tests.streaming import world
from tests.streaming.test_sink import _Model, _records

pytestmark = [pytest.mark.spark, pytest.mark.redis]


def _dump(cli) -> dict:
    out = {}
    for k in cli.scan_iter("pixring:v1:*"):
        out[k] = cli.hgetall(k) if k.startswith("pixring:v1:k:") else cli.zrange(k, 0, -1, withscores=True)
    return out


def test_the_scorers_rows_land_and_read_back_as_the_features_it_scored(spark, make_settings, tmp_path) -> None:
    from api.readmodel import Snapshot
    from api.scoring import TxInput, features_online, online_view
    from pixring import online
    from pixring.features import TX_FEATURES
    from streaming.features import ReceiptState
    from streaming.lookup import GoldLookup
    from streaming.metrics import StreamMetrics
    from streaming.online_sink import OnlineWriter, rows_of, write_spark
    from streaming.scorer import BatchScorer, StreamReport

    proc = RedisProc(tmp_path / "redis").start()
    try:
        s = make_settings(tmp_path / "home")
        s.redis = proc.settings
        world.build_gold(spark, s)
        lookup = GoldLookup(spark, s)
        lookup.refresh()
        writer = OnlineWriter(s)
        scorer = BatchScorer(spark, s, _Model(), lookup, ReceiptState(600), StreamMetrics(), None,
                             StreamReport("pix.transacoes"), writer)
        docs = world.ordinary_and_ring(40) + [world.tx(99, "U01", "U20", 25, valor=1234.56, status="rejeitada")]
        out = scorer.score_records(_records(docs))
        assert len(out.scored) == 41
        assert writer.write(out.scored, scorer._tz) and not writer.pending

        rows = rows_of(out.scored, scorer._tz)

        async def read_all():
            cli = online.client(s, asyncio=True, timeout=1.0)
            got = {}
            for r in rows:
                ts = online.EPOCH + timedelta(microseconds=r["ts_us"])
                tx = TxInput(r["valor"], ts, r["chave_pix_origem"], r["chave_pix_destino"])
                got[r["id_transacao"]] = features_online(Snapshot(), tx, await online_view(cli, tx, 1.0))
            await cli.aclose()
            return got

        got = asyncio.run(read_all())
        windowed_nonzero = 0
        for sent in out.scored:
            f, missing = got[sent["id_transacao"]]
            assert missing == []
            for name in TX_FEATURES:
                if name == "idade_chave_destino_h" and sent[name] <= 0:
                    continue  # unknown / clamped: no creation time written (the read model's is used)
                assert f[name] == sent[name], (sent["id_transacao"], name)
            windowed_nonzero += sent["recebidos_1h_destino"] > 0
        assert windowed_nonzero > 5  # the comparison is not 0 == 0

        # the executor path writes the same commands: the same store content, db 1 against db 0
        sync = online.client(s)
        first = _dump(sync)
        assert first
        s1 = proc.settings.model_copy(update={"db": 1})
        s.redis = s1
        frame = spark.createDataFrame([{k: r.get(k) for k in online.WRITE_COLUMNS} for r in rows],
                                      schema=("id_transacao string, ts_us long, chave_pix_origem string, "
                                              "chave_pix_destino string, valor double, status string, "
                                              "id_usuario_origem string, id_usuario_destino string, "
                                              "score_origem double, score_destino double, "
                                              "risco_anel_destino double, idade_chave_destino_h double"))
        write_spark(frame.repartition(3), s)
        second = _dump(online.client(s))
        assert json.dumps(second, sort_keys=True) == json.dumps(first, sort_keys=True)
    finally:
        proc.stop()

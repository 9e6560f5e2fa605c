"""The online store on a real redis-server: what the stream writes (streaming.online_sink) is what
``POST /v1/score`` reads (api.scoring.features_online), and the features equal the one definition's.

The rows are test_feature_parity's (rejected attempts, ties at an instant, a forwarding origin, a key of
unknown age, night edges): the stream path computes their static features, the writer puts them in Redis
in micro-batches (one replayed), the inline path reads each transaction's view back from Redis over a
read model that holds keys only (no receipts, no scores, no rings: those must come from the store).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from api.readmodel import build_snapshot
from api.scoring import TxInput, features_online, online_view
from pixring import online
from pixring.features import TX_FEATURES, WINDOWED
from streaming.online_sink import OnlineWriter
from tests.helpers import RedisProc
from tests.pixring.test_feature_parity import CADASTRO, OWNER, ROWS, UTC_OFFSET, batch_path, stream_path

pytestmark = pytest.mark.redis
TZ = ZoneInfo("America/Sao_Paulo")


class _Settings:
    """What OnlineWriter reads: the store and the stream's watermark."""

    def __init__(self, redis_settings) -> None:
        from pixring.settings import StreamingSettings

        self.redis = redis_settings
        self.streaming = StreamingSettings(watermark="10 minutes")


@pytest.fixture
def store(tmp_path):
    proc = RedisProc(tmp_path).start()
    yield proc
    proc.stop()


def scored_rows(ids: list[str]) -> list[dict]:
    """The scorer's rows for ``ids`` (local time, tokens, owners, static features)."""
    feats = stream_path()
    out = []
    for i, ts, v, o, d, st in ROWS:
        if i in ids:
            f = feats.loc[i]
            out.append({"id_transacao": i, "timestamp": ts, "valor": v, "chave_pix_origem": o,
                        "chave_pix_destino": d, "status": st, "id_usuario_origem": OWNER.get(o),
                        "id_usuario_destino": OWNER.get(d), "score_origem": f["score_origem"],
                        "score_destino": f["score_destino"], "risco_anel_destino": f["risco_anel_destino"],
                        "idade_chave_destino_h": f["idade_chave_destino_h"]})
    return out


def keys_only_snapshot():
    return build_snapshot({"chaves": [
        {"chave_pix": k, "id_usuario": u,
         "data_cadastro": (CADASTRO[k] + UTC_OFFSET).replace(tzinfo=UTC) if k in CADASTRO else None}
        for k, u in OWNER.items()]}, receipts=False)


def read_features(settings, ids: list[str]) -> dict[str, dict[str, float]]:
    snap = keys_only_snapshot()

    async def go():
        cli = online.client(settings, asyncio=True, timeout=1.0)
        out = {}
        for i, ts, v, o, d, _ in ROWS:
            if i in ids:
                tx = TxInput(valor=v, ts=ts + UTC_OFFSET, chave_origem=o, chave_destino=d)
                f, missing = features_online(snap, tx, await online_view(cli, tx, 1.0))
                assert missing == []
                out[i] = f
        await cli.aclose()
        return out

    return asyncio.run(go())


def test_the_store_serves_the_features_of_the_definition(store) -> None:
    writer = OnlineWriter(_Settings(store.settings))
    day1 = [r[0] for r in ROWS if r[0] <= "t09"]
    day2 = [r[0] for r in ROWS if r[0] > "t09"]
    rows = scored_rows(day1)
    for i in range(0, len(rows), 3):  # micro-batches of 3, the second one replayed (idempotent)
        assert writer.write(rows[i:i + 3], TZ)
        if i == 3:
            assert writer.write(pd.DataFrame(rows[i:i + 3]), TZ)  # a pandas frame writes the same
    expected = batch_path()
    got1 = pd.DataFrame.from_dict(read_features(store.settings, day1), orient="index")
    pd.testing.assert_frame_equal(got1.loc[day1, list(TX_FEATURES)], expected.loc[day1, list(TX_FEATURES)],
                                  check_names=False, check_dtype=False, rtol=0, atol=0)
    cli = online.client(store.settings)
    assert cli.zcard(online.receipts_key("km")) == 6  # t01..t05, t09: one member each despite the replay
    assert cli.hgetall(online.key_key("kx"))[online.RING_RISK] == "0.8"  # risk and score from the stream
    assert cli.ttl(online.receipts_key("km")) > 0 and cli.ttl(online.key_key("km")) > 0

    assert writer.write(scored_rows(day2), TZ)  # the next morning
    assert cli.zcard(online.receipts_key("ku")) == 3
    got2 = pd.DataFrame.from_dict(read_features(store.settings, day2), orient="index")
    pd.testing.assert_frame_equal(got2.loc[day2, list(TX_FEATURES)], expected.loc[day2, list(TX_FEATURES)],
                                  check_names=False, check_dtype=False, rtol=0, atol=0)
    # a key untouched since day 1 keeps its receipts until its TTL (reads never count them: outside [T-1h, T));
    # its next write trims them to the last hour + watermark
    assert cli.zcard(online.receipts_key("km")) == 6
    later = {**scored_rows(["t12"])[0], "id_transacao": "t99", "chave_pix_destino": "km"}
    assert writer.write([later], TZ)
    assert cli.zrange(online.receipts_key("km"), 0, -1) == [online.encode_receipt("t99", "kc", 30.0, True)]
    f = expected.to_dict(orient="index")
    assert f["t05"]["recebidos_1h_destino"] == 4.0 and f["t06"]["repasse_origem"] == 1.0  # not all zeros


def test_a_stopped_store_loses_nothing_and_reads_degrade(store) -> None:
    """Redis stopped while the stream writes: batches wait and are replayed in order once it is back; a read
    meanwhile is degraded (windowed features named as missing, never silent defaults)."""
    writer = OnlineWriter(_Settings(store.settings))
    rows = scored_rows([r[0] for r in ROWS if r[0] <= "t09"])
    assert writer.write(rows[:3], TZ)
    store.stop()
    assert not writer.write(rows[3:6], TZ) and not writer.write(rows[6:], TZ)
    assert len(writer.pending) == 2 and writer.failures >= 2

    snap = keys_only_snapshot()
    _, ts, v, o, d, _ = ROWS[4]
    tx = TxInput(valor=v, ts=ts + UTC_OFFSET, chave_origem=o, chave_destino=d)

    async def read():
        cli = online.client(store.settings, asyncio=True, timeout=0.5)
        try:
            return features_online(snap, tx, await online_view(cli, tx, 0.5))
        finally:
            await cli.aclose()

    f, missing = asyncio.run(read())
    assert missing == list(WINDOWED) and all(f[n] == 0.0 for n in WINDOWED)
    assert f["idade_chave_destino_h"] > 0  # what the read model has is still served

    store.start()  # same port, same AOF: the first batch is back, the two pending ones replayed
    assert writer.flush() and not writer.pending
    got = read_features(store.settings, ["t05", "t09"])
    exp = batch_path()
    for i in ("t05", "t09"):
        assert {k: got[i][k] for k in TX_FEATURES} == {k: float(exp.loc[i, k]) for k in TX_FEATURES}


def test_the_writer_reseeds_from_the_rebuilt_state(store) -> None:
    """After a crash the pending batches are gone with the process: the state rebuilt from the scored table
    is written again, with the same members as the batches (no double counting)."""
    from streaming.features import ReceiptState, seconds

    rows = scored_rows([r[0] for r in ROWS if r[0] <= "t05"])
    OnlineWriter(_Settings(store.settings)).write(rows[:2], TZ)  # the first two reached the store
    st = ReceiptState(600)
    for r in rows:
        st.add(seconds(r["timestamp"]), r["id_transacao"], r["chave_pix_origem"], r["chave_pix_destino"],
               r["valor"], r["status"])
    assert OnlineWriter(_Settings(store.settings)).seed(st.by_key, TZ) == 5
    cli = online.client(store.settings)
    members = cli.zrange(online.receipts_key("km"), 0, -1, withscores=True)
    assert [m.split(online.SEP)[0] for m, _ in members] == ["t01", "t02", "t03", "t04", "t05"]
    first = ROWS[0][1] + UTC_OFFSET
    assert members[0][1] == online.epoch_us(first) / 1e6 == (first - online.EPOCH) / timedelta(seconds=1)


def test_production_refuses_the_default_password_and_a_plaintext_remote_store(monkeypatch) -> None:
    import secrets

    from pixring.security import production_problems
    from pixring.settings import Settings
    from tests.pixring.test_security import STRONG

    for var in STRONG:
        if var != "PIXRING_REDIS_PASSWORD":
            monkeypatch.setenv(var, secrets.token_urlsafe(40))
    monkeypatch.setenv("PIXRING_ENV", "production")
    monkeypatch.setenv("PIXRING_MLFLOW_AUTH", "true")  # production also requires MLflow's login
    assert production_problems(Settings(), environ={}) == ["PIXRING_REDIS_PASSWORD is the public development default"]
    monkeypatch.setenv("PIXRING_REDIS_PASSWORD", secrets.token_urlsafe(40))
    monkeypatch.setenv("PIXRING_REDIS_URL", "redis://online-store.internal:6379/0")
    assert production_problems(Settings(), environ={}) == [
        "PIXRING_REDIS_URL reaches a remote Redis without TLS (use rediss://)"]
    monkeypatch.setenv("PIXRING_REDIS_URL", "rediss://online-store.internal:6379/0")
    assert production_problems(Settings(), environ={}) == []

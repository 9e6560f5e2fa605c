"""``POST /v1/score`` with the online store (PIXRING_REDIS_ENABLED): a second API on the toy world whose read
model holds no receipts, the windows read from a real redis-server the stream's writer filled. It scores like
the in-memory API; with Redis stopped it answers degraded (or 503 when so configured); restarted, it recovers
(the data back from the AOF)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from pixring import online
from pixring.settings import RedisSettings, Settings
from streaming.online_sink import OnlineWriter
from tests.api.conftest import T0, _transactions, serve
from tests.helpers import RedisProc

pytestmark = [pytest.mark.redis, pytest.mark.neo4j, pytest.mark.mlflow]

SCORES = {"V1": 0.05, "V2": 0.04, "M1": 0.9, "M2": 0.85, "C": 0.95, "X": 0.1}
YOUNG = {"M1", "M2", "C"}


def stream_rows(w) -> list[dict]:
    """The toy world's transactions as the scorer's rows (UTC instants as ts_us, owners, gold values)."""
    out = []
    for n, a, b, m, v in _transactions(w):
        ts = T0 + timedelta(minutes=m)
        cad = T0 - (timedelta(hours=2) if b in YOUNG else timedelta(days=900))
        out.append({"id_transacao": w.tx[n], "ts_us": online.epoch_us(ts), "valor": float(v),
                    "chave_pix_origem": w.keys[a], "chave_pix_destino": w.keys[b], "status": "concluida",
                    "id_usuario_origem": w.uid(a), "id_usuario_destino": w.uid(b), "score_origem": SCORES[a],
                    "score_destino": SCORES[b], "risco_anel_destino": 0.93 if b in YOUNG else 0.0,
                    "idade_chave_destino_h": max(0.0, (ts - cad).total_seconds() / 3600.0)})
    return sorted(out, key=lambda r: r["ts_us"])


@pytest.fixture(scope="module")
def online_api(tmp_path_factory, api_settings: Settings, toy_graph, world):
    import httpx

    from api.app import create_app

    proc = RedisProc(tmp_path_factory.mktemp("redis")).start()
    s = Settings()
    s.paths, s.mlflow, s.redis = api_settings.paths, api_settings.mlflow, proc.settings

    class _W:
        redis, streaming = proc.settings, s.streaming

    assert OnlineWriter(_W).write(stream_rows(world))
    app = create_app(s, background=False)
    port, server, thread = serve(app)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        yield c, app, proc
    server.should_exit = True
    thread.join(timeout=15)
    proc.stop()


def test_scores_from_redis_like_the_in_memory_api_degrades_and_recovers(online_api, client, live_api, world):
    c, app, proc = online_api
    h = live_api.headers("service")
    assert app.state.ctx.readmodel.snapshot.received == {}  # no receipts held by the worker
    bodies = [{"id_transacao": "x1", "timestamp": "2026-10-01T13:01:00Z", "valor": 700.0,
               "chave_pix_origem": world.clear_keys["V2"], "chave_pix_destino": world.clear_keys["M1"]},
              {"timestamp": "2026-10-01T13:30:00Z", "valor": 1400.0,  # C got 950 + 480: forwarding
               "chave_pix_origem": world.clear_keys["C"], "chave_pix_destino": world.clear_keys["X"]},
              {"timestamp": "2026-10-01T13:26:00Z", "valor": 10.0,
               "chave_pix_origem": world.clear_keys["X"], "chave_pix_destino": world.clear_keys["C"]}]
    first = []
    for body in bodies:
        mem, red = client.post("/v1/score", json=body, headers=h).json(), c.post("/v1/score", json=body, headers=h)
        assert red.status_code == 200, red.text
        red = red.json()
        assert red["degradado"] is False and red["features_ausentes"] == []
        assert (red["features"], red["score"], red["decisao"], red["motivos"]) == (
            mem["features"], mem["score"], mem["decisao"], mem["motivos"])
        first.append(red)
    assert first[0]["features"]["recebidos_10min_destino"] == 1 and first[1]["features"]["repasse_origem"] == 1
    assert first[2]["features"]["recebidos_1h_destino"] == 2 and first[2]["features"]["remetentes_distintos_1h_destino"] == 2

    proc.stop()
    down = c.post("/v1/score", json=bodies[1], headers=h)
    assert down.status_code == 200
    d = down.json()
    assert d["degradado"] is True and d["features_ausentes"] == [
        "recebidos_10min_destino", "recebidos_1h_destino", "remetentes_distintos_1h_destino", "repasse_origem"]
    assert d["features"]["repasse_origem"] == 0 and d["features"]["score_destino"] == first[1]["features"]["score_destino"]
    ctx = app.state.ctx
    ctx.settings.redis = RedisSettings(**{**proc.settings.model_dump(), "on_failure": "unavailable"})
    try:
        assert c.post("/v1/score", json=bodies[1], headers=h).status_code == 503
    finally:
        ctx.settings.redis = proc.settings

    proc.start()  # same port and AOF
    deadline = time.monotonic() + 10
    while True:
        again = c.post("/v1/score", json=bodies[1], headers=h).json()
        if not again["degradado"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert again == first[1]

"""Training, the stream and inline scoring give identical features for the same rows (pixring.features).

The same history goes through the paths in process: ``gnn.features.tx_features`` (the batch over
silver, point in time), the stream's per-record path (``streaming.features``: static features plus
``ReceiptState``, in event order, as ``streaming.scorer`` calls them), the executor engine's stateful
processor (``streaming.executors.ReceiptProcessor``, each transaction routed to its destination and origin
keys, in two micro-batches, its state handle in memory; the same engine on real Kafka + Spark is
``tests/streaming/test_executors.py``) and ``api.scoring.features`` over a read-model snapshot of the whole
history. The rows hold rejected and in-process attempts, night-time
rows on both sides of the 20:00/06:00 edges, ties at the same instant, a forwarding origin and a key of
unknown age. Silver and the stream carry local time; the read model holds naive UTC (Delta's instants).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from api.readmodel import build_snapshot
from api.scoring import TxInput
from api.scoring import features as inline_features
from gnn.features import ring_risk_by_user, tx_features
from pixring.features import TX_FEATURES, key_age_hours, noturna, window_features
from streaming.features import ReceiptState, seconds, static_features

UTC_OFFSET = timedelta(hours=3)  # America/Sao_Paulo is UTC-3 (no DST since 2019)
D = datetime(2026, 10, 1)

#: (id, local time, valor, origin key, destination key, status)
ROWS = [
    ("t01", D + timedelta(hours=19, minutes=50), 100.0, "ka", "km", "concluida"),
    ("t02", D + timedelta(hours=19, minutes=55), 50.0, "kb", "km", "rejeitada"),
    ("t03", D + timedelta(hours=20, minutes=0), 80.0, "kc", "km", "em_processamento"),
    ("t04", D + timedelta(hours=20, minutes=0), 70.0, "ka", "km", "rejeitada"),  # tie with t03
    ("t05", D + timedelta(hours=20, minutes=4), 200.0, "kd", "km", "concluida"),
    ("t06", D + timedelta(hours=20, minutes=6), 250.0, "km", "kx", "concluida"),  # km forwards (> 90 %)
    ("t07", D + timedelta(hours=20, minutes=30), 900.0, "kb", "kc", "rejeitada"),  # rejected: not received
    ("t08", D + timedelta(hours=20, minutes=40), 500.0, "kc", "kx", "concluida"),  # kc got only 0 effective
    ("t09", D + timedelta(hours=20, minutes=55), 10.0, "ke", "km", "concluida"),  # t01 left the hour
    ("t10", D + timedelta(days=1, hours=5, minutes=30), 40.0, "ka", "ku", "concluida"),  # night, unknown age
    ("t11", D + timedelta(days=1, hours=6), 40.0, "kb", "ku", "rejeitada"),  # 06:00: day again
    ("t12", D + timedelta(days=1, hours=6, minutes=5), 30.0, "kc", "ku", "concluida"),
]
OWNER = {"ka": "ua", "kb": "ub", "kc": "uc", "kd": "ud", "ke": "ue", "km": "um", "kx": "ux"}  # ku: no owner
CADASTRO = {"km": D - timedelta(days=2), "kx": D + timedelta(hours=21), "ka": D - timedelta(days=30)}
SCORES = {"um": 0.9, "ua": 0.1, "ux": 0.7}
RINGS = [{"id_anel": "r1", "membros": ["um", "ux"], "risco": 0.6},
         {"id_anel": "r2", "membros": ["ux"], "risco": 0.8}]


def _age_h(local: datetime, key: str) -> float | None:
    c = CADASTRO.get(key)
    return (local - c).total_seconds() / 3600.0 if c else None


def batch_path() -> pd.DataFrame:
    """Training: gnn.features over silver-like rows (local time, silver's key age column)."""
    tx = pd.DataFrame([{
        "id_transacao": i, "timestamp": ts, "valor": v, "chave_pix_origem": o, "chave_pix_destino": d,
        "status": st, "id_usuario_origem": OWNER.get(o), "id_usuario_destino": OWNER.get(d),
        "idade_chave_destino_h": _age_h(ts, d)} for i, ts, v, o, d, st in ROWS])
    ring_risk = ring_risk_by_user(pd.DataFrame(RINGS))
    out = tx_features(tx, user_scores=pd.Series(SCORES), ring_risk=ring_risk)
    out.index = tx["id_transacao"]
    return out


def stream_path() -> pd.DataFrame:
    """The stream: per record in event order, as streaming.scorer does (static features, then the state)."""
    st = ReceiptState(watermark_seconds=600)
    risk = ring_risk_by_user(pd.DataFrame(RINGS)).to_dict()
    rows = {}
    for i, ts, v, o, d, status in sorted(ROWS, key=lambda r: (r[1], r[0])):
        ou, du = OWNER.get(o), OWNER.get(d)
        f = static_features(ts, v, SCORES.get(ou), SCORES.get(du), risk.get(du), CADASTRO.get(d))
        t = seconds(ts)
        f.update(st.features(t, i, o, d, v))
        st.add(t, i, o, d, v, status)
        rows[i] = f
    return pd.DataFrame.from_dict(rows, orient="index")


def executor_path() -> pd.DataFrame:
    """The executor engine's ReceiptProcessor per key, the rows in two micro-batches (state carried over)."""
    from streaming.executors import STATE_ROW, WINDOW_COLS, ReceiptProcessor
    from tests.helpers import FakeStateHandle, FakeTimerValues

    cols = [c.split()[0] for c in STATE_ROW.split(", ")]
    processors: dict[str, ReceiptProcessor] = {}
    windowed: dict[str, dict[str, float]] = {}
    ordered = sorted(ROWS, key=lambda r: (r[1], r[0]))
    for batch in (ordered[:5], ordered[5:]):
        by_key: dict[str, list[dict]] = {}
        for off, (i, ts, v, o, d, status) in enumerate(batch):
            ms = int(seconds(ts) * 1000)
            for papel, k in (("d", d), ("o", o)):
                by_key.setdefault(k, []).append(dict.fromkeys(cols) | {
                    "k": k, "papel": papel, "id_transacao": i, "timestamp": ts, "ev_ms": ms, "valor": v,
                    "chave_pix_origem": o, "chave_pix_destino": d, "status": status, "kafka_offset": off})
        for k, rows in by_key.items():
            if k not in processors:
                processors[k] = ReceiptProcessor()
                processors[k].init(FakeStateHandle())
            for out in processors[k].handleInputRows((k,), iter([pd.DataFrame(rows, columns=cols)]),
                                                     FakeTimerValues(-1)):
                for r in out.to_dict(orient="records"):
                    assert r["motivo"] is None
                    cols_of = WINDOW_COLS[:3] if r["papel"] == "d" else WINDOW_COLS[3:]
                    windowed.setdefault(r["id_transacao"], {}).update({c: r[c] for c in cols_of})
    risk = ring_risk_by_user(pd.DataFrame(RINGS)).to_dict()
    rows = {}
    for i, ts, v, o, d, _ in ROWS:
        ou, du = OWNER.get(o), OWNER.get(d)
        rows[i] = static_features(ts, v, SCORES.get(ou), SCORES.get(du), risk.get(du), CADASTRO.get(d)) | windowed[i]
    return pd.DataFrame.from_dict(rows, orient="index")


def inline_path() -> pd.DataFrame:
    """POST /v1/score: a read-model snapshot of the whole history (UTC), one call per transaction."""
    snap = build_snapshot({
        "transacoes": [{"id_transacao": i, "timestamp": (ts + UTC_OFFSET).replace(tzinfo=UTC), "valor": v,
                        "chave_pix_origem": o, "chave_pix_destino": d, "id_usuario_origem": OWNER.get(o),
                        "id_usuario_destino": OWNER.get(d), "status": st} for i, ts, v, o, d, st in ROWS],
        "chaves": [{"chave_pix": k, "id_usuario": u,
                    "data_cadastro": (CADASTRO[k] + UTC_OFFSET).replace(tzinfo=UTC) if k in CADASTRO else None}
                   for k, u in OWNER.items()],
        "node_scores": [{"id": u, "tipo": "usuario", "score": s} for u, s in SCORES.items()],
        "ring_candidates": RINGS,
    })
    return pd.DataFrame.from_dict(
        {i: inline_features(snap, TxInput(valor=v, ts=ts + UTC_OFFSET, chave_origem=o, chave_destino=d))
         for i, ts, v, o, d, _ in ROWS}, orient="index")


def test_the_four_paths_give_identical_features() -> None:
    ids = [r[0] for r in ROWS]
    batch = batch_path().loc[ids, list(TX_FEATURES)]
    stream = stream_path().loc[ids, list(TX_FEATURES)]
    inline = inline_path().loc[ids, list(TX_FEATURES)]
    executors = executor_path().loc[ids, list(TX_FEATURES)]
    pd.testing.assert_frame_equal(stream, batch, check_names=False, check_dtype=False, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(executors, batch, check_names=False, check_dtype=False, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(inline, batch, check_names=False, check_dtype=False, rtol=0, atol=1e-9)

    # the rows exercise what the paths used to disagree on (so equality above is not 0 == 0)
    f = batch.to_dict(orient="index")
    assert f["t05"]["recebidos_10min_destino"] == 3.0  # t02 (rejected), t03, t04 (rejected); t01 is 14 min back
    assert f["t05"]["recebidos_1h_destino"] == 4.0 and f["t05"]["remetentes_distintos_1h_destino"] == 3.0
    assert f["t03"]["recebidos_1h_destino"] == 2.0 and f["t04"]["recebidos_1h_destino"] == 2.0  # tie at T
    assert f["t09"]["recebidos_1h_destino"] == 4.0  # t01 left the hour; t02, at exactly T - 1 h, is in
    assert f["t06"]["repasse_origem"] == 1.0  # km received 100 + 80 + 200 effective >= 0.9 x 250
    assert f["t08"]["repasse_origem"] == 0.0  # kc's only receipt (900) was rejected
    assert [f[i]["noturna"] for i in ("t01", "t03", "t10", "t11")] == [0.0, 1.0, 1.0, 0.0]
    assert f["t10"]["idade_chave_destino_h"] == -1.0
    assert f["t01"]["idade_chave_destino_h"] == pytest.approx(48 + 19 + 50 / 60)
    assert f["t06"]["idade_chave_destino_h"] == 0.0  # kx registered at 21:00 > T: clamped, never negative
    assert f["t06"]["risco_anel_destino"] == 0.8 and f["t06"]["score_destino"] == 0.7
    assert f["t11"]["recebidos_1h_destino"] == 1.0
    assert f["t12"]["recebidos_10min_destino"] == 1.0 and f["t12"]["recebidos_1h_destino"] == 2.0


def test_rules_of_the_one_definition() -> None:
    assert [noturna(h) for h in (19, 20, 23, 0, 5, 6)] == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert key_age_hours(None) == -1.0 and key_age_hours(float("nan")) == -1.0 and key_age_hours(-3.0) == 0.0
    # receipts (seconds, id, origin, valor, effective): windows strictly before t, rejected ones counted
    dest = [(0.0, "a", "k1", 10.0, True), (100.0, "b", "k2", 10.0, False), (700.0, "c", "k2", 5.0, True),
            (1000.0, "d", "k3", 1.0, True)]
    got = window_features(1000.0, 10.0, dest, dest)
    assert got == {"recebidos_10min_destino": 1.0, "recebidos_1h_destino": 3.0,
                   "remetentes_distintos_1h_destino": 2.0, "repasse_origem": 1.0}  # 10 + 5 effective >= 9
    assert window_features(1000.0, 20.0, dest, dest)["repasse_origem"] == 0.0  # 15 < 18
    assert window_features(0.0, 1.0, None, None) == dict.fromkeys(got, 0.0)


@pytest.mark.parametrize("status", ["rejeitada", "em_processamento"])
def test_inline_counts_non_completed_attempts(status: str) -> None:
    """The read model used to drop rejected payments before counting: recebidos_* must see every attempt."""
    t = D + timedelta(hours=12)
    snap = build_snapshot({"transacoes": [
        {"id_transacao": "p1", "timestamp": t.replace(tzinfo=UTC), "valor": 5.0, "chave_pix_origem": "ka",
         "chave_pix_destino": "km", "status": status}]})
    f = inline_features(snap, TxInput(valor=5.0, ts=t + timedelta(minutes=1), chave_origem="kb", chave_destino="km"))
    assert f["recebidos_10min_destino"] == 1.0 and f["remetentes_distintos_1h_destino"] == 1.0

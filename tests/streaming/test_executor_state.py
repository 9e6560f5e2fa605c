"""The executor engine's stateful processor (:class:`streaming.executors.ReceiptProcessor`) as pure logic: its
state handle in memory (``tests.helpers.FakeStateHandle``); on real Spark it is ``test_executors.py``."""

from __future__ import annotations

import pandas as pd

from streaming.executors import HOUR_MS, LATE, STATE_ROW, ReceiptProcessor
from tests.helpers import FakeStateHandle, FakeTimerValues

COLS = [c.split()[0] for c in STATE_ROW.split(", ")]
T = 1_800_000_000_000  # event ms


def _row(i: int, papel: str, ms: int, origem: str = "ko", destino: str = "kd", valor: float = 100.0,
         status: str = "concluida") -> dict:
    return dict.fromkeys(COLS) | {
        "k": destino if papel == "d" else origem, "papel": papel, "id_transacao": f"t{i}",
        "timestamp": pd.Timestamp(ms, unit="ms"), "ev_ms": ms, "valor": valor, "chave_pix_origem": origem,
        "chave_pix_destino": destino, "status": status, "kafka_offset": i}


def _run(p: ReceiptProcessor, key: str, rows: list[dict], wm: int = -1) -> pd.DataFrame:
    out = list(p.handleInputRows((key,), iter([pd.DataFrame(rows, columns=COLS)]), FakeTimerValues(wm)))
    return pd.concat(out).set_index("id_transacao") if out else pd.DataFrame()


def _processor() -> tuple[ReceiptProcessor, FakeStateHandle]:
    p, h = ReceiptProcessor(), FakeStateHandle()
    p.init(h)
    return p, h


def test_receipts_carry_over_batches_and_late_records_go_to_the_dlq_without_entering_the_state() -> None:
    p, h = _processor()
    first = _run(p, "kd", [_row(1, "d", T), _row(2, "d", T + 60_000, origem="k2"), _row(2, "d", T + 60_000, origem="k2")])
    assert list(first.index) == ["t1", "t2"]  # the duplicate id counted once
    assert first.loc["t2", "recebidos_1h_destino"] == 1.0 and first.loc["t1", "recebidos_1h_destino"] == 0.0
    # next batch: the watermark has moved; t3 is older than it, t4 pays on from kd (repasse)
    out = _run(p, "kd", [_row(3, "d", T - 10 * 60_000), _row(4, "o", T + 120_000, origem="kd", destino="kz",
                                                             valor=150.0)], wm=T - 60_000)
    assert out.loc["t3", "motivo"] == LATE
    assert out.loc["t4", "repasse_origem"] == 1.0 and out.loc["t4", "motivo"] is None  # 200 received >= 135
    assert sorted(r[1] for r in h.lists["receipts"].values) == ["t1", "t2"]  # the late one never entered
    assert h.timers == {T + 60_000 + HOUR_MS + 1}
    # a replayed id the state already holds is not late: it was accepted before and scores again
    again = _run(p, "kd", [_row(1, "d", T)], wm=T + 30_000)
    assert again.loc["t1", "motivo"] is None and len(h.lists["receipts"].values) == 2


def test_eviction_and_the_timer_clear_a_quiet_key() -> None:
    p, h = _processor()
    _run(p, "kd", [_row(1, "d", T), _row(2, "d", T + HOUR_MS)])
    _run(p, "kd", [_row(3, "d", T + 2 * HOUR_MS)], wm=T + HOUR_MS + 1)  # t1 is older than watermark - 1 h
    assert [r[1] for r in h.lists["receipts"].values] == ["t2", "t3"]
    assert list(p.handleExpiredTimer(("kd",), FakeTimerValues(T + 4 * HOUR_MS), None)) == []
    assert not h.lists["receipts"].exists()


def test_invalid_records_pass_through_without_touching_any_state() -> None:
    p, h = _processor()
    bad = dict.fromkeys(COLS) | {"k": "!0", "papel": "x", "motivo": "json_invalido", "raw_value": b"{x",
                                 "kafka_offset": 7}
    out = _run(p, "!0", [bad], wm=T)
    assert list(out["motivo"]) == ["json_invalido"] and not h.lists["receipts"].exists() and not h.timers

"""Pure logic: parsing/validation of records and the per-key stateful features (no services)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import pytest

from streaming.features import ReceiptState, seconds, static_features
from streaming.parse import Tx, canonical_key, key_type, parse_record

T0 = datetime(2026, 10, 1, 10, 0, 0)


def _doc(**over) -> bytes:
    d = {"schema_version": 1, "id_transacao": "TX1", "timestamp": "2026-10-01T10:00:00", "valor": 10.5,
         "chave_pix_origem": "+55 (11) 98765-4321", "chave_pix_destino": "529.982.247-25",
         "tipo_transacao": "transferencia_p2p", "status": "concluida"}
    d.update(over)
    return json.dumps(d).encode()


def test_a_valid_record_is_parsed_with_keys_in_silver_canonical_form() -> None:
    tx = parse_record(_doc())
    assert isinstance(tx, Tx)
    assert (tx.origem, tx.destino, tx.valor, tx.timestamp) == ("+5511987654321", "52998224725", 10.5, T0)
    assert canonical_key("Fulano@Example.COM") == "fulano@example.com"
    assert key_type("52998224725") == "cpf" and key_type("52998224724") is None
    assert key_type("11222333000181") == "cnpj" and key_type(canonical_key("11.222.333/0001-81")) == "cnpj"


@pytest.mark.parametrize(("value", "reason"), [
    (None, "valor_vazio"), (b"{", "json_invalido"), (b'"x"', "nao_objeto"),
    (_doc(schema_version=None), "versao_ausente"), (_doc(schema_version=2), "versao_desconhecida"),
    (_doc(schema_version=True), "versao_desconhecida"), (_doc(status=None), "campo_ausente:status"),
    (_doc(id_transacao=5), "tipo_invalido:id_transacao"), (_doc(id_transacao=" "), "campo_ausente:id_transacao"),
    (_doc(valor="10"), "tipo_invalido:valor"), (_doc(valor=0), "valor_invalido:valor"),
    (_doc(valor=1.234), "valor_invalido:valor"), (_doc(timestamp="01/10/2026"), "timestamp_invalido:timestamp"),
    (_doc(chave_pix_origem="123"), "chave_invalida:chave_pix_origem"),
    (_doc(tipo_transacao="ted"), "enum_desconhecido:tipo_transacao"),
    (_doc(id_transacao="x" * 600), "campo_longo:id_transacao"),
    (_doc(timestamp="2026-10-01T10:00:0Z"), "timestamp_invalido:timestamp"),
    (_doc(timestamp="2026-10-01T10:00+00"), "timestamp_invalido:timestamp"),
    (_doc(timestamp="2026-10-01T25:00:00"), "timestamp_invalido:timestamp"),
    (_doc(timestamp="2026-10-01T10:00:00+00:00"), "timestamp_invalido:timestamp"),
    (b'{"valor": NaN}', "json_invalido"),
])
def test_every_bad_record_gets_its_reason(value, reason) -> None:
    assert parse_record(value) == reason


@pytest.mark.parametrize("text", ["2026-10-01T10:00:00", "2026-10-01 10:00:00", " 2026-10-01T10:00:00 ",
                                  "2026-10-1T10:0:0"])
def test_timestamps_in_either_layout_parse_to_the_same_instant(text) -> None:
    tx = parse_record(_doc(timestamp=text))
    assert isinstance(tx, Tx) and tx.timestamp == T0 and tx.timestamp.tzinfo is None


def test_a_key_parses_the_same_from_the_memo() -> None:
    first, again = parse_record(_doc()), parse_record(_doc())
    assert (first.origem, first.destino) == (again.origem, again.destino) == ("+5511987654321", "52998224725")
    assert parse_record(_doc(chave_pix_destino="529.982.247-24")) == "chave_invalida:chave_pix_destino"
    assert parse_record(_doc(chave_pix_destino="529.982.247-24")) == "chave_invalida:chave_pix_destino"


def _feed(state: ReceiptState, txs):
    out = {}
    for t, i, o, d, v, s in sorted(txs, key=lambda x: (x[0], x[1])):
        sec = seconds(t)
        out[i] = state.features(sec, i, o, d, v)
        state.add(sec, i, o, d, v, s)
    return out


def test_windows_distinct_senders_and_forwarding() -> None:
    st = ReceiptState(600)
    txs = [(T0 + timedelta(minutes=m), f"T{n:03d}", f"S{n % 3}", "MULE", 100.0, "concluida")
           for n, m in enumerate([0, 20, 52, 55, 58])]
    txs.append((T0 + timedelta(minutes=59), "T900", "MULE", "BOSS", 420.0, "concluida"))  # 5 x 100 came in
    txs.append((T0 + timedelta(minutes=59, seconds=30), "T901", "X", "MULE", 10.0, "rejeitada"))
    txs.append((T0 + timedelta(minutes=61), "T902", "Y", "MULE", 1.0, "concluida"))
    f = _feed(st, txs)
    assert f["T000"]["recebidos_1h_destino"] == 0
    assert f["T004"]["recebidos_10min_destino"] == 2  # [48, 58): 52 and 55; itself excluded
    assert f["T004"]["recebidos_1h_destino"] == 4
    assert f["T004"]["remetentes_distintos_1h_destino"] == 3
    assert f["T900"]["repasse_origem"] == 1.0
    assert f["T902"]["recebidos_10min_destino"] == 4  # 52, 55, 58 and the rejected attempt at 59:30
    assert f["T902"]["recebidos_1h_destino"] == 5  # minute 0 left the hour
    assert f["T902"]["remetentes_distintos_1h_destino"] == 4  # S1, S2, S0, X


def test_ties_at_the_same_instant_never_count_and_rejected_money_is_not_forwarded() -> None:
    st = ReceiptState(600)
    f = _feed(st, [(T0, "A", "S1", "D", 50.0, "concluida"), (T0, "B", "S2", "D", 50.0, "concluida"),
                   (T0 + timedelta(minutes=1), "C", "Z", "M", 100.0, "rejeitada"),
                   (T0 + timedelta(minutes=2), "E", "M", "D", 95.0, "concluida")])
    assert f["B"]["recebidos_10min_destino"] == 0  # A has the same timestamp
    assert f["E"]["recebidos_10min_destino"] == 2 and f["E"]["repasse_origem"] == 0.0


def test_features_do_not_depend_on_batching_replays_or_restarts() -> None:
    rng = random.Random(7)
    keys = [f"K{i}" for i in range(8)]
    txs = [(T0 + timedelta(seconds=rng.randrange(0, 7200)), f"T{n:04d}", rng.choice(keys), rng.choice(keys),
            float(rng.randrange(1, 500)), rng.choice(["concluida", "concluida", "rejeitada"])) for n in range(400)]
    txs.sort(key=lambda x: (x[0], x[1]))
    expected = _feed(ReceiptState(600), txs)

    # split into batches; replay batch 3 (crash after the sink committed); restart from "the table" after 5
    batches = [txs[i:i + 37] for i in range(0, len(txs), 37)]
    st = ReceiptState(600)
    got: dict = {}
    for b, batch in enumerate(batches):
        if b == 5:  # restart: rebuild from everything scored so far
            scored = [x for bb in batches[:5] for x in bb]
            st = ReceiptState(600)
            st.load((t, i, o, d, v, s) for t, i, o, d, v, s in scored)
        got.update(_feed(st, batch))
        if b == 3:
            got.update(_feed(st, batch))  # the replay sees its own receipts in the state: same features
    assert got == expected


def test_eviction_keeps_the_window_and_flags_late_records() -> None:
    st = ReceiptState(600)
    st.add(seconds(T0), "A", "S", "D", 1.0, "concluida")
    st.add(seconds(T0 + timedelta(hours=3)), "B", "S", "D", 1.0, "concluida")
    assert st.evict(force=True) == 1 and len(st) == 1
    assert st.is_late(seconds(T0 + timedelta(hours=2, minutes=49)))
    assert not st.is_late(seconds(T0 + timedelta(hours=2, minutes=51)))


def test_static_features() -> None:
    f = static_features(T0.replace(hour=21), 1500.0, None, 0.7, 0.8, T0 - timedelta(hours=5))
    assert (f["noturna"], f["score_origem"], f["score_destino"], f["risco_anel_destino"]) == (1.0, 0.0, 0.7, 0.8)
    assert f["idade_chave_destino_h"] == pytest.approx(16.0)
    assert static_features(T0, 1.0, None, None, None, None)["idade_chave_destino_h"] == -1.0


def test_drift_gauges_from_the_window() -> None:
    import numpy as np
    import pandas as pd
    from prometheus_client import generate_latest

    from gnn.drift import DriftWindow, reference_from
    from gnn.serving import TX_FEATURES
    from streaming.metrics import StreamMetrics

    rng = np.random.default_rng(5)

    def sample(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame({c: rng.normal(shift if c == "valor" else 0.0, 1.0, n) for c in TX_FEATURES})

    ref = reference_from(sample(5_000, 0.0), rng.random(5_000))
    m, w = StreamMetrics(), DriftWindow(2_000)
    w.add(sample(1_000, 2.0), rng.random(1_000))
    m.record_drift(w.psi(ref))
    text = generate_latest(m.registry).decode()
    line = next(x for x in text.splitlines() if x.startswith('pixring_feature_psi{feature="valor"}'))
    assert float(line.split()[-1]) > 0.25  # the shifted feature
    quiet = next(x for x in text.splitlines() if x.startswith('pixring_feature_psi{feature="noturna"}'))
    assert float(quiet.split()[-1]) < 0.1
    assert any(x.startswith("pixring_score_psi ") for x in text.splitlines())


def test_histogram_quantiles_between_two_scrapes() -> None:
    from streaming.metrics import histogram_quantiles

    name = "pixring_stream_latency_seconds"

    def scrape(counts: dict[str, float]) -> dict[str, float]:
        return {f'{name}_bucket{{le="{le}"}}': c for le, c in counts.items()} | {f"{name}_count": max(counts.values())}

    before = scrape({"1.0": 10, "2.0": 10, "3.0": 10, "+Inf": 10})
    after = scrape({"1.0": 60, "2.0": 104, "3.0": 109, "+Inf": 110})  # 100 new: 50 <= 1 s, 94 <= 2, 99 <= 3
    assert histogram_quantiles(after, before, name, (0.5, 0.95, 0.99)) == [1.0, 3.0, 3.0]
    assert histogram_quantiles(after, before, name, (0.51, 1.0)) == [2.0, float("inf")]
    assert histogram_quantiles(before, before, name, (0.5,)) is None

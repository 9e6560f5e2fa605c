"""TX_FEATURES in batch: windows, pass-through, night, defaults (pure pandas)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from gnn.features import ring_risk_by_user, tx_features
from gnn.serving import TX_FEATURES

T = datetime(2026, 10, 1, 21, 0, 0)


def _tx(rows):
    return pd.DataFrame(rows, columns=["id_transacao", "timestamp", "valor", "chave_pix_origem", "chave_pix_destino",
                                       "status", "id_usuario_origem", "id_usuario_destino", "idade_chave_destino_h"])


def test_windows_forwarding_and_defaults() -> None:
    tx = _tx([
        ("t1", T, 500.0, "kv1", "km", "concluida", "V1", "M", 5.0),
        ("t2", T + timedelta(minutes=3), 400.0, "kv2", "km", "concluida", "V2", "M", 5.1),
        ("t3", T + timedelta(minutes=8), 300.0, "kv1", "km", "rejeitada", "V1", "M", 5.2),
        ("t4", T + timedelta(minutes=30), 880.0, "km", "kc", "concluida", "M", "C", None),
        ("t5", T + timedelta(hours=3), 10.0, "kx", "km", "concluida", "X", "M", 8.0),
        ("t6", datetime(2026, 10, 2, 12, 0), 50.0, "kx", "ky", "concluida", "X", "Y", 100.0),
    ])
    f = tx_features(tx, pd.Series({"M": 0.9, "C": 0.7}), ring_risk_by_user(pd.DataFrame(
        {"membros": [["M", "C"], ["C"]], "risco": [0.6, 0.8]})))
    assert list(f.columns) == list(TX_FEATURES) and len(f) == 6
    r = f.set_index(tx["id_transacao"])
    assert r.loc["t3", "recebidos_10min_destino"] == 2  # t1, t2 (strictly before, any status)
    assert r.loc["t3", "remetentes_distintos_1h_destino"] == 2
    assert r.loc["t4", "recebidos_10min_destino"] == 0
    assert r.loc["t5", "recebidos_1h_destino"] == 0  # t1-t3 are > 1 h earlier
    # M received 900 effective (the rejected 300 does not count) within 60 min before t4: >= 0.9 * 880
    assert r.loc["t4", "repasse_origem"] == 1 and r.loc["t1", "repasse_origem"] == 0
    assert r.loc["t1", "noturna"] == 1 and r.loc["t6", "noturna"] == 0
    assert r.loc["t1", "score_destino"] == pytest.approx(0.9) and r.loc["t1", "score_origem"] == 0
    assert r.loc["t4", "risco_anel_destino"] == pytest.approx(0.8)
    assert r.loc["t4", "idade_chave_destino_h"] == -1 and r.loc["t1", "idade_chave_destino_h"] == 5.0


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="chave_pix_destino"):
        tx_features(pd.DataFrame({"id_transacao": ["a"], "timestamp": [T], "valor": [1.0], "chave_pix_origem": ["k"]}))

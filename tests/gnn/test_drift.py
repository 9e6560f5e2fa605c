"""PSI against the training reference (pure logic)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from gnn.drift import DriftWindow, bin_spec, drift, psi, reference_from, shares
from gnn.serving import TX_FEATURES


def frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "valor": rng.lognormal(4 + shift, 1.0, n), "noturna": (rng.random(n) < 0.2 + shift / 4).astype(float),
        "score_origem": rng.beta(1, 20, n), "score_destino": rng.beta(1, 20, n),
        "risco_anel_destino": np.where(rng.random(n) < 0.01, 0.9, 0.0),
        "idade_chave_destino_h": rng.exponential(5000, n), "recebidos_10min_destino": rng.poisson(0.2, n),
        "recebidos_1h_destino": rng.poisson(1, n), "remetentes_distintos_1h_destino": rng.poisson(1, n),
        "repasse_origem": (rng.random(n) < 0.05).astype(float),
    })[list(TX_FEATURES)]


def test_bin_spec_deciles_and_ties() -> None:
    spec = bin_spec(np.arange(1, 1001, dtype=float))
    assert len(spec["edges"]) == 9 and len(spec["expected"]) == 10
    assert all(s == pytest.approx(0.1, abs=0.002) for s in spec["expected"])
    # a 0/1 feature: every decile edge is 0 or 1 -> merged to two bins
    binary = bin_spec(np.r_[np.zeros(800), np.ones(200)])
    assert binary["edges"] == [0.0, 1.0] and binary["expected"][0] == pytest.approx(0.8)
    assert sum(binary["expected"]) == pytest.approx(1.0)
    assert bin_spec(np.array([np.nan])) == {"edges": [], "expected": [1.0]}


def test_psi_is_zero_on_the_same_distribution_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(0, 1, 50_000)
    spec = bin_spec(train)
    same = psi(spec, rng.normal(0, 1, 20_000))
    small = psi(spec, rng.normal(0.2, 1, 20_000))
    large = psi(spec, rng.normal(1.0, 1, 20_000))
    assert same < 0.01 < small < 0.1 < 0.25 < large
    assert math.isnan(psi(spec, np.array([])))
    # shares of values beyond the training range land in the outer bins
    assert shares(spec, np.array([-100.0, 100.0])).tolist()[0] == 0.5


def test_reference_round_trips_through_json_and_flags_the_shifted_features() -> None:
    rng = np.random.default_rng(7)
    train = frame(rng, 30_000)
    ref = json.loads(json.dumps(reference_from(train, rng.beta(1, 30, len(train)))))
    assert set(ref["features"]) == set(TX_FEATURES) and ref["rows"] == 30_000
    stable = drift(ref, frame(rng, 10_000), rng.beta(1, 30, 10_000))
    assert max(stable.values()) < 0.1
    moved = drift(ref, frame(rng, 10_000, shift=1.0), rng.beta(3, 5, 10_000))
    assert moved["valor"] > 0.25 and moved["noturna"] > 0.1 and moved["score"] > 0.25
    assert moved["recebidos_1h_destino"] < 0.1  # not shifted


def test_window_keeps_the_latest_rows_only() -> None:
    rng = np.random.default_rng(3)
    ref = reference_from(frame(rng, 20_000), rng.beta(1, 30, 20_000))
    w = DriftWindow(size=5_000)
    assert w.psi(ref) == {}  # nothing seen yet
    for _ in range(4):
        w.add(frame(rng, 2_000, shift=1.0), rng.beta(3, 5, 2_000))
    assert w.psi(ref)["valor"] > 0.25
    for _ in range(4):  # back to normal: the shifted rows leave the window
        w.add(frame(rng, 2_000), rng.beta(1, 30, 2_000))
    assert 5_000 <= len(w) < 7_000
    assert w.psi(ref)["valor"] < 0.1
    assert w.psi({}) == {}

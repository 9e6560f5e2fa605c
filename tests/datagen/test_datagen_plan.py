"""Planned counts, input validation, the report."""

from __future__ import annotations

import math

import pytest

from datagen.plan import SEED_COUNTS, plan_counts
from pixring.contract import COLUMNS, FILES
from pixring.errors import PixringError

SEED = {
    "transacoes_pix": 50_000, "chaves_pix": 25_000, "usuarios": 20_000, "dispositivos": 30_000,
    "fraudes": 1_000, "limites_transacoes": 20_000, "log_autenticacao": 100_000,
}


def test_scale_1_is_exactly_the_seed() -> None:
    c = plan_counts(1.0)
    assert {k: c[k] for k in FILES} == SEED
    assert c["transacoes_fraudulentas"] == 250
    assert c["transacoes_fraudulentas"] / c["transacoes_pix"] == pytest.approx(0.005)


@pytest.mark.parametrize("scale", [0.1, 2.0, 20.0])
def test_counts_scale_linearly(scale: float) -> None:
    c = plan_counts(scale)
    for name in FILES:
        assert c[name] == round(SEED[name] * scale)
    assert c["transacoes_fraudulentas"] == round(250 * scale)
    assert c["limites_transacoes"] == c["usuarios"]


def test_scale_2_doubles() -> None:
    one, two = plan_counts(1), plan_counts(2)
    assert all(two[k] == 2 * one[k] for k in one)


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, float("nan"), float("inf"), "1", None, True, 0.001, 5000])
def test_bad_scale_raises(bad: object) -> None:
    with pytest.raises(PixringError):
        plan_counts(bad)  # type: ignore[arg-type]


def test_seed_counts_constant_matches_schema() -> None:
    assert set(SEED_COUNTS) == set(FILES) == set(COLUMNS)
    assert not math.isnan(sum(SEED_COUNTS.values()))


def test_report_prints_counts_and_speed(small_run) -> None:  # type: ignore[no-untyped-def]
    _, report = small_run
    text = str(report)
    for name in FILES:
        assert name in text
    assert "fraudulent transactions: 25" in text
    assert "rings:" in text and "rows/s" in text
    assert report.counts == {k: plan_counts(0.1)[k] for k in FILES}
    assert report.n_fraud_tx == 25 and report.n_rings >= 1 and report.elapsed_s > 0

"""The shared scoring contract: which rules fire and what they decide (pure logic, no services)."""

from __future__ import annotations

import pytest

from gnn.serving import (
    REASON_FORWARDING,
    REASON_MODEL_BLOCK,
    REASON_MODEL_REVIEW,
    REASON_NIGHT_LIMIT,
    REASON_RING,
    REASON_VELOCITY,
    REASON_YOUNG_KEY,
    TX_DEFAULTS,
    decide,
    model_uri,
    rules,
)
from pixring.settings import ScoringSettings

SCORING = ScoringSettings(review_threshold=0.5, block_threshold=0.9, night_limit=1000, velocity_10min=5,
                          ring_member_min_score=0.5)


def tx(**features: float) -> dict[str, float]:
    return {**TX_DEFAULTS, "valor": 100.0, **features}


def test_a_plain_daytime_payment_fires_nothing_and_is_allowed() -> None:
    assert rules(tx(), SCORING) == []
    assert decide(0.1, [], SCORING) == ("allow", [])


def test_ring_rule_needs_the_candidate_and_the_accounts_own_score() -> None:
    assert REASON_RING in rules(tx(risco_anel_destino=0.95, score_destino=0.8), SCORING)
    # a victim or a busy new merchant inside a candidate: the GNN does not call the account a mule
    assert REASON_RING not in rules(tx(risco_anel_destino=0.95, score_destino=0.1), SCORING)
    # a mule-looking account outside any candidate: the model decides, the ring rule does not fire
    assert REASON_RING not in rules(tx(risco_anel_destino=0.0, score_destino=0.99), SCORING)
    assert REASON_RING not in rules(tx(risco_anel_destino=0.4, score_destino=0.99), SCORING)


def test_missing_features_fall_back_to_defaults() -> None:
    assert rules({"valor": 50.0, "score_destino": None, "idade_chave_destino_h": None}, SCORING) == []


@pytest.mark.parametrize(("features", "expected"), [
    (dict(noturna=1, valor=1500.0), [REASON_NIGHT_LIMIT]),
    (dict(noturna=1, valor=1000.0), []),
    (dict(noturna=0, valor=5000.0), []),
    (dict(recebidos_10min_destino=5), [REASON_VELOCITY]),
    (dict(recebidos_10min_destino=4), []),
    (dict(repasse_origem=1), [REASON_FORWARDING]),
    (dict(idade_chave_destino_h=3.0), [REASON_YOUNG_KEY]),
    (dict(idade_chave_destino_h=24.0), []),
    (dict(idade_chave_destino_h=-1.0), []),
])
def test_each_rule_alone(features: dict, expected: list[str]) -> None:
    assert rules(tx(**features), SCORING) == expected


def test_decisions() -> None:
    # the model alone
    assert decide(0.95, [], SCORING) == ("block", [REASON_MODEL_BLOCK])
    assert decide(0.6, [], SCORING) == ("review", [REASON_MODEL_REVIEW])
    # leaning to fraud into a ring's mule: block
    assert decide(0.6, [REASON_RING], SCORING) == ("block", [REASON_MODEL_REVIEW, REASON_RING])
    # rules that hold the money on their own
    assert decide(0.1, [REASON_RING], SCORING)[0] == "review"
    assert decide(0.1, [REASON_NIGHT_LIMIT], SCORING)[0] == "review"
    # rules that only add a reason: the model weighs them
    for reason in (REASON_FORWARDING, REASON_YOUNG_KEY, REASON_VELOCITY):
        assert decide(0.1, [reason], SCORING) == ("allow", [reason])


def test_model_uri() -> None:
    assert model_uri("pixring-mule-gnn") == "models:/pixring-mule-gnn@champion"
    assert model_uri("m", "challenger") == "models:/m@challenger"

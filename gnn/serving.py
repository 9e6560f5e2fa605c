"""What the registered model serves: the transaction-scoring contract shared by the stream and the API.

The model registered in MLflow as ``settings.mlflow.model_name`` is a pyfunc whose ``predict`` takes a
pandas DataFrame with exactly the columns :data:`TX_FEATURES` (one row per Pix transaction) and returns
the probability that the transaction pays a mule ring (one float per row). ``gnn train`` builds it from
the GNN's node scores plus the transaction's own features; ``streaming`` computes the same features
from Kafka with Spark state and ``api`` (``POST /v1/score``) computes them for one payload. Both then add
the Pix rules (:func:`rules`) and take a decision with :func:`decide`, so a transaction gets the same
answer inline and in the stream.

Feature names, order, defaults and rules are defined once in :mod:`pixring.features` (training, the stream
and the API all import them). Summary (all numeric, missing -> the documented default):

======================================  ==================================================================
``valor``                               amount in R$
``noturna``                             1 when the local time is in 20:00-06:00 (Pix night period), else 0
``score_origem`` / ``score_destino``    gold ``node_scores.score`` of the origin / destination *user*
                                        (the owner of the key), 0 when unknown
``risco_anel_destino``                  ``ring_candidates.risco`` of the destination user's ring, 0 if none
``idade_chave_destino_h``               age of the destination key at the transaction, hours; -1 unknown
``recebidos_10min_destino``             payments the destination key received in the 10 min before
``recebidos_1h_destino``                ... in the hour before
``remetentes_distintos_1h_destino``     distinct origin keys that paid the destination key in the hour before
``repasse_origem``                      1 when the origin key received >= 90 % of this amount within the
                                        60 min before (the origin is passing money on), else 0
======================================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pixring.features import TX_DEFAULTS, TX_FEATURES  # noqa: F401 - re-exported: the definitions live there
from pixring.settings import ScoringSettings


DECISIONS: Final[tuple[str, ...]] = ("allow", "review", "block")

#: Rule reasons (stable codes; the API and the alerts carry them).
REASON_MODEL_REVIEW: Final = "modelo_revisao"
REASON_MODEL_BLOCK: Final = "modelo_bloqueio"
REASON_NIGHT_LIMIT: Final = "limite_noturno"
REASON_VELOCITY: Final = "velocidade_destino"
REASON_RING: Final = "destino_em_anel"
REASON_FORWARDING: Final = "repasse_rapido"
REASON_YOUNG_KEY: Final = "chave_destino_jovem"


def rules(features: Mapping[str, float], scoring: ScoringSettings) -> list[str]:
    """The Pix rules that fire for one transaction's features (codes above, in a fixed order).

    ``destino_em_anel`` needs both signals: the destination user is in a ring candidate of risk >= 0.5 *and*
    the GNN scores that account at least ``scoring.ring_member_min_score``. A candidate's members include its
    victims and, now and then, a busy new merchant; payments to those are ordinary.
    """
    if TX_DEFAULTS.keys() <= features.keys() and None not in features.values():
        f = features  # complete (the stream's path): no copy
    else:
        f = {**TX_DEFAULTS, **{k: v for k, v in features.items() if v is not None}}
    reasons: list[str] = []
    if f["noturna"] >= 1 and f["valor"] > scoring.night_limit:
        reasons.append(REASON_NIGHT_LIMIT)
    if f["recebidos_10min_destino"] >= scoring.velocity_10min:
        reasons.append(REASON_VELOCITY)
    if f["risco_anel_destino"] >= 0.5 and f["score_destino"] >= scoring.ring_member_min_score:
        reasons.append(REASON_RING)
    if f["repasse_origem"] >= 1:
        reasons.append(REASON_FORWARDING)
    if 0 <= f["idade_chave_destino_h"] < 24:
        reasons.append(REASON_YOUNG_KEY)
    return reasons


def decide(score: float, reasons: list[str], scoring: ScoringSettings) -> tuple[str, list[str]]:
    """``(decision, reasons)`` for a model score and the rules that fired.

    block: the model is sure (``score >= block_threshold``), or it leans to fraud (``>= review``) and the
    destination is a known ring. review: the model leans to fraud, the destination is a ring's mule
    (:data:`REASON_RING`) or the Pix night limit is exceeded. Forwarding, a young key or velocity alone only
    add a reason: they are model features, and the model weighs them (forcing a review on forwarding alone
    held 0.5 % of legitimate traffic, mostly people paying on what they just received).
    """
    out = list(reasons)
    if score >= scoring.block_threshold:
        out.insert(0, REASON_MODEL_BLOCK)
        return "block", out
    if score >= scoring.review_threshold:
        out.insert(0, REASON_MODEL_REVIEW)
        return ("block" if REASON_RING in reasons else "review"), out
    if {REASON_RING, REASON_NIGHT_LIMIT} & set(reasons):
        return "review", out
    return "allow", out


def model_uri(model_name: str, alias: str = "champion") -> str:
    """``models:/<name>@<alias>``: what the stream and the API load."""
    return f"models:/{model_name}@{alias}"

"""The transaction features the model is trained on and served with: names, order, defaults and the rules.

One home for training (:mod:`gnn.features`, a pandas batch over silver), the stream
(:mod:`streaming.features`, per-key receipts in state) and inline scoring (:mod:`api.scoring`, the read
model). It imports no stage. For a transaction ``t`` at instant ``T`` paying destination key ``kd`` from
origin key ``ko``:

* ``valor``: the amount (R$).
* ``noturna``: 1 when ``T``'s *local* hour (:data:`pixring.contract.TIMEZONE`) is in the Pix night period
  (:func:`pixring.contract.is_night_hour`), else 0.
* ``score_origem`` / ``score_destino``: gold ``node_scores.score`` of the owner of ``ko`` / ``kd``; 0 unknown.
* ``risco_anel_destino``: the highest ``ring_candidates.risco`` among rings holding the destination user; 0.
* ``idade_chave_destino_h``: age of ``kd`` at ``T`` in hours, never below 0; -1 when unknown.
* ``recebidos_10min_destino`` / ``recebidos_1h_destino``: *other* transactions paying ``kd`` with instant in
  ``[T - 10 min, T)`` / ``[T - 60 min, T)``, **any status** (rejected attempts count: a ring probing a mule
  key is the signal).
* ``remetentes_distintos_1h_destino``: distinct origin keys among those of ``[T - 60 min, T)``.
* ``repasse_origem``: 1 when the amount ``ko`` *effectively* received (:func:`is_effective`: every status
  but ``rejeitada``) in ``[T - 60 min, T)`` is > 0 and >= 90 % of this amount, else 0.

Windows are half-open and strictly before ``T``: the transaction itself never counts, nor do ties at ``T``.
A *receipt* is ``(event seconds, id_transacao, origin key, valor, effective)``; :func:`window_features`
takes the receipts of ``kd`` and ``ko`` sorted by (seconds, id) and computes the four windowed features.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from pixring.contract import is_night_hour

TX_FEATURES: Final[tuple[str, ...]] = (
    "valor",
    "noturna",
    "score_origem",
    "score_destino",
    "risco_anel_destino",
    "idade_chave_destino_h",
    "recebidos_10min_destino",
    "recebidos_1h_destino",
    "remetentes_distintos_1h_destino",
    "repasse_origem",
)
#: Value used for a feature the caller could not compute.
TX_DEFAULTS: Final[dict[str, float]] = {name: 0.0 for name in TX_FEATURES} | {"idade_chave_destino_h": -1.0}
#: The windowed features (need the receipts of the keys); the others need only the transaction and gold.
WINDOWED: Final[tuple[str, ...]] = ("recebidos_10min_destino", "recebidos_1h_destino",
                                    "remetentes_distintos_1h_destino", "repasse_origem")

#: Window widths, seconds.
WINDOW_10MIN_S: Final[float] = 600.0
WINDOW_1H_S: Final[float] = 3600.0
#: ``repasse_origem``: the origin received at least this share of the amount within the hour before.
REPASSE_RATIO: Final[float] = 0.90
#: Tolerance of the ``repasse_origem`` comparison (sums of cents in floating point).
REPASSE_EPS: Final[float] = 1e-9
#: The status whose money did not arrive (not summed by ``repasse_origem``; still counted by the windows).
REJECTED: Final[str] = "rejeitada"

EPOCH: Final[datetime] = datetime(1970, 1, 1)

Receipt = tuple[float, str, str | None, float, bool]  # (event seconds, id, origin key, valor, effective)


def event_seconds(ts: datetime) -> float:
    """A naive timestamp as seconds since 1970-01-01 of the same clock (no time-zone arithmetic)."""
    return (ts - EPOCH).total_seconds()


def is_effective(status: str | None) -> bool:
    """Whether a transaction's money arrived (summed by ``repasse_origem``): every status but ``rejeitada``."""
    return status != REJECTED


def noturna(local_hour):
    """``noturna`` of a local hour (element-wise, like :func:`pixring.contract.is_night_hour`): 1.0 / 0.0."""
    night = is_night_hour(local_hour)
    return night.astype(float) if hasattr(night, "astype") else (1.0 if night else 0.0)


def key_age_hours(hours: float | None) -> float:
    """``idade_chave_destino_h`` from the key's age in hours (None: unknown -> -1; never below 0)."""
    if hours is None or hours != hours:
        return TX_DEFAULTS["idade_chave_destino_h"]
    return max(0.0, float(hours))


def repasse(received, valor):
    """``repasse_origem`` from the amount the origin effectively received in the hour (element-wise)."""
    return (received > 0) & (received >= REPASSE_RATIO * valor - REPASSE_EPS)


def static_features(local_hour: int, valor: float, score_origem: float | None, score_destino: float | None,
                    risco_anel_destino: float | None, idade_chave_h: float | None) -> dict[str, float]:
    """Every feature of :data:`TX_FEATURES` that needs no receipts; the windowed ones at their defaults."""
    out = dict(TX_DEFAULTS)
    out["valor"] = float(valor)
    out["noturna"] = noturna(local_hour)
    out["score_origem"] = float(score_origem or 0.0)
    out["score_destino"] = float(score_destino or 0.0)
    out["risco_anel_destino"] = float(risco_anel_destino or 0.0)
    out["idade_chave_destino_h"] = key_age_hours(idade_chave_h)
    return out


def window_features(t: float, valor: float, destino: Sequence[Receipt] | None,
                    origem: Sequence[Receipt] | None) -> dict[str, float]:
    """The four windowed features of a transaction at ``t`` (event seconds) of amount ``valor``.

    ``destino`` / ``origem``: the receipts of the destination / origin key, sorted by (seconds, id); only
    those strictly before ``t`` count, so the transaction's own receipt may be in the list.
    """
    out = {name: 0.0 for name in WINDOWED}
    if destino:
        hi = bisect.bisect_left(destino, (t,))
        lo1 = bisect.bisect_left(destino, (t - WINDOW_1H_S,))
        lo10 = bisect.bisect_left(destino, (t - WINDOW_10MIN_S,))
        out["recebidos_10min_destino"] = float(max(0, hi - lo10))
        out["recebidos_1h_destino"] = float(max(0, hi - lo1))
        out["remetentes_distintos_1h_destino"] = float(len({r[2] for r in destino[lo1:hi]}))
    if origem:
        hi = bisect.bisect_left(origem, (t,))
        lo = bisect.bisect_left(origem, (t - WINDOW_1H_S,))
        received = sum(r[3] for r in origem[lo:hi] if r[4])
        out["repasse_origem"] = 1.0 if repasse(received, float(valor)) else 0.0
    return out

"""Quality measures shared by training (bank view: later confirmed cases) and evaluation (datagen truth)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def pr_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision (area under the PR curve); 0 when there is no positive."""
    y = np.asarray(y)
    return float(average_precision_score(y, s)) if y.sum() > 0 else 0.0


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    y = np.asarray(y)
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else 0.5


def threshold_at_precision(y: np.ndarray, s: np.ndarray, precision: float) -> tuple[float, float]:
    """``(threshold, recall)``: the lowest threshold whose precision is >= ``precision`` (max recall there).

    ``(inf, 0.0)`` when no threshold reaches it.
    """
    y = np.asarray(y)
    if y.sum() == 0:
        return float("inf"), 0.0
    p, r, t = precision_recall_curve(y, s)
    ok = np.flatnonzero(p[:-1] >= precision)
    if len(ok) == 0:
        return float("inf"), 0.0
    best = ok[np.argmax(r[ok])]
    return float(t[best]), float(r[best])


def recall_at_precision(y: np.ndarray, s: np.ndarray, precision: float = 0.9) -> float:
    return threshold_at_precision(y, s, precision)[1]


def ring_recall(flagged: set[str], rings: Mapping[str, set[str]], share: float = 0.5) -> tuple[float, int]:
    """Share of rings with at least ``share`` of their mules flagged; ``(recall, rings recalled)``."""
    if not rings:
        return 0.0, 0
    hits = sum(len(m & flagged) >= share * len(m) for m in rings.values() if m)
    return hits / len(rings), hits


def summary(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """PR-AUC, ROC-AUC and recall at precision 0.9 / 0.8."""
    return {"pr_auc": pr_auc(y, s), "roc_auc": roc_auc(y, s),
            "recall_at_p90": recall_at_precision(y, s, 0.9), "recall_at_p80": recall_at_precision(y, s, 0.8)}

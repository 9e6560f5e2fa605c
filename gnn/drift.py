"""Feature and score drift: the population stability index (PSI) of live traffic against the training data.

``gnn train`` stores a :data:`Reference` with the registered model (``reference.json``): for each of
:data:`gnn.serving.TX_FEATURES` and for the model's score, the bin edges (deciles of the training
transactions, ties merged, so a 0/1 feature has two bins) and the share of training rows in each bin. The
streaming scorer keeps a window of the latest scored transactions (:class:`DriftWindow`) and exports
``pixring_feature_psi{feature}`` and ``pixring_score_psi`` from it.

``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over the bins, with ``e`` the training shares and ``a`` the live
shares (both floored at :data:`EPS` so an empty bin counts as rare, not infinite). Usual reading: < 0.1
stable, 0.1-0.25 moderate shift, > 0.25 significant (the ``PixringFeatureDrift`` alert).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gnn.serving import TX_FEATURES

#: floor of a bin's share (empty bins)
EPS = 1e-4
BINS = 10
SCORE = "score"
#: ``{"features": {name: {"edges": [...], "expected": [...]}}, "score": {...}, "rows": n}``
Reference = dict[str, Any]


def bin_spec(values: np.ndarray, bins: int = BINS) -> dict[str, list[float]]:
    """Interior bin edges from the quantiles of ``values`` (duplicates merged) and each bin's share.

    Bin ``i`` holds ``edges[i-1] < x <= edges[i]`` (``searchsorted(edges, x, 'left')``), the first bin
    everything up to ``edges[0]``, the last everything above ``edges[-1]``.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"edges": [], "expected": [1.0]}
    qs = np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf")  # observed values
    edges = np.unique(qs)
    counts = np.bincount(np.searchsorted(edges, v, side="left"), minlength=len(edges) + 1)
    return {"edges": [float(e) for e in edges], "expected": [float(c) / len(v) for c in counts]}


def shares(spec: Mapping[str, Sequence[float]], values: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin of ``spec``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    edges = np.asarray(spec["edges"], dtype=float)
    counts = np.bincount(np.searchsorted(edges, v, side="left"), minlength=len(edges) + 1).astype(float)
    return counts / max(len(v), 1)


def psi(spec: Mapping[str, Sequence[float]], values: np.ndarray) -> float:
    """PSI of ``values`` against a :func:`bin_spec`; NaN when there are no values."""
    if len(values) == 0:
        return math.nan
    e = np.maximum(np.asarray(spec["expected"], dtype=float), EPS)
    a = np.maximum(shares(spec, values), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def reference_from(features: pd.DataFrame, scores: np.ndarray, bins: int = BINS) -> Reference:
    """The reference of a training set: ``features`` has the :data:`TX_FEATURES` columns, ``scores`` the
    model's probabilities on the same rows."""
    return {
        "features": {c: bin_spec(features[c].to_numpy(dtype=float), bins) for c in TX_FEATURES if c in features},
        SCORE: bin_spec(np.asarray(scores, dtype=float), bins),
        "rows": int(len(features)),
    }


def drift(reference: Reference, features: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
    """``{feature: psi, ..., "score": psi}`` of a live sample against ``reference``."""
    out = {c: psi(spec, features[c].to_numpy(dtype=float))
           for c, spec in reference.get("features", {}).items() if c in features}
    if SCORE in reference:
        out[SCORE] = psi(reference[SCORE], np.asarray(scores, dtype=float))
    return out


class DriftWindow:
    """The latest ``size`` scored transactions (features and score), for PSI against a reference."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._chunks: collections.deque[tuple[pd.DataFrame, np.ndarray]] = collections.deque()
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def add(self, features: pd.DataFrame, scores: np.ndarray) -> None:
        if len(features) == 0:
            return
        self._chunks.append((features.reset_index(drop=True), np.asarray(scores, dtype=float)))
        self._rows += len(features)
        while self._chunks and self._rows - len(self._chunks[0][0]) >= self.size:
            self._rows -= len(self._chunks.popleft()[0])

    def psi(self, reference: Reference, min_rows: int = 500) -> dict[str, float]:
        """PSI per feature and of the score over the window; empty until ``min_rows`` rows were seen."""
        if self._rows < min_rows or not reference:
            return {}
        feats = pd.concat([f for f, _ in self._chunks], ignore_index=True).tail(self.size)
        scores = np.concatenate([s for _, s in self._chunks])[-self.size:]
        return drift(reference, feats, scores)

"""Baselines scored on the same users and split as the GNN: Pix rules, gradient boosting, graph ring candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from gnn.data import USER, GraphBundle
from gnn.features import tx_features
from gnn.serving import rules
from pixring.settings import ScoringSettings


def rules_scores(bundle: GraphBundle, tx: pd.DataFrame, scoring: ScoringSettings) -> np.ndarray:
    """Per user: the Pix rules that fired on the payments it received (no model, no ring knowledge).

    Score = the most rules fired on one received payment + 0.1 x the share of its received payments that fired
    any rule (ties broken by how often).
    """
    feats = tx_features(tx)
    feats["risco_anel_destino"] = 0.0
    fired = np.array([len(rules(r, scoring)) for r in feats.to_dict("records")], dtype=float)
    df = pd.DataFrame({"u": tx["id_usuario_destino"].to_numpy(), "fired": fired})
    g = df.dropna(subset=["u"]).groupby("u")["fired"].agg(["max", lambda s: float((s > 0).mean())])
    g.columns = ["max", "share"]
    score = (g["max"] + 0.1 * g["share"]).reindex(bundle.ids[USER]).fillna(0.0)
    return score.to_numpy(dtype=float)


def gbm_scores(bundle: GraphBundle, y_train: np.ndarray, seed: int, x: np.ndarray | None = None) -> np.ndarray:
    """scikit-learn gradient boosting on the users' gold tabular features (graph_features + features_usuario),
    or on ``x`` (``[N_users, F]``, e.g. those plus :mod:`gnn.gfp`'s) when given."""
    x = bundle.raw[USER].to_numpy(dtype=float) if x is None else x
    pos = max(float(y_train.sum()), 1.0)
    w = np.where(y_train > 0, (len(y_train) - pos) / pos, 1.0)
    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                         l2_regularization=1.0, random_state=seed)
    clf.fit(x, y_train, sample_weight=w)
    return clf.predict_proba(x)[:, 1]


def ring_candidate_scores(bundle: GraphBundle, ring_candidates: pd.DataFrame) -> np.ndarray:
    """The graph's own verdict: a user in a candidate's ``nucleo`` scores its ring risk, a plain member half."""
    score = pd.Series(0.0, index=bundle.ids[USER])
    for r in ring_candidates.itertuples():
        risk = float(r.risco)
        members = [m for m in (r.membros if r.membros is not None else []) if m in score.index]
        nucleo = [m for m in (r.nucleo if r.nucleo is not None else []) if m in score.index]
        score.loc[members] = np.maximum(score.loc[members].to_numpy(), 0.5 * risk)
        score.loc[nucleo] = np.maximum(score.loc[nucleo].to_numpy(), risk)
    return score.to_numpy(dtype=float)

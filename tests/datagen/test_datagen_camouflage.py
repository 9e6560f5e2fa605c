"""Camouflage: no single feature separates mules at ``normal``; graph structure still does; the
difficulty knob moves the separation in the right direction."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from datagen.baseline import separation, user_features
from datagen.generator import generate

SCALE = 0.5  # ~40 mules: enough for a stable AUC, ~3 s to generate


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("camouflage")
    out = {}
    for difficulty in ("normal", "easy"):
        generate(base / difficulty, scale=SCALE, seed=2024, difficulty=difficulty)
        out[difficulty] = user_features(base / difficulty)
    return out


@pytest.mark.parametrize("feature", ["account_age_days", "in_degree", "distinct_senders", "out_degree",
                                     "n_keys", "limite_por_transacao"])
def test_single_feature_does_not_separate_mules_at_normal(features: dict[str, pd.DataFrame],
                                                          feature: str) -> None:
    f = features["normal"]
    y = f["mule"].to_numpy()
    assert y.sum() >= 20
    x = f[feature].to_numpy(dtype=float)
    # oriented the way an analyst would (younger / busier = more suspicious), computed with sklearn
    oriented = -x if feature == "account_age_days" else x
    auc = roc_auc_score(y, np.nan_to_num(oriented, nan=float(np.nanmedian(oriented))))
    assert auc < 0.85, f"{feature}: AUC {auc:.3f}"
    assert separation(y, x) < 0.85


def test_structure_still_separates(features: dict[str, pd.DataFrame]) -> None:
    """Fast pass-through and shared devices - graph/temporal evidence - carry signal."""
    f = features["normal"]
    y = f["mule"].to_numpy()
    combined = f["passthrough_2h"].fillna(0) + f["shares_device"] + (f["in_degree"] > 0)
    assert roc_auc_score(y, combined) > 0.85
    assert f.loc[f["mule"] == 1, "passthrough_2h"].mean() > 3 * f.loc[f["mule"] == 0, "passthrough_2h"].mean()


def test_difficulty_moves_account_age_separation(features: dict[str, pd.DataFrame]) -> None:
    def sep(d: str) -> float:
        f = features[d]
        return separation(f["mule"].to_numpy(), f["account_age_days"].to_numpy())

    assert sep("easy") > sep("normal") + 0.05
    assert sep("easy") > 0.85  # easy really is easy

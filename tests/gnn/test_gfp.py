"""Graph-Feature-Preprocessor-style features (gnn/gfp.py) on tiny hand-built payment graphs, values by hand;
and the protocol's optional ``gbm_gfp`` scorer beside the default GBM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn.gfp import GFP_COLUMNS, edge_features, gfp_features, window_counts
from gnn.protocol import SCORERS, run_protocol
from gnn.structure import user_flows
from gnn.train import TrainConfig
from pixring.settings import Settings
from tests.gnn.test_protocol import _truth
from tests.gnn.test_structure import txs

#: a -> m, b -> m (gather), m -> c, m -> d (scatter), a -> x a day later
ROWS = [("a", "m", 0, 10), ("b", "m", 1, 10), ("m", "c", 2, 9), ("m", "d", 3, 9), ("a", "x", 30, 5)]
USERS = ["a", "b", "m", "c", "d", "x", "z"]


@pytest.fixture(scope="module")
def f() -> pd.DataFrame:
    return gfp_features(txs(ROWS), pd.Index(USERS))


def test_window_counts_are_per_node_over_the_half_open_past_window() -> None:
    node = np.array([0, 0, 0, 1])
    t = np.array([0, 10, 20, 10])
    # node 0 at 20 with W=10: events in (10, 20] -> only t=20; with W=11: (9, 20] -> 10 and 20
    assert window_counts(node, t, np.array([0, 0, 1, 1]), np.array([20, 20, 10, 9]), 10).tolist() == [1, 1, 1, 0]
    assert window_counts(node, t, np.array([0]), np.array([20]), 11).tolist() == [2]
    assert window_counts(node, t, np.array([2]), np.array([20]), 100).tolist() == [0], "a node without events"


def test_edge_features_count_both_endpoints_at_the_payment_time() -> None:
    e = edge_features(user_flows(txs(ROWS)), (24,))
    # flows sorted by time: a->m@0, b->m@1, m->c@2, m->d@3, a->x@30
    assert e["src_out_24h"].tolist() == [1, 1, 1, 2, 1]  # a's second payment is 30 h after its first
    assert e["dst_in_24h"].tolist() == [1, 2, 1, 1, 1]
    assert e["src_in_24h"].tolist() == [0, 0, 2, 2, 0]  # m had received twice before paying c and d
    assert e["dst_out_24h"].tolist() == [0, 0, 0, 0, 0]  # no receiver had paid anyone before


def test_counterparty_activity_aggregated_per_user(f) -> None:
    assert list(f.columns) == list(GFP_COLUMNS)
    assert f.loc["m", "gfp_entrada_max_24h"] == 2 and f.loc["m", "gfp_saida_max_24h"] == 2
    # d was paid by m when m had made 2 payments in the day; c when m had made 1
    assert f.loc["d", "gfp_pagador_saida_max_24h"] == 2 and f.loc["c", "gfp_pagador_saida_max_24h"] == 1
    # c and d were paid by an account that had just received twice (a chain)
    assert f.loc["c", "gfp_pagador_entrada_mean_24h"] == 2 and f.loc["d", "gfp_pagador_entrada_max_24h"] == 2
    # b paid m after a did: m had received 2 by then; a paid m (1) and x (1)
    assert f.loc["b", "gfp_recebedor_entrada_max_24h"] == 2 and f.loc["a", "gfp_recebedor_entrada_mean_24h"] == 1


def test_the_two_week_window_sees_what_the_day_does_not(f) -> None:
    assert f.loc["a", "gfp_saida_max_24h"] == 1 and f.loc["a", "gfp_saida_max_336h"] == 2
    assert f.loc["x", "gfp_pagador_saida_max_24h"] == 1 and f.loc["x", "gfp_pagador_saida_max_336h"] == 2


def test_all_time_fan_of_the_counterparties(f) -> None:
    # m's payers: a (2 distinct receivers: m, x) and b (1)
    assert f.loc["m", "gfp_pagador_fan_out_mean"] == pytest.approx(1.5)
    assert f.loc["m", "gfp_pagador_fan_out_max"] == 2
    # a's receivers: m (2 distinct payers) and x (1)
    assert f.loc["a", "gfp_recebedor_fan_in_mean"] == pytest.approx(1.5)
    assert f.loc["a", "gfp_recebedor_fan_in_max"] == 2


def test_users_without_payments_and_rejected_payments_count_nothing() -> None:
    out = gfp_features(txs(ROWS, status=["efetivada"] * 4 + ["rejeitada"]), pd.Index(USERS))
    assert (out.loc["z"] == 0).all()
    assert (out.loc["x"] == 0).all(), "x's only payment was rejected"
    assert out.loc["a", "gfp_saida_max_336h"] == 1
    empty = gfp_features(txs([]), pd.Index(["a"]))
    assert empty.shape == (1, len(GFP_COLUMNS)) and (empty.to_numpy() == 0).all()


def test_protocol_reports_gbm_gfp_beside_the_gbm_only_when_asked(world) -> None:
    settings, cfg = Settings(), TrainConfig(epochs=1, seed=3)
    both = run_protocol(world.frames, _truth(world), cfg, settings, scorers=("gbm", "gbm_gfp"))
    assert both.scorers() == (*SCORERS, "gbm_gfp")
    assert all("gbm_gfp" in r.ap for r in both.rows)
    assert "gbm_gfp AP / recall" in both.table() and "loto_gbm_gfp_worst_ap" in both.summary()
    assert all(r.ap["gbm_gfp"] >= 0.5 for r in both.rows), [r.ap for r in both.rows]
    plain = run_protocol(world.frames, _truth(world), cfg, settings, scorers=("gbm",))
    assert plain.scorers() == SCORERS and "gbm_gfp" not in plain.table()
    assert [r.ap["gbm"] for r in plain.rows] == [r.ap["gbm"] for r in both.rows], "the default GBM is unchanged"


def test_build_graph_adds_the_gfp_columns_only_when_asked_and_as_the_scaler_was_fitted(world) -> None:
    import torch

    from gnn.data import USER, build_graph

    plain, plain_scaler = build_graph(world.frames)
    assert not any(c.startswith("gfp_") for c in plain.raw[USER].columns)
    rich, scaler = build_graph(world.frames, gfp=True)
    assert [c for c in rich.raw[USER].columns if c.startswith("gfp_")] == list(GFP_COLUMNS)
    assert rich.data[USER].x.size(1) == plain.data[USER].x.size(1) + len(GFP_COLUMNS)
    assert rich.raw[USER]["gfp_entrada_max_336h"].max() > 0, "the world's mules receive payments"
    again, _ = build_graph(world.frames, scaler)  # a checkpoint fitted with them computes them again
    assert torch.equal(again.data[USER].x, rich.data[USER].x)
    assert build_graph(world.frames, plain_scaler)[0].data[USER].x.size(1) == plain.data[USER].x.size(1)

"""Gold/silver Delta tables of a tiny world -> pandas -> HeteroData, and the time split of the labels."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from gnn.data import DEVICE, KEY, USER, build_graph, make_split, mule_labels, read_frames
from tests.gnn.world import write_delta

pytestmark = pytest.mark.spark


def test_gold_to_heterodata(spark, gnn_settings, world) -> None:
    write_delta(spark, gnn_settings, world.frames)
    frames = read_frames(spark, gnn_settings)
    assert frames.graph_edges["valor_total"].dropna().map(type).eq(float).all()  # Decimal(18,2) -> double
    bundle, scaler = build_graph(frames)
    d = bundle.data
    v = world.frames.graph_vertices
    for t in (USER, KEY, DEVICE):
        assert d[t].num_nodes == int((v["tipo"] == t).sum())
        assert d[t].x.shape[1] == len(scaler.columns[t]) and torch.isfinite(d[t].x).all()
    e = world.frames.graph_edges
    for rel, (st, dt) in (("PAGOU", (KEY, KEY)), ("TRANSFERIU", (USER, USER)), ("POSSUI", (USER, KEY)), ("USA", (USER, DEVICE))):
        n = int((e["tipo"] == rel).sum())
        assert d[st, rel, dt].edge_index.shape == (2, n) and d[st, rel, dt].edge_attr.shape == (n, 4)
        assert d[dt, f"rev_{rel}", st].edge_index.shape == (2, n)
    # one edge checked end to end: a mule's transfer to its collector
    m, c = world.rings[0][0], world.rings[0][2]
    ei = d[USER, "TRANSFERIU", USER].edge_index
    pos = bundle.index_of(USER, [m, c])
    assert ((ei[0] == int(pos[0])) & (ei[1] == int(pos[1]))).sum() == 1
    # labels: confirmed cases only, split in time
    split = make_split(frames, bundle, 0.7)
    labels = mule_labels(frames)
    assert set(labels["id_usuario"]) <= {u for r in world.rings.values() for u in r}
    assert split.n_train_pos + split.n_test_pos == len(labels)
    first = pd.to_datetime(labels["detectado_em"])
    assert split.n_train_pos == int((first < split.cut).sum())
    assert not bool((split.y_train.bool() & split.test_mask).any())

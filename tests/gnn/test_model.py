"""The model on tiny graphs: shapes, a forward pass, learning a planted ring, the mini-batch sampler."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from gnn.data import USER, build_graph, make_split
from gnn.model import EdgeSAGEConv, HeteroSAGE
from gnn.sampling import NeighbourSampler
from gnn.train import (Checkpoint, TrainConfig, build_model, evaluate, ring_peer_mask, set_seed, train,
                       train_minibatch)


def _tiny() -> HeteroData:
    d = HeteroData()
    d["usuario"].x = torch.randn(5, 3)
    d["chave"].x = torch.randn(4, 2)
    d["usuario", "POSSUI", "chave"].edge_index = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]])
    d["usuario", "POSSUI", "chave"].edge_attr = torch.randn(4, 4)
    d["chave", "rev_POSSUI", "usuario"].edge_index = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]])
    d["chave", "rev_POSSUI", "usuario"].edge_attr = torch.randn(4, 4)
    d["usuario", "TRANSFERIU", "usuario"].edge_index = torch.tensor([[0, 1, 4], [1, 2, 2]])
    d["usuario", "TRANSFERIU", "usuario"].edge_attr = torch.randn(3, 4)
    return d


def test_shapes_and_forward() -> None:
    set_seed(0, 1)
    d = _tiny()
    m = HeteroSAGE({"usuario": 3, "chave": 2}, list(d.edge_types), edge_dim=4, hidden=8, num_layers=2)
    logits, emb = m(d.x_dict, d.edge_index_dict, d.edge_attr_dict)
    assert logits.shape == (5,) and emb["usuario"].shape == (5, 8) and emb["chave"].shape == (4, 8)
    assert torch.isfinite(logits).all()
    conv = EdgeSAGEConv(3, 3, 6, edge_dim=4)
    out = conv(d["usuario"].x, d["usuario", "TRANSFERIU", "usuario"].edge_index,
               d["usuario", "TRANSFERIU", "usuario"].edge_attr)
    assert out.shape == (5, 6)
    # a zero edge mask removes the messages: user 2 then only sees itself
    zero = conv(d["usuario"].x, d["usuario", "TRANSFERIU", "usuario"].edge_index,
                d["usuario", "TRANSFERIU", "usuario"].edge_attr, torch.zeros(3))
    assert not torch.allclose(out[2], zero[2])
    before = [p.clone() for p in m.parameters()]
    m.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_learns_a_planted_ring(world) -> None:
    cfg = TrainConfig(epochs=40, hidden=32, threads=1)
    set_seed(cfg.seed, cfg.threads)
    bundle, _ = build_graph(world.frames)
    split = make_split(world.frames, bundle, cfg.cut_quantile)
    assert split.n_train_pos > 0 and split.n_test_pos > 0
    model = build_model(bundle.data, cfg)
    losses = train(model, bundle.data, split.y_train, cfg)
    assert losses[-1] < 0.5 * losses[0]
    scores, emb = evaluate(model, bundle.data)
    assert emb[USER].shape == (len(bundle.ids[USER]), 32)
    s = dict(zip(bundle.ids[USER], scores))
    mules = [u for r in world.rings.values() for u in r[:2]]
    ordinary = np.array([s[u] for u in world.ordinary])
    assert np.mean([s[u] for u in mules]) > np.quantile(ordinary, 0.95)
    # a ring no confirmed case ever touched still ranks above most ordinary customers
    never = world.rings[max(world.rings)][:2]
    assert np.mean([s[u] for u in never]) > np.median(ordinary)


def test_neighbour_sampler_without_pyg_lib(world) -> None:
    bundle, _ = build_graph(world.frames)
    d = bundle.data
    sampler = NeighbourSampler(d, [3, 2], batch_size=16, seed=1)
    batch = sampler.sample(torch.arange(16))
    assert batch.batch_size == 16 and torch.equal(batch[USER].n_id[:16], torch.arange(16))
    for et in batch.edge_types:
        ei = batch[et].edge_index
        assert ei.size(1) == batch[et].edge_attr.size(0)
        if ei.numel():
            assert int(ei[0].max()) < batch[et[0]].num_nodes and int(ei[1].max()) < batch[et[2]].num_nodes
    # fanout bounds the in-degree of the seeds at the first hop
    tr = batch[USER, "TRANSFERIU", USER].edge_index
    seeds_in = tr[1][tr[1] < 16]
    assert (torch.bincount(seeds_in, minlength=16) <= 3).all()
    # full fanout: the seed's exact 2-hop computation graph gives the same score as the full graph
    cfg = TrainConfig(epochs=1, hidden=16, threads=1, dropout=0.0)
    set_seed(0, 1)
    model = build_model(d, cfg)
    full, _ = evaluate(model, d)
    exact = NeighbourSampler(d, [-1, -1], batch_size=1, shuffle=False).sample(torch.tensor([5]))
    sub, _ = evaluate(model, exact)
    assert abs(float(sub[0]) - float(full[5])) < 1e-5
    assert len(list(sampler)) == len(sampler)
    split = make_split(world.frames, bundle, 0.7)
    losses = train_minibatch(build_model(d, cfg), d, split.y_train,
                             TrainConfig(epochs=15, hidden=16, threads=1, batch_size=32, fanouts=(5, 5)))
    assert losses[-1] < losses[0]


def test_input_dropout_only_while_training() -> None:
    set_seed(0, 1)
    d = _tiny()
    m = HeteroSAGE({"usuario": 3, "chave": 2}, list(d.edge_types), edge_dim=4, hidden=8, dropout=0.0,
                   input_dropout=0.5)
    m.eval()
    a, _ = m(d.x_dict, d.edge_index_dict, d.edge_attr_dict)
    b, _ = m(d.x_dict, d.edge_index_dict, d.edge_attr_dict)
    assert torch.equal(a, b)
    m.train()
    c, _ = m(d.x_dict, d.edge_index_dict, d.edge_attr_dict)
    assert not torch.allclose(a, c)


def test_checkpoint_round_trip_keeps_the_input_dropout(world) -> None:
    from dataclasses import asdict

    bundle, scaler = build_graph(world.frames)
    split = make_split(world.frames, bundle, 0.7)
    cfg = TrainConfig(epochs=5, hidden=8, threads=1, input_dropout=0.25)
    set_seed(cfg.seed, cfg.threads)
    d = bundle.data
    model = build_model(d, cfg)
    train(model, d, split.y_train, cfg)
    scores, _ = evaluate(model, d)
    ckpt = Checkpoint(state_dict=model.state_dict(), config=asdict(cfg), scaler=scaler.as_dict(), threshold=0.5,
                      in_dims={t: int(d[t].x.size(1)) for t in d.node_types}, edge_types=list(d.edge_types),
                      edge_dim=4)
    loaded = ckpt.model()
    assert loaded.input_dropout == 0.25 and not loaded.training
    again, _ = evaluate(loaded, d)
    assert np.allclose(scores, again)


def test_ring_peers_of_training_positives_are_left_out_of_the_loss(world) -> None:
    import pandas as pd

    bundle, _ = build_graph(world.frames)
    ids = list(bundle.ids[USER])
    y = torch.zeros(len(ids))
    y[0] = 1.0
    rc = pd.DataFrame({"id_anel": ["A", "B"], "membros": [[ids[0], ids[1], ids[2]], [ids[3], ids[4]]],
                       "nucleo": [[ids[0]], [ids[3]]], "risco": [0.9, 0.9]})
    keep = ring_peer_mask(bundle, rc, y)
    # the positive stays; its candidate's unlabelled members go; a candidate with no positive is untouched
    assert keep[0] and not keep[1] and not keep[2] and keep[3] and keep[4]
    assert int((~keep).sum()) == 2


def test_train_command_options_override_only_what_is_given() -> None:
    from gnn.cli import train_config
    from pixring.cli import build_parser

    args = build_parser().parse_args(["gnn", "train", "--input-dropout", "0.2", "--ring-peers", "negative",
                                      "--epochs", "7"])
    cfg = train_config(args)
    assert (cfg.input_dropout, cfg.ring_peers, cfg.epochs) == (0.2, "negative", 7)
    assert cfg.hidden == TrainConfig.hidden and cfg.seed == TrainConfig.seed and not cfg.minibatch

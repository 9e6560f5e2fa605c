"""Invariants of the temporal flow-structure features on tiny hand-built payment graphs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gnn.structure import STRUCTURE_COLUMNS, structure_features, temporal_cycles, user_flows

T0 = pd.Timestamp("2026-03-01 10:00")


def txs(rows: list[tuple[str, str, float, float]], status: list[str] | None = None) -> pd.DataFrame:
    """``(payer, payee, hours after T0, value)`` rows as silver transacoes_pix columns."""
    df = pd.DataFrame({
        "id_transacao": [f"t{i}" for i in range(len(rows))],
        "id_usuario_origem": [r[0] for r in rows], "id_usuario_destino": [r[1] for r in rows],
        "timestamp": [T0 + pd.Timedelta(hours=r[2]) for r in rows], "valor": [r[3] for r in rows],
    })
    df["status"] = status or ["efetivada"] * len(rows)
    return df


def feats(rows, users, status=None) -> pd.DataFrame:
    return structure_features(txs(rows, status), pd.Index(users))


def test_three_cycle_with_increasing_times_is_found():
    f = feats([("a", "b", 0, 100), ("b", "c", 1, 95), ("c", "a", 2, 90), ("d", "a", 3, 5)], ["a", "b", "c", "d"])
    assert list(f["ciclos_t_24h"]) == [1, 1, 1, 0]
    assert f.loc["a", "ciclos_t_conserv_24h"] == pytest.approx(0.9)
    assert f.loc["d", "ciclos_t_conserv_24h"] == 0


def test_three_cycle_with_decreasing_times_is_not_a_cycle():
    f = feats([("a", "b", 2, 100), ("b", "c", 1, 95), ("c", "a", 0, 90)], ["a", "b", "c"])
    assert (f["ciclos_t_24h"] == 0).all() and (f["ciclos_t_336h"] == 0).all()


def test_cycle_longer_than_the_window_is_seen_only_by_the_wider_window():
    # a 4-cycle whose hops take three days each: no cycle in a day, one in two weeks
    f = feats([("a", "b", 0, 50), ("b", "c", 72, 50), ("c", "d", 144, 50), ("d", "a", 216, 50)], ["a", "b", "c", "d"])
    assert (f["ciclos_t_24h"] == 0).all()
    assert (f["ciclos_t_336h"] == 1).all()


def test_cycles_longer_than_the_limit_are_not_counted():
    n = 8
    rows = [(f"u{i}", f"u{(i + 1) % n}", i, 10) for i in range(n)]
    f = feats(rows, [f"u{i}" for i in range(n)])
    assert (f["ciclos_t_24h"] == 0).all()
    n_cyc, _ = temporal_cycles(user_flows(txs(rows)), 24 * 3600, max_len=8)
    assert len(n_cyc) == n and (n_cyc == 1).all()


def test_each_cycle_is_counted_once_and_rejected_payments_move_no_money():
    rows = [("a", "b", 0, 10), ("b", "a", 1, 10), ("a", "b", 2, 10)]
    # two distinct 2-cycles in time: (a->b@0, b->a@1) and (b->a@1, a->b@2)
    f = feats(rows, ["a", "b"])
    assert list(f["ciclos_t_24h"]) == [2, 2]
    f = feats(rows, ["a", "b"], status=["efetivada", "rejeitada", "efetivada"])
    assert list(f["ciclos_t_24h"]) == [0, 0]


def test_forward_within_the_window_and_coverage():
    # m receives 100 from a, forwards 80 to b an hour later; x pays y with nothing received before
    f = feats([("a", "m", 0, 100), ("m", "b", 1, 80), ("x", "y", 1, 30), ("m", "c", 48, 20)],
              ["a", "m", "b", "x", "y", "c"])
    assert f.loc["m", "fwd_remetentes_24h"] == 1 and f.loc["m", "fwd_destinos_24h"] == 1
    assert f.loc["m", "fwd_destinos_336h"] == 2  # the payment to c two days later counts in two weeks only
    assert f.loc["m", "fwd_cobertura_24h"] == pytest.approx(80 / 100)  # 80 covered, the 20 two days later not
    assert f.loc["m", "fwd_cobertura_336h"] == pytest.approx(1.0)
    assert f.loc["x", "fwd_cobertura_24h"] == 0 and f.loc["x", "fwd_remetentes_24h"] == 0
    # a forward needs the outgoing payment after the incoming one: b's money never leaves
    assert f.loc["b", "fwd_destinos_336h"] == 0
    assert f.loc["m", "atraso_repasse_log_h"] == pytest.approx(np.median([np.log1p(1.0), np.log1p(48.0)]))
    assert f.loc["x", "atraso_repasse_log_h"] == pytest.approx(np.log1p(336.0))


def test_scatter_gather_counts_source_intermediaries_and_sink():
    rows = [("s", "m1", 0, 50), ("s", "m2", 0.5, 50), ("s", "m3", 0.2, 50),
            ("m1", "g", 2, 49), ("m2", "g", 3, 49), ("m3", "g", 4, 49), ("m3", "z", 5, 1)]
    f = feats(rows, ["s", "m1", "m2", "m3", "g", "z"])
    assert f.loc["s", "sg_origem_24h"] == 1 and f.loc["g", "sg_destino_24h"] == 1
    assert list(f.loc[["m1", "m2", "m3"], "sg_intermediario_24h"]) == [1, 1, 1]
    assert f.loc["z", "sg_destino_24h"] == 0  # one intermediary is a chain, not a scatter-gather


def test_one_intermediary_is_not_scatter_gather_and_empty_input_gives_zeros():
    f = feats([("s", "m", 0, 50), ("m", "g", 1, 50)], ["s", "m", "g"])
    assert (f[[c for c in STRUCTURE_COLUMNS if c.startswith("sg_")]] == 0).all().all()
    empty = structure_features(txs([]), pd.Index(["a"]))
    assert list(empty.columns) == list(STRUCTURE_COLUMNS)
    assert empty.loc["a", "ciclos_t_24h"] == 0


def test_pass_through_ratio_is_near_zero_for_a_pass_through_account():
    f = feats([("a", "m", 0, 100), ("m", "b", 1, 100), ("c", "d", 0, 100)], ["m", "c", "d"])
    assert f.loc["m", "razao_saida_entrada_log"] == pytest.approx(0.0)
    assert f.loc["c", "razao_saida_entrada_log"] > 4 and f.loc["d", "razao_saida_entrada_log"] < -4


def test_build_graph_adds_the_structure_columns_only_when_asked_and_as_the_scaler_was_fitted(world):
    from gnn.data import USER, build_graph

    plain, plain_scaler = build_graph(world.frames)
    assert not any(c.startswith("s_") for c in plain.raw[USER].columns)
    rich, scaler = build_graph(world.frames, structure=True)
    assert [c for c in rich.raw[USER].columns if c.startswith("s_")] == [f"s_{c}" for c in STRUCTURE_COLUMNS]
    assert rich.data[USER].x.size(1) == plain.data[USER].x.size(1) + len(STRUCTURE_COLUMNS)
    again, _ = build_graph(world.frames, scaler)  # embedding with a checkpoint fitted with them computes them
    assert torch.equal(again.data[USER].x, rich.data[USER].x)
    assert build_graph(world.frames, plain_scaler)[0].data[USER].x.size(1) == plain.data[USER].x.size(1)

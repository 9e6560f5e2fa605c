"""The leave-one-typology-out protocol on the tiny world (pure: frames in, report out) and the truth reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn.protocol import SCORERS, run_protocol, top_k
from graph.evaluate import read_ring_truth as read_truth
from gnn.train import TrainConfig
from pixring.errors import PixringError
from pixring.settings import Settings

#: rings 0-3 are typology "a", 4-7 "b" (the world's rings are one shape: what transfers is the structure)
TYPOLOGY = {r: ("a" if r < 4 else "b") for r in range(8)}


def _truth(world) -> pd.DataFrame:
    return pd.DataFrame([{"ring_id": f"R{r}", "id_usuario": u, "typology": TYPOLOGY[r]}
                         for r, ms in world.rings.items() for u in ms])


@pytest.fixture(scope="module")
def report(world):
    return run_protocol(world.frames, _truth(world), TrainConfig(epochs=40, seed=3), Settings())


def test_each_typology_is_held_out_with_the_others_as_labels(report, world) -> None:
    assert [r.typology for r in sorted(report.rows, key=lambda r: r.typology)] == ["a", "b"]
    for r in report.rows:
        assert r.n_rings == 4 and r.n_members == 12, "T's rings: 4 rings x (2 mules + collector), unlabelled"
        assert r.n_train_pos == 12, "training positives = the other typology's members only"
        assert set(r.ap) == set(SCORERS) and set(r.ring_recall) == set(SCORERS)


def test_a_model_that_learns_the_structure_finds_the_held_out_typology(report) -> None:
    for r in report.rows:
        assert r.ap["gnn"] >= 0.9, r.ap
        assert r.ap["gnn"] > r.ap["in_degree"] + 0.3 and r.ring_recall["gnn"] >= 0.75
    assert report.worst_ap("gnn") == min(r.ap["gnn"] for r in report.rows)
    summary = report.summary()
    assert summary["loto_gnn_worst_ap"] == report.worst_ap("gnn") and "loto_candidates_precision" in summary
    table = report.table()
    assert "| **worst** |" in table and table.count("\n") == 5  # header, rule, 2 typologies, worst, mean


def test_graph_candidates_are_scored_per_held_out_typology(report) -> None:
    # the world's motif candidates cover rings 0, 2, 4, 6: half of each typology before any score seeding
    for r in report.rows:
        assert r.candidate_recall_motif == 0.5
        assert r.candidate_recall >= r.candidate_recall_motif
        assert 0.0 < r.candidate_precision <= 1.0 and r.n_candidates >= 2


def test_top_k_leaves_a_tie_across_the_cut_out() -> None:
    assert top_k(np.array([0.9, 0.5, 0.5, 0.1]), 2).tolist() == [True, False, False, False]
    assert top_k(np.array([0.9, 0.5, 0.4, 0.1]), 2).tolist() == [True, True, False, False]
    assert not top_k(np.zeros(5), 2).any(), "a constant scorer flags nobody"


def test_truth_formats(tmp_path, world) -> None:
    generic = tmp_path / "confirmed.csv"
    _truth(world).to_csv(generic, index=False)
    got = read_truth(generic)
    assert list(got.columns) == ["ring_id", "id_usuario", "typology"] and len(got) == 24
    assert set(got["typology"]) == {"a", "b"}

    no_typ = tmp_path / "bank.csv"
    _truth(world)[["ring_id", "id_usuario"]].to_csv(no_typ, index=False)
    folds = read_truth(no_typ, folds=3)
    assert set(folds["typology"]) <= {"fold1", "fold2", "fold3"} and folds["typology"].nunique() >= 2
    assert (folds.groupby("ring_id")["typology"].nunique() == 1).all(), "a ring stays in one fold"
    assert read_truth(no_typ, folds=3).equals(folds), "folds are stable"

    dg = tmp_path / "raw" / "_truth"
    dg.mkdir(parents=True)
    pd.DataFrame([("R1", "u1", "k1", "mula"), ("R1", "u2", "k2", "vitima"), ("R2", "u3", "k3", "coletor")],
                 columns=["id_ring", "id_usuario", "chave_pix", "papel"]).to_csv(dg / "ring_membros.csv", index=False)
    pd.DataFrame([("R1", "golpe_falso_parente"), ("R2", "camadas")],
                 columns=["id_ring", "tipologia"]).to_csv(dg / "rings.csv", index=False)
    got = read_truth(tmp_path / "raw")
    assert sorted(map(tuple, got.to_numpy())) == [("R1", "u1", "golpe_falso_parente"), ("R2", "u3", "camadas")]


def test_bad_truth_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("anel,conta\nR1,u1\n")
    with pytest.raises(PixringError, match="missing columns"):
        read_truth(bad)
    with pytest.raises(PixringError, match="no truth"):
        read_truth(tmp_path / "missing.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PixringError, match="no truth in"):
        read_truth(tmp_path / "empty")


def test_a_truth_of_another_bank_is_refused(world) -> None:
    other = pd.DataFrame({"ring_id": ["R1"], "id_usuario": ["nobody"], "typology": ["x"]})
    with pytest.raises(PixringError, match="none of the truth's users"):
        run_protocol(world.frames, other, TrainConfig(epochs=2), Settings())


def test_the_champion_gate_compares_procedures_on_the_protocol(world) -> None:
    from gnn.checkpoint import Checkpoint
    from gnn.train import config_of, protocol_gate

    trained, barely = TrainConfig(epochs=40, seed=3), TrainConfig(epochs=1, seed=3, lr=1e-4)
    mine, theirs = protocol_gate(world.frames, _truth(world), trained, barely, Settings())
    assert mine > theirs + 0.2, (mine, theirs)
    assert protocol_gate(world.frames, _truth(world), trained, None, Settings())[1] == -1.0
    ckpt = Checkpoint(state_dict={}, config={**trained.__dict__, "fanouts": [10, 10], "gone": 1}, scaler={},
                      threshold=0.5, in_dims={}, edge_types=[], edge_dim=4)
    assert config_of(ckpt) == trained, "a champion's procedure is rebuilt from its checkpoint (unknown keys dropped)"

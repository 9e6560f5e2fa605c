"""Score-seeded ring candidates (pure pandas): connected high-score groups, bridges, evidence, stable ids."""

from __future__ import annotations

import json

import pandas as pd

from graph.candidates import PREFIX, score_candidate_id, score_candidates, supported_by_scores

THR = 0.8
#: A, B, D, F, G, E score above the threshold; C half-trusted (a bridge), H and X low
SCORES = pd.Series({"A": 0.95, "B": 0.9, "C": 0.5, "D": 0.85, "E": 0.99, "F": 0.81, "G": 0.83, "H": 0.1,
                    "X": 0.05, "Y": 0.05})


def _edges(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["src", "dst", "tipo"])


EDGES = _edges([
    ("A", "B", "TRANSFERIU"), ("B", "C", "TRANSFERIU"), ("C", "D", "TRANSFERIU"),  # A-B seeds, C bridges to D
    ("H", "A", "TRANSFERIU"),  # a low-score payer of a seed: not a member
    ("F", "dev1", "USA"), ("G", "dev1", "USA"),  # two seeds on one phone
    ("X", "dev2", "USA"), ("Y", "dev2", "USA"),  # two low scores on one phone: nothing
    ("A", "kA", "POSSUI"),  # other relations are ignored
])


def test_connected_high_score_groups_with_bridges() -> None:
    got = {frozenset(c.membros): c for c in score_candidates(SCORES, EDGES, THR)}
    assert set(got) == {frozenset("ABCD"), frozenset("FG")}, "E alone is an account, not a ring"
    abcd = got[frozenset("ABCD")]
    assert abcd.nucleo == ["A", "B", "D"]
    ev = abcd.evidencias
    assert ev["origem"] == "score" and ev["sementes"] == ["A", "B", "D"] and ev["pontes"] == ["C"]
    assert ev["n_dinheiro"] == 3 and ev["n_dispositivo"] == 0 and ev["scores"]["C"] == 0.5
    assert abcd.risco == (0.95 + 0.9) / 2  # mean of the top half of the members' scores
    assert got[frozenset("FG")].evidencias["n_dispositivo"] == 1
    row = abcd.as_row()
    assert json.loads(row["evidencias"]) == ev and row["tamanho"] == 4


def test_a_bridge_needs_two_seeds_and_a_score_near_the_threshold() -> None:
    low_bridge = SCORES.copy()
    low_bridge["C"] = 0.3  # below 0.5 x threshold
    groups = {frozenset(c.membros) for c in score_candidates(low_bridge, EDGES, THR)}
    assert frozenset("AB") in groups and not any("C" in g or "D" in g for g in groups)


def test_ids_are_content_ids_first_then_stable_across_rebuilds() -> None:
    first = {frozenset(c.membros): c for c in score_candidates(SCORES, EDGES, THR)}
    assert first[frozenset("FG")].id_anel == score_candidate_id(frozenset("FG"))
    assert first[frozenset("FG")].id_anel.startswith(PREFIX) and first[frozenset("FG")].status == "nova"
    again = {frozenset(c.membros): c.id_anel for c in score_candidates(SCORES, EDGES, THR)}
    assert again == {k: c.id_anel for k, c in first.items()}, "a rerun gives the same ids"
    previous = {"SC-old-ring": frozenset("ABC")}  # last build's candidate, before D was seen
    grown = {frozenset(c.membros): c for c in score_candidates(SCORES, EDGES, THR, previous=previous)}
    assert grown[frozenset("ABCD")].id_anel == "SC-old-ring" and grown[frozenset("ABCD")].status == "estavel"


def test_no_threshold_or_no_seed_gives_nothing() -> None:
    assert score_candidates(SCORES, EDGES, float("inf")) == []
    assert score_candidates(SCORES, EDGES, 1.5) == []


def test_motif_candidates_are_kept_only_when_the_model_backs_a_member() -> None:
    scores = pd.Series({"a": 0.9, "b": 0.1, "c": 0.2, "d": 0.05})
    groups = [{"a", "b"}, {"c", "d"}, {"x", "y"}, set()]  # x, y unscored (not in the graph)
    assert supported_by_scores(groups, scores, 0.5) == [True, False, False, False]
    assert supported_by_scores(groups, scores, 0.2) == [True, True, False, False]  # at the threshold counts
    assert supported_by_scores(groups, scores, float("nan")) == [True] * 4  # no model: nothing is cut


def test_graph_evaluate_scores_candidates_against_a_banks_own_truth(tmp_path) -> None:
    from graph.evaluate import score_candidates as evaluate_candidates
    from graph.evaluate import truth_frames

    bank = tmp_path / "confirmed_rings.csv"
    bank.write_text("ring_id,id_usuario\nB1,A\nB1,B\nB1,D\nB2,F\nB2,G\nB3,Q\nB3,R\n")
    members, rings = truth_frames(bank)
    assert set(members["papel"]) == {"mula"} and len(rings) == 3
    cands = [{"membros": c.membros, "nucleo": c.nucleo} for c in score_candidates(SCORES, EDGES, THR)]
    rep = evaluate_candidates(members, rings, cands)
    assert rep.n_rings == 3 and rep.ring_recall == 2 / 3 and rep.candidate_precision == 1.0
    assert [m["id_ring"] for m in rep.missed] == ["B3"]

"""Stable ring ids across rebuilds, merges and splits (pure, no Spark)."""

from __future__ import annotations

from graph.communities import content_id
from graph.stable_ids import match


def fs(*users: str) -> frozenset[str]:
    return frozenset(users)


def test_first_build_gets_deterministic_content_ids() -> None:
    new = {"c1": fs("a", "b", "c"), "c2": fs("x", "y")}
    m1, m2 = match({}, new), match({}, new)
    assert m1.ids == m2.ids == {"c1": content_id(new["c1"]), "c2": content_id(new["c2"])}
    assert set(m1.status.values()) == {"nova"}
    assert m1.lineage == []


def test_a_ring_that_grows_keeps_its_id() -> None:
    old = {"ANEL-1": fs("a", "b", "c", "d")}
    m = match(old, {"k": fs("a", "b", "c", "d", "e")})
    assert m.ids["k"] == "ANEL-1" and m.status["k"] == "estavel"
    assert m.lineage == [{"id_antigo": "ANEL-1", "id_novo": "ANEL-1", "relacao": "mesmo", "overlap": 1.0,
                          "jaccard": 0.8, "n_comuns": 4}]


def test_merge_keeps_the_larger_overlap_and_is_recorded() -> None:
    old = {"A": fs("a1", "a2", "a3", "a4"), "B": fs("b1", "b2")}
    m = match(old, {"k": fs("a1", "a2", "a3", "a4", "b1", "b2")})
    assert m.ids["k"] == "A" and m.status["k"] == "fundida"
    assert {(r["id_antigo"], r["id_novo"], r["relacao"]) for r in m.lineage} == {("A", "A", "fusao"), ("B", "A", "fusao")}


def test_split_keeps_the_id_on_the_larger_part() -> None:
    old = {"A": fs("a", "b", "c", "d", "e", "f")}
    m = match(old, {"big": fs("a", "b", "c", "d"), "small": fs("e", "f")})
    assert m.ids["big"] == "A"
    assert m.ids["small"] not in ("A",) and m.ids["small"] == content_id(fs("e", "f"))
    assert m.status == {"big": "dividida", "small": "dividida"}
    assert {r["relacao"] for r in m.lineage} == {"divisao"}


def test_a_shared_victim_does_not_link_two_rings() -> None:
    old = {"A": fs("m1", "m2", "m3", "m4", "m5", "v")}
    m = match(old, {"k": fs("n1", "n2", "n3", "n4", "v")})
    assert m.ids["k"] != "A" and m.status["k"] == "nova" and m.lineage == []

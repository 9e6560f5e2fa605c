"""The in-memory graph projection (api/graphproj.py): same subgraphs as Neo4j, reloaded when the graph moves.

The comparisons run against the real Neo4j holding the toy world; the ordering and window rules of the hop
are also checked on hand-made rows (pure logic)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from api.graphdb import LABELS, GraphStore, Subgraph, assemble
from api.graphproj import GraphProjectionHolder, Projection
from api.models import SubgraphOut

from .conftest import T0

INV = "investigator"


def _canon(sg: Subgraph | None) -> Any:
    if sg is None:
        return None
    nodes = sorted((n["key"], n["nivel"], bool(n.get("parcial")), sorted(n["props"].items())) for n in sg.nodes.values())
    edges = sorted((e["id"], sorted(e["props"].items())) for e in sg.edges.values())
    return sg.center, sg.truncated, nodes, edges


def _from_projection(p: Projection, kind: str, ident: str, **bounds: Any) -> Subgraph | None:
    return assemble(kind, ident, p.start(LABELS[kind], ident), p.hop, **bounds)


@pytest.fixture(scope="module")
def store(live_api) -> GraphStore:
    return live_api.app.state.ctx.graph


@pytest.fixture(scope="module")
def holder(store: GraphStore) -> GraphProjectionHolder:
    h = GraphProjectionHolder(store, refresh_seconds=3600, max_relationships=10**9)
    assert h.load()
    return h


@pytest.mark.neo4j
@pytest.mark.mlflow
def test_every_toy_subgraph_is_the_same_from_the_projection_and_from_neo4j(store, holder, world) -> None:
    # ties (the device's three USA relationships, a ring's MEMBRO_DE) are broken by the other node's id on both
    starts = [("usuario", world.uid(s)) for s in world.users] + [("chave", world.keys[s]) for s in world.users] \
        + [("dispositivo", world.device), ("usuario", f"{world.p}nobody")]
    windows = [(None, None), (T0 + timedelta(minutes=10), None), (None, T0 + timedelta(minutes=22)),
               (T0 + timedelta(days=20), None)]
    compared = 0
    for kind, ident in starts:
        for hops in (1, 2, 3):
            for since, until in windows:
                for max_nodes, max_edges in ((500, 2000), (4, 2000), (500, 3)):
                    bounds = dict(hops=hops, since=since, until=until, max_nodes=max_nodes, max_edges=max_edges,
                                  per_node=25)
                    want = _canon(store.subgraph(kind, ident, **bounds))
                    got = _canon(_from_projection(holder.current, kind, ident, **bounds))
                    assert got == want, (kind, ident, bounds)
                    compared += 1
    assert compared == len(starts) * 3 * 4 * 3
    for kind, ident in starts:  # per-node cuts, through tied and untied weights
        for per_node in (1, 2, 3):
            bounds = dict(hops=2, since=None, until=None, max_nodes=500, max_edges=2000, per_node=per_node)
            assert _canon(_from_projection(holder.current, kind, ident, **bounds)) == \
                _canon(store.subgraph(kind, ident, **bounds)), (kind, ident, per_node)


@pytest.mark.neo4j
@pytest.mark.mlflow
def test_the_projection_reloads_when_the_graph_moves(store, holder, world) -> None:
    assert not holder.refresh_if_changed()  # nothing moved: no reload
    loads = holder.loads
    new_device = f"{world.p}D2"
    bounds = dict(hops=1, since=None, until=None, max_nodes=500, max_edges=2000, per_node=25)
    store.driver.execute_query(
        "MATCH (u:Usuario {id: $u}) MERGE (d:Dispositivo {id: $d}) SET d.tipo_dispositivo = 'ios' "
        "MERGE (u)-[r:USA]->(d) SET r.n = 1, r.primeiro = $t, r.ultimo = $t",
        u=world.uid("X"), d=new_device, t=T0)
    try:
        assert holder.refresh_if_changed() and holder.loads == loads + 1
        sg = _from_projection(holder.current, "usuario", world.uid("X"), **bounds)
        assert f"dispositivo:{new_device}" in {n["key"] for n in sg.nodes.values()}
        assert _canon(sg) == _canon(store.subgraph("usuario", world.uid("X"), **bounds))
    finally:
        store.driver.execute_query("MATCH (d:Dispositivo {id: $d}) DETACH DELETE d", d=new_device)
    assert holder.refresh_if_changed()
    sg = _from_projection(holder.current, "usuario", world.uid("X"), **bounds)
    assert f"dispositivo:{new_device}" not in {n["key"] for n in sg.nodes.values()}


@pytest.mark.neo4j
@pytest.mark.mlflow
def test_a_tie_between_the_two_directions_is_broken_alike(store, holder, world) -> None:
    """A->B and B->A of one type, same amount and time: both sources keep the outgoing one first."""
    a, b = f"{world.p}TA", f"{world.p}TB"
    store.driver.execute_query(
        "MERGE (x:Usuario {id: $a}) MERGE (y:Usuario {id: $b}) "
        "MERGE (x)-[r:TRANSFERIU]->(y) SET r.n = 1, r.valor_total = 50.0, r.primeiro = $t, r.ultimo = $t "
        "MERGE (y)-[s:TRANSFERIU]->(x) SET s.n = 1, s.valor_total = 50.0, s.primeiro = $t, s.ultimo = $t",
        a=a, b=b, t=T0)
    try:
        assert holder.refresh_if_changed()
        bounds = dict(hops=1, since=None, until=None, max_nodes=500, max_edges=2000, per_node=1)
        for start in (a, b):
            got = _from_projection(holder.current, "usuario", start, **bounds)
            assert _canon(got) == _canon(store.subgraph("usuario", start, **bounds)), start
            assert [e["source"] for e in got.edges.values()] == [f"usuario:{start}"]
    finally:
        store.driver.execute_query("MATCH (u:Usuario) WHERE u.id IN $ids DETACH DELETE u", ids=[a, b])
        holder.refresh_if_changed()


@pytest.mark.neo4j
@pytest.mark.mlflow
def test_the_api_answers_the_same_from_neo4j_when_no_projection_is_loaded(client, live_api, world) -> None:
    ctx = live_api.app.state.ctx
    assert ctx.projection.current is not None
    assert client.get("/readyz").json()["graph_projection"]["served"]
    h = live_api.headers(INV)
    paths = [(f"/v1/graph/usuario/{world.uid('M1')}", {"hops": 2}),
             (f"/v1/graph/chave/{world.keys['C']}", {"hops": 3, "since": "2026-10-01T13:10:00Z"}),
             (f"/v1/graph/dispositivo/{world.device}", {"hops": 2, "max_nodes": 4})]
    served = [client.get(p, params=q, headers=h) for p, q in paths]
    saved, ctx.projection.current = ctx.projection.current, None
    try:
        direct = [client.get(p, params=q, headers=h) for p, q in paths]
        assert not client.get("/readyz").json()["graph_projection"]["served"]
    finally:
        ctx.projection.current = saved
    for a, b in zip(served, direct, strict=True):
        assert a.status_code == b.status_code == 200
        body = a.json()
        SubgraphOut.model_validate(body)  # the hand-serialised body has the documented shape
        assert {n["key"]: n for n in body["nodes"]} == {n["key"]: n for n in b.json()["nodes"]}
        assert sorted(e["id"] for e in body["edges"]) == sorted(e["id"] for e in b.json()["edges"])


def _rows() -> tuple[list[tuple], list[tuple]]:
    t = datetime(2026, 10, 1, 12, 0)
    nodes = [("e0", ["Usuario"], {"id": "u0"}), ("e1", ["Usuario"], {"id": "u1"}),
             ("e2", ["Chave"], {"id": "k2"}), ("e3", ["Dispositivo"], {"id": "d3"}),
             ("e4", ["Usuario"], {"id": "u4"})]
    rels = [  # (start, end, type, props, primeiro, ultimo)
        ("e0", "e1", "TRANSFERIU", {"n": 1, "valor_total": 10.0}, t, t),
        ("e4", "e0", "TRANSFERIU", {"n": 2, "valor_total": 99.0}, t - timedelta(days=9), t - timedelta(days=5)),
        ("e0", "e2", "POSSUI", {"n": 1}, None, None),
        ("e0", "e3", "USA", {"n": 3}, t - timedelta(days=1), t + timedelta(hours=1)),
        ("e0", "e9", "USA", {"n": 1}, None, None),  # e9 is not a served node (not in the node rows): left out
    ]
    return nodes, rels


def test_the_hop_orders_like_cypher_and_applies_the_window() -> None:
    nodes, rels = _rows()
    p = Projection.build(("b", "t", 5, 5), nodes, rels)
    assert p.relationships == 4 and p.start("Usuario", "u0") == ("e0", {"id": "u0"})
    assert p.start("Chave", "u0") is None
    order = [(r[2], r[5]) for r in p.hop(["e0"], since=None, until=None, limit=100, per_node=25)]
    # amount DESC (missing = 0), then ultimo DESC with nulls first, as ORDER BY ... DESC does in Cypher
    assert order == [("TRANSFERIU", "e4"), ("TRANSFERIU", "e1"), ("POSSUI", "e2"), ("USA", "e3")]
    rows = p.hop(["e0"], since=datetime(2026, 10, 1), until=None, limit=100, per_node=25)
    assert [r[5] for r in rows] == ["e1", "e2", "e3"]  # e4's transfer ended before `since`; POSSUI is timeless
    rows = p.hop(["e0"], since=None, until=datetime(2026, 9, 30), limit=100, per_node=25)
    assert [r[5] for r in rows] == ["e4", "e2"]  # e1 and e3 started after `until`; POSSUI is timeless
    capped = p.hop(["e0"], since=None, until=None, limit=100, per_node=2)
    assert [r[5] for r in capped] == ["e4", "e1"] and all(r[1] for r in capped)  # parcial
    assert len(p.hop(["e0", "e1"], since=None, until=None, limit=3, per_node=25)) == 3
    # direction as seen from each end
    assert [r[3] for r in p.hop(["e1"], since=None, until=None, limit=10, per_node=25)] == [False]


def test_a_disabled_oversized_or_failed_projection_serves_nothing() -> None:
    class NoNeo4j:  # answers the version query only; reading the graph fails (no driver)
        database = "neo4j"
        rels = 11
        calls = 0

        def _run(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
            self.calls += 1
            return [{"build_id": "b", "loaded": "t", "nodes": 10, "rels": self.rels}]

    off = GraphProjectionHolder(NoNeo4j(), refresh_seconds=1, max_relationships=10, enabled=False)
    assert not off.load() and not off.refresh_if_changed() and off.current is None
    store = NoNeo4j()
    big = GraphProjectionHolder(store, refresh_seconds=1, max_relationships=10)
    assert not big.load() and big.current is None and "11 relationships" in big.status()["skipped"]
    assert not big.refresh_if_changed() and store.calls == 2  # same graph: the version query only, no reload
    store.rels = 12
    assert not big.refresh_if_changed() and "12 relationships" in big.status()["skipped"]
    # a copy served, then the graph moves and the new copy cannot be read: the stale one is dropped
    nodes, rels = _rows()
    small = GraphProjectionHolder(store, refresh_seconds=1, max_relationships=100)
    small.current = Projection.build(("old", "t", 5, 4), nodes, rels)
    assert not small.refresh_if_changed()
    assert small.current is None and small.status()["error"] == "AttributeError"

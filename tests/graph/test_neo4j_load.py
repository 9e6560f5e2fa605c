"""The gold graph into a real Neo4j over Bolt: a toy ring, idempotent and incremental loads; the Cypher's
row layout and the CREATE-when-empty choice as pure logic."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from graph import neo4j_load as nl
from graph.neo4j_load import (
    EDGE_PROPS,
    REL_ENDPOINTS,
    VERTEX_PROPS,
    edge_params,
    edge_row,
    load_frames,
    ring_params,
    to_local_datetime_text,
    to_neo4j_value,
    unique_rows,
    vertex_params,
    vertex_row,
)

V_SCHEMA = ("id STRING, tipo STRING, tipo_pessoa STRING, tipo_chave STRING, tipo_dispositivo STRING, "
            "data_cadastro TIMESTAMP, id_comunidade STRING, pagerank DOUBLE, grau_in LONG, grau_out LONG")
E_SCHEMA = "src STRING, dst STRING, tipo STRING, n LONG, valor_total DECIMAL(18,2), primeiro TIMESTAMP, ultimo TIMESTAMP"
R_SCHEMA = "id_anel STRING, membros ARRAY<STRING>, evidencias STRING, risco DOUBLE, tamanho INT, valor_em_risco DECIMAL(18,2)"


def test_converters_are_bolt_friendly_and_stable() -> None:
    row = {"id": "U1", "tipo": "usuario", "pagerank": 0.5, "tipo_chave": None,
           "data_cadastro": datetime(2026, 1, 2, 3, 4, 5)}
    p = vertex_params(row)
    assert p["id"] == "U1" and "tipo_chave" not in p["props"]
    assert p["h"] == vertex_params(dict(row))["h"]
    assert p["h"] != vertex_params({**row, "pagerank": 0.6})["h"]
    e = edge_params({"src": "a", "dst": "b", "n": 2, "valor_total": Decimal("10.50")})
    assert e["props"]["valor_total"] == 10.5 and isinstance(e["props"]["valor_total"], float)
    assert to_neo4j_value([Decimal("1.25")]) == [1.25]
    r = ring_params({"id_anel": "R1", "membros": ["U1"], "risco": 0.9}, "b1")
    assert r["props"] == {"risco": 0.9, "build_id": "b1"}


def _slots(cypher: str) -> dict[str, int]:
    """``{property: row index}`` as a Cypher statement reads it (``p: row[i]``, ``p: localdatetime(row[i])``,
    ``x._h = row[i]``); the ids (``{id: row[0]}``, the endpoints' ``row[0]`` / ``row[1]``) are left out."""
    found = re.findall(r"(\w+)(?::| =) (?:localdatetime\()?row\[(\d+)\]", cypher)
    return {k: int(i) for k, i in found if k != "id"}


@pytest.mark.parametrize("create", [True, False])
def test_the_cypher_reads_each_property_from_its_place_in_the_row(create: bool) -> None:
    t = datetime(2026, 10, 1, 22, 0, 0, 123456)
    vparams = vertex_params({"id": "U1", "tipo_pessoa": "PF", "data_cadastro": t, "pagerank": 0.5,
                             "grau_in": 1, "grau_out": 2})
    eparams = edge_params({"src": "a", "dst": "b", "n": 2, "valor_total": Decimal("10.50"),
                           "primeiro": t, "ultimo": t})
    vrow, erow = vertex_row(vparams), edge_row(eparams)
    for label in ("Usuario", "Chave", "Dispositivo"):
        cypher = nl._node_cypher(label, create=create)
        slots = _slots(cypher)
        assert set(slots) == {*VERTEX_PROPS, "_h"} and f"(n:{label} {{id: row[0]" in cypher
        assert vrow[slots["_h"]] == vparams["h"] and vrow[0] == "U1"
        assert vrow[slots["data_cadastro"]] == "2026-10-01T22:00:00.123456"
        assert vrow[slots["pagerank"]] == 0.5 and vrow[slots["tipo_chave"]] is None
    for rel_type in REL_ENDPOINTS:
        cypher = nl._rel_cypher(rel_type, create=create)
        slots = _slots(cypher)
        src, dst = REL_ENDPOINTS[rel_type]
        assert set(slots) == {*EDGE_PROPS, "_h"}
        assert f"MATCH (a:{src} {{id: row[0]}}) MATCH (b:{dst} {{id: row[1]}})" in cypher
        assert erow[:2] == ["a", "b"] and erow[slots["valor_total"]] == 10.5 and erow[slots["n"]] == 2
        assert erow[slots["primeiro"]] == erow[slots["ultimo"]] == "2026-10-01T22:00:00.123456"
        assert "localdatetime(row[%d])" % slots["primeiro"] in cypher
        assert erow[slots["_h"]] == eparams["h"]


def test_create_only_where_nothing_can_match_and_merge_keeps_the_hash_guard() -> None:
    for cypher in (nl._node_cypher("Chave", create=True), nl._rel_cypher("PAGOU", create=True)):
        assert "CREATE" in cypher and "MERGE" not in cypher and "_h: row[" in cypher
    for cypher in (nl._node_cypher("Chave"), nl._rel_cypher("PAGOU")):
        assert "MERGE" in cypher and "CREATE" not in cypher
        assert re.search(r"WHERE \w\._h IS NULL OR \w\._h <> row\[\d+\]", cypher)
    # the Portuguese labels and relationship types are kept
    assert "(a:Chave {id: row[0]}) MATCH (b:Chave {id: row[1]})" in nl._rel_cypher("PAGOU", create=True)
    assert "-[r:TRANSFERIU {" in nl._rel_cypher("TRANSFERIU", create=True)
    assert nl._node_cypher("Dispositivo", create=True).startswith(
        "UNWIND $rows AS row CREATE (n:Dispositivo {id: row[0]")


class _CountSession:
    """Answers the count query with a fixed count and records the Cypher it was given."""

    def __init__(self, n: int) -> None:
        self.n, self.queries = n, []

    def run(self, cypher: str):
        self.queries.append(cypher)
        n = self.n

        class _Result:
            def single(self):
                return {"n": n}

        return _Result()


def test_the_choice_of_create_comes_from_a_count_store_count() -> None:
    empty, full = _CountSession(0), _CountSession(7)
    assert nl._is_empty(empty, rel_type="PAGOU") and not nl._is_empty(full, label="Usuario")
    assert empty.queries == ["MATCH ()-[r:PAGOU]->() RETURN count(r) AS n"]
    assert full.queries == ["MATCH (n:Usuario) RETURN count(n) AS n"]
    with pytest.raises(ValueError):
        nl._count_cypher()
    with pytest.raises(ValueError):
        nl._count_cypher(label="Usuario", rel_type="PAGOU")


def test_rows_are_unique_per_key_sorted_and_timestamps_are_local() -> None:
    rows = [["b", "a", 0], ["a", "b", 1], ["a", "c", 2], ["a", "b", 3]]
    assert unique_rows(rows, 2) == [["a", "b", 3], ["a", "c", 2], ["b", "a", 0]]
    assert unique_rows(rows, 1) == [["a", "b", 3], ["b", "a", 0]]
    assert to_local_datetime_text(None) is None
    assert to_local_datetime_text(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"
    with pytest.raises(ValueError):
        to_local_datetime_text(datetime(2026, 1, 2, tzinfo=timezone.utc))
    with pytest.raises(TypeError):
        to_local_datetime_text("2026-01-02")


def test_the_next_relationship_type_shares_no_label_with_those_being_written() -> None:
    pending = ["PAGOU", "TRANSFERIU", "USA", "POSSUI"]
    assert nl.next_rel_type(pending, set()) == "PAGOU"
    assert nl.next_rel_type(pending, {"Chave"}) == "TRANSFERIU"
    assert nl.next_rel_type(["POSSUI", "USA"], {"Chave"}) == "USA"
    assert nl.next_rel_type(["POSSUI"], {"Usuario", "Dispositivo"}) is None
    assert nl.next_rel_type([], set()) is None


class _FakeDriver:
    """Sessions whose writes take a little time and record which labels are being written at once. With
    ``meet=True`` the first write waits (up to 10 s) until a second one runs beside it, so two lanes that can
    write at once are seen doing so however slowly the second lane's thread gets going."""

    def __init__(self, fail: str | None = None, meet: bool = False) -> None:
        import threading

        self.lock, self.active, self.overlaps, self.fail = threading.Lock(), [], [], fail
        self.met = threading.Event()
        if not meet:
            self.met.set()

    def session(self, **_kwargs):
        driver = self

        class _Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def run(self, _cypher):
                return _CountSession(0).run(_cypher)

            def execute_write(self, fn):
                import time

                class _Tx:
                    def run(self, cypher, rows):
                        rel_type = re.search(r"\[r:(\w+)", cypher).group(1)
                        if rel_type == driver.fail:
                            raise RuntimeError(f"{rel_type} failed")
                        labels = set(REL_ENDPOINTS[rel_type])
                        with driver.lock:
                            for other in driver.active:
                                driver.overlaps.append((rel_type, other))
                                assert not labels & set(REL_ENDPOINTS[other]), (rel_type, other)
                            driver.active.append(rel_type)
                            if len(driver.active) > 1:
                                driver.met.set()
                        driver.met.wait(10)
                        time.sleep(0.002 * len(rows))
                        with driver.lock:
                            driver.active.remove(rel_type)

                        class _Result:
                            def single(self):
                                return {"written": len(rows)}

                        return _Result()

                return fn(_Tx())

        return _Session()


def test_two_lanes_write_disjoint_labels_at_once_and_every_type_once() -> None:
    rows = {t: [[f"{t}{i}", "x", None, None, None, None, "h"] for i in range(n)]
            for t, n in {"POSSUI": 3, "USA": 4, "PAGOU": 6, "TRANSFERIU": 6}.items()}
    driver = _FakeDriver(meet=True)
    assert nl._write_rels(driver, "neo4j", rows, batch_size=1, lanes=2) == {"POSSUI": 3, "USA": 4, "PAGOU": 6,
                                                                            "TRANSFERIU": 6}
    assert {frozenset(pair) for pair in driver.overlaps} >= {frozenset({"PAGOU", "TRANSFERIU"})}
    one = _FakeDriver()
    assert nl._write_rels(one, "neo4j", rows, batch_size=2, lanes=1)["PAGOU"] == 6 and one.overlaps == []
    with pytest.raises(RuntimeError, match="USA failed"):
        nl._write_rels(_FakeDriver(fail="USA"), "neo4j", rows, batch_size=2, lanes=2)


@pytest.fixture
def toy_graph(spark, unique):
    """Three mules forwarding money a->b->c, sharing one device, plus a legitimate user."""
    t = datetime(2026, 10, 1, 22, 0, 0)
    u = [f"U{unique}{i}" for i in range(4)]
    k = [f"K{unique}{i}" for i in range(4)]
    d = f"D{unique}"
    vertices = spark.createDataFrame(
        [(u[i], "usuario", "PF", None, None, t, f"C{unique}" if i < 3 else None, 0.1, 1, 1) for i in range(4)]
        + [(k[i], "chave", None, "aleatoria", None, t, None, 0.1, 1, 1) for i in range(4)]
        + [(d, "dispositivo", None, None, "android", t, None, 0.1, 3, 0)],
        V_SCHEMA,
    )
    edges = spark.createDataFrame(
        [(u[i], k[i], "POSSUI", 1, None, None, None) for i in range(4)]
        + [(u[i], d, "USA", 3, None, t, t) for i in range(3)]
        + [(k[0], k[1], "PAGOU", 1, Decimal("900.00"), t, t), (k[1], k[2], "PAGOU", 1, Decimal("880.00"), t, t)]
        + [(u[0], u[1], "TRANSFERIU", 1, Decimal("900.00"), t, t), (u[1], u[2], "TRANSFERIU", 1, Decimal("880.00"), t, t)],
        E_SCHEMA,
    )
    rings = spark.createDataFrame(
        [(f"R{unique}", u[:3], '{"motifs": ["cadeia", "dispositivo_compartilhado"]}', 0.93, 3, Decimal("1780.00"))],
        R_SCHEMA,
    )
    return u, k, d, vertices, edges, rings


@pytest.mark.spark
@pytest.mark.neo4j
def test_load_is_idempotent_and_the_ring_is_queryable(neo4j_driver, settings, toy_graph, unique) -> None:
    u, k, d, vertices, edges, rings = toy_graph
    db = settings.neo4j.database
    first = load_frames(neo4j_driver, db, vertices, edges, rings, build_id=f"b{unique}")
    assert first.nodes_written == {"Usuario": 4, "Chave": 4, "Dispositivo": 1, "Anel": 1, "Anel retired": 0} or (
        first.nodes_written["Usuario"] == 4 and first.nodes_written["Anel"] == 1)
    assert first.rels_written == {"POSSUI": 4, "USA": 3, "PAGOU": 2, "TRANSFERIU": 2}

    count_q = ("MATCH (n) WHERE n.id STARTS WITH $p OR n.id STARTS WITH $q "
               "OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS nodes, count(r) AS rels")
    params = {"p": f"U{unique}", "q": f"K{unique}"}
    before = neo4j_driver.execute_query(count_q, params).records[0]

    second = load_frames(neo4j_driver, db, vertices, edges, rings, build_id=f"b{unique}")
    assert sum(second.rels_written.values()) == 0
    assert all(v == 0 for key, v in second.nodes_written.items() if key != "Anel retired")
    after = neo4j_driver.execute_query(count_q, params).records[0]
    assert (after["nodes"], after["rels"]) == (before["nodes"], before["rels"])

    # the investigator's query: the ring, its members and the money flowing between them
    records = neo4j_driver.execute_query(
        "MATCH (m:Usuario)-[:MEMBRO_DE]->(a:Anel {id: $id}) "
        "OPTIONAL MATCH (m)-[t:TRANSFERIU]->(n:Usuario)-[:MEMBRO_DE]->(a) "
        "RETURN collect(DISTINCT m.id) AS membros, sum(t.valor_total) AS fluxo, a.risco AS risco",
        {"id": f"R{unique}"},
    ).records[0]
    assert sorted(records["membros"]) == sorted(u[:3])
    assert records["fluxo"] == pytest.approx(1780.0)
    assert records["risco"] == pytest.approx(0.93)
    shared = neo4j_driver.execute_query(
        "MATCH (x:Usuario {id: $x})-[:USA]->(d:Dispositivo)<-[:USA]-(o:Usuario) RETURN collect(o.id) AS outros",
        {"x": u[0]},
    ).records[0]["outros"]
    assert sorted(shared) == sorted(u[1:3])


@pytest.mark.spark
@pytest.mark.neo4j
def test_a_changed_property_is_written_again(neo4j_driver, settings, toy_graph, unique) -> None:
    from pyspark.sql import functions as F

    u, k, d, vertices, edges, rings = toy_graph
    db = settings.neo4j.database
    load_frames(neo4j_driver, db, vertices, edges, None, build_id="x")
    changed = vertices.withColumn("pagerank", F.when(F.col("id") == u[3], 0.77).otherwise(F.col("pagerank")))
    report = load_frames(neo4j_driver, db, changed, edges, None, build_id="x")
    assert report.nodes_written["Usuario"] == 1
    got = neo4j_driver.execute_query("MATCH (n:Usuario {id: $id}) RETURN n.pagerank AS p", {"id": u[3]}).records[0]
    assert got["p"] == pytest.approx(0.77)


@pytest.mark.neo4j
def test_the_load_marker_records_the_last_build_loaded(neo4j_driver, settings, unique) -> None:
    from graph.neo4j_load import loaded_build, mark_loaded

    db = settings.neo4j.database
    previous = loaded_build(neo4j_driver, db)
    try:
        mark_loaded(neo4j_driver, db, f"gb-{unique}")
        assert loaded_build(neo4j_driver, db) == f"gb-{unique}"
        mark_loaded(neo4j_driver, db, f"gb-{unique}-2")  # one marker, moved: never two
        assert loaded_build(neo4j_driver, db) == f"gb-{unique}-2"
        n = neo4j_driver.execute_query("MATCH (m:PixringCarga) RETURN count(m) AS n", database_=db).records[0]["n"]
        assert n == 1
    finally:
        if previous is None:
            neo4j_driver.execute_query("MATCH (m:PixringCarga {id: 'graph'}) DELETE m", database_=db)
        else:
            mark_loaded(neo4j_driver, db, previous)


@pytest.mark.neo4j
def test_create_and_merge_store_the_same_values_and_types(neo4j_driver, settings, unique) -> None:
    """CREATE (used for an empty label / type) writes what MERGE writes, and MERGE then finds nothing to do."""
    db = settings.neo4j.database
    t = datetime(2026, 10, 1, 22, 0, 0, 250000)
    nl.ensure_schema(neo4j_driver, db)

    def rows(prefix: str) -> tuple[list, list]:
        vs = [vertex_row(vertex_params({"id": f"{prefix}{i}", "tipo_pessoa": "PF", "data_cadastro": t,
                                        "pagerank": 0.25, "grau_in": i, "grau_out": None})) for i in range(2)]
        es = [edge_row(edge_params({"src": f"{prefix}0", "dst": f"{prefix}1", "n": 3,
                                    "valor_total": Decimal("99.90"), "primeiro": t, "ultimo": t}))]
        return vs, es

    with neo4j_driver.session(database=db) as session:
        for prefix, create in ((f"C{unique}-", True), (f"M{unique}-", False)):
            vs, es = rows(prefix)
            assert nl._write(session, nl._node_cypher("Usuario", create=create), [vs]) == 2
            assert nl._write(session, nl._rel_cypher("TRANSFERIU", create=create), [es]) == 1
        vs, es = rows(f"C{unique}-")  # what CREATE wrote is recognised by MERGE's hash guard
        assert nl._write(session, nl._node_cypher("Usuario"), [vs]) == 0
        assert nl._write(session, nl._rel_cypher("TRANSFERIU"), [es]) == 0
    got = {}
    for prefix in (f"C{unique}-", f"M{unique}-"):
        rec = neo4j_driver.execute_query(
            "MATCH (a:Usuario {id: $a})-[r:TRANSFERIU]->(b:Usuario {id: $b}) "
            "RETURN properties(a) AS a, properties(r) AS r, valueType(r.primeiro) AS tr, "
            "valueType(a.data_cadastro) AS tn, count(r) AS n",
            {"a": f"{prefix}0", "b": f"{prefix}1"}, database_=db).records[0]
        assert rec["n"] == 1 and rec["tr"] == rec["tn"] == "LOCAL DATETIME NOT NULL"
        got[prefix] = ({k: v for k, v in rec["a"].items() if k != "id"}, rec["r"])
    created, merged = got.values()
    assert created == merged
    assert created[1]["primeiro"].to_native() == t and created[1]["valor_total"] == pytest.approx(99.9)
    assert "grau_out" not in created[0]  # a null is no property
    neo4j_driver.execute_query("MATCH (n:Usuario) WHERE n.id STARTS WITH $c OR n.id STARTS WITH $m DETACH DELETE n",
                               {"c": f"C{unique}-", "m": f"M{unique}-"}, database_=db)

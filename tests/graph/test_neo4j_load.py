"""The gold graph into a real Neo4j over Bolt: a toy ring, idempotent and incremental loads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from graph.neo4j_load import edge_params, load_frames, ring_params, to_neo4j_value, vertex_params

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

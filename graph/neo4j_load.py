"""``pixring graph load-neo4j``: the gold graph into Neo4j for investigators (Browser/Bloom over Bolt).

Model (Portuguese domain terms, see ``docs/investigation.md``)::

    (:Usuario {id})-[:POSSUI]->(:Chave {id})            a user holds a Pix key (id = HMAC token)
    (:Usuario)-[:USA]->(:Dispositivo {id})              registrations and logins
    (:Chave)-[:PAGOU {n, valor_total, primeiro, ultimo}]->(:Chave)
    (:Usuario)-[:TRANSFERIU {n, valor_total, primeiro, ultimo}]->(:Usuario)
    (:Usuario)-[:MEMBRO_DE]->(:Anel {id, risco, evidencias, ...})

Uniqueness constraints on every label's ``id``; batched ``UNWIND … MERGE``. Each node and relationship
carries ``_h``, a hash of its properties: rows whose hash did not change are not written again, so a
second load of the same data changes nothing and a load after a rebuild writes only what moved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from pixring.settings import Settings

log = logging.getLogger(__name__)

LABELS: dict[str, str] = {"usuario": "Usuario", "chave": "Chave", "dispositivo": "Dispositivo"}
#: relationship type -> (label of src, label of dst)
REL_ENDPOINTS: dict[str, tuple[str, str]] = {
    "POSSUI": ("Usuario", "Chave"),
    "USA": ("Usuario", "Dispositivo"),
    "PAGOU": ("Chave", "Chave"),
    "TRANSFERIU": ("Usuario", "Usuario"),
}
VERTEX_PROPS = ("tipo_pessoa", "tipo_chave", "tipo_dispositivo", "data_cadastro", "id_comunidade",
                "pagerank", "grau_in", "grau_out")
EDGE_PROPS = ("n", "valor_total", "primeiro", "ultimo")
RING_PROPS = ("risco", "tamanho", "valor_em_risco", "evidencias")

SCHEMA_STATEMENTS = [
    *(f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
      for label in (*LABELS.values(), "Anel")),
    "CREATE INDEX usuario_comunidade IF NOT EXISTS FOR (n:Usuario) ON (n.id_comunidade)",
    "CREATE INDEX anel_risco IF NOT EXISTS FOR (n:Anel) ON (n.risco)",
]


@dataclass
class LoadReport:
    nodes_written: dict[str, int] = field(default_factory=dict)
    rels_written: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    seconds: float = 0.0
    rels_per_s: float = 0.0
    #: set when the graph build was already loaded (``load_neo4j`` without ``force``)
    skipped_build: str | None = None

    def __str__(self) -> str:
        if self.skipped_build:
            return (f"neo4j load: graph build {self.skipped_build} is already loaded; nothing to do "
                    "(--force reloads, still writing only what changed)")
        nodes = ", ".join(f"{k} {v:,}" for k, v in self.nodes_written.items())
        rels = ", ".join(f"{k} {v:,}" for k, v in self.rels_written.items())
        return (f"neo4j load: {self.rows_read:,} gold rows read in {self.seconds:.1f}s\n"
                f"  nodes written (new or changed): {nodes}\n"
                f"  relationships written (new or changed): {rels}\n"
                f"  relationship throughput: {self.rels_per_s:,.0f}/s")


# --- converters (pure, unit-tested) -------------------------------------------------------------


def to_neo4j_value(value: Any) -> Any:
    """A Spark row value as a Bolt-compatible value (Decimal -> float, timestamps kept as datetimes)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [to_neo4j_value(v) for v in value]
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _hash(props: dict[str, Any]) -> str:
    def enc(v: Any) -> str:
        return v.isoformat() if isinstance(v, (datetime, date)) else repr(v)

    text = "|".join(f"{k}={enc(v)}" for k, v in sorted(props.items()))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def vertex_params(row: dict[str, Any]) -> dict[str, Any]:
    """``graph_vertices`` row -> ``{id, props, h}`` (null properties are left out)."""
    props = {k: to_neo4j_value(row.get(k)) for k in VERTEX_PROPS if row.get(k) is not None}
    return {"id": row["id"], "props": props, "h": _hash(props)}


def edge_params(row: dict[str, Any]) -> dict[str, Any]:
    props = {k: to_neo4j_value(row.get(k)) for k in EDGE_PROPS if row.get(k) is not None}
    return {"src": row["src"], "dst": row["dst"], "props": props, "h": _hash(props)}


def ring_params(row: dict[str, Any], build_id: str) -> dict[str, Any]:
    props = {k: to_neo4j_value(row.get(k)) for k in RING_PROPS if row.get(k) is not None}
    props["build_id"] = build_id
    return {"id": row["id_anel"], "membros": list(row["membros"] or []), "props": props, "h": _hash(props)}


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- Cypher (parameters only) -------------------------------------------------------------------


def _node_cypher(label: str) -> str:
    return (
        f"UNWIND $rows AS row MERGE (n:{label} {{id: row.id}}) "
        "WITH n, row WHERE n._h IS NULL OR n._h <> row.h "
        "SET n += row.props, n._h = row.h RETURN count(n) AS written"
    )


def _rel_cypher(rel_type: str) -> str:
    src_label, dst_label = REL_ENDPOINTS[rel_type]
    return (
        f"UNWIND $rows AS row MATCH (a:{src_label} {{id: row.src}}) MATCH (b:{dst_label} {{id: row.dst}}) "
        f"MERGE (a)-[r:{rel_type}]->(b) "
        "WITH r, row WHERE r._h IS NULL OR r._h <> row.h "
        "SET r += row.props, r._h = row.h RETURN count(r) AS written"
    )


RING_CYPHER = (
    "UNWIND $rows AS row MERGE (a:Anel {id: row.id}) "
    "WITH a, row WHERE a._h IS NULL OR a._h <> row.h "
    "SET a += row.props, a._h = row.h, a.ativo = true "
    "WITH a, row UNWIND row.membros AS membro MATCH (u:Usuario {id: membro}) "
    "MERGE (u)-[:MEMBRO_DE]->(a) RETURN count(DISTINCT a) AS written"
)
# rings of earlier builds that this build no longer has: kept for the investigators' history, marked
RETIRE_CYPHER = (
    "MATCH (a:Anel) WHERE a.ativo AND NOT a.id IN $ids "
    "SET a.ativo = false, a._h = null RETURN count(a) AS written"
)


def _write(session, cypher: str, batches: Iterable[list[dict[str, Any]]]) -> int:
    total = 0
    for batch in batches:
        record = session.execute_write(lambda tx, b=batch: tx.run(cypher, rows=b).single())
        total += record["written"] if record else 0
    return total


def ensure_schema(driver, database: str) -> None:
    with driver.session(database=database) as session:
        for stmt in SCHEMA_STATEMENTS:
            session.run(stmt).consume()


def _rows(df: DataFrame) -> Iterator[dict[str, Any]]:
    for row in df.toLocalIterator(prefetchPartitions=True):
        yield row.asDict(recursive=True)


def load_frames(
    driver,
    database: str,
    vertices: DataFrame,
    edges: DataFrame,
    rings: DataFrame | None,
    build_id: str,
    batch_size: int = 5000,
) -> LoadReport:
    """Load gold frames into Neo4j (the job below reads them from Delta; tests pass small frames)."""
    report = LoadReport()
    t0 = time.monotonic()
    ensure_schema(driver, database)
    rel_time = 0.0
    n_rels = 0
    with driver.session(database=database) as session:
        for tipo, label in LABELS.items():
            part = vertices.where(vertices["tipo"] == tipo)
            rows = (vertex_params(r) for r in _rows(part))
            report.nodes_written[label] = _write(session, _node_cypher(label), batched(rows, batch_size))
        for rel_type in REL_ENDPOINTS:
            part = edges.where(edges["tipo"] == rel_type)
            params = [edge_params(r) for r in _rows(part)]
            t1 = time.monotonic()
            report.rels_written[rel_type] = _write(session, _rel_cypher(rel_type), batched(params, batch_size))
            rel_time += time.monotonic() - t1
            n_rels += len(params)
        if rings is not None:
            ring_rows = [ring_params(r, build_id) for r in _rows(rings)]
            report.nodes_written["Anel"] = _write(session, RING_CYPHER, batched(ring_rows, 500))
            retired = session.execute_write(
                lambda tx: tx.run(RETIRE_CYPHER, ids=[r["id"] for r in ring_rows]).single())
            report.nodes_written["Anel retired"] = retired["written"] if retired else 0
    report.rows_read = vertices.count() + edges.count() + (rings.count() if rings is not None else 0)
    report.seconds = time.monotonic() - t0
    report.rels_per_s = n_rels / rel_time if rel_time > 0 else 0.0
    return report


#: One marker node records the last graph build fully loaded (so an unchanged build is not re-read).
MARKER_READ = "MATCH (m:PixringCarga {id: 'graph'}) RETURN m.build_id AS build_id"
MARKER_WRITE = "MERGE (m:PixringCarga {id: 'graph'}) SET m.build_id = $build_id, m.carregado_em = datetime()"


def loaded_build(driver, database: str) -> str | None:
    """The graph build id the last complete load recorded, or None."""
    record = driver.execute_query(MARKER_READ, database_=database).records
    return record[0]["build_id"] if record else None


def mark_loaded(driver, database: str, build_id: str) -> None:
    driver.execute_query(MARKER_WRITE, build_id=build_id, database_=database)


def load_neo4j(spark: SparkSession, settings: Settings, batch_size: int = 5000, force: bool = False) -> LoadReport:
    """Read the gold graph tables and load them into the Neo4j of the settings.

    Without ``force`` nothing is read when the marker says this graph build was loaded completely already.
    """
    from neo4j import GraphDatabase

    from lakehouse.paths import table_path

    def gold(name: str) -> DataFrame:
        return spark.read.format("delta").load(table_path(settings, "gold", name))

    vertices, edges = gold("graph_vertices"), gold("graph_edges")
    rings = gold("ring_candidates")
    builds = gold("graph_builds").orderBy("built_at", ascending=False).limit(1).collect()
    build_id = builds[0]["build_id"] if builds else "unknown"
    n = settings.neo4j
    with GraphDatabase.driver(n.bolt_uri, auth=(n.user, n.password.get_secret_value())) as driver:
        if not force and builds and loaded_build(driver, n.database) == build_id:
            return LoadReport(skipped_build=build_id)
        report = load_frames(driver, n.database, vertices, edges, rings, build_id, batch_size)
        if builds:
            mark_loaded(driver, n.database, build_id)
    log.info("%s", report)
    return report

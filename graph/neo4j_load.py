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

Speed (docs/graph.md, "Speed"): a label or relationship type with no element yet (a count-store lookup)
is written with ``CREATE`` instead of ``MERGE``, since nothing can match. Rows travel as plain lists (no
per-row map), sorted by key, and timestamps as ISO text that Cypher turns into ``LOCAL DATETIME``, which
is what the driver stored for Spark's naive datetimes: the driver packs a ``datetime`` in pure Python
(~0.2 ms each), and that alone held the load at ~2,500 relationships/s. Relationship types whose endpoint
labels are disjoint (``PAGOU`` on keys, ``TRANSFERIU`` / ``USA`` on users) are written by two sessions at
once: they never lock the same node, so they never wait on each other or deadlock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from pixring.contract import LOAD_MARKER_ID, LOAD_MARKER_LABEL, MEMBER_OF, NODE_LABELS, REL_ENDPOINTS, RING_LABEL
from pixring.settings import Neo4jSettings, Settings

log = logging.getLogger(__name__)

#: vertex type -> label and relationship type -> (label of src, label of dst): the contract's Neo4j model
LABELS: dict[str, str] = NODE_LABELS
VERTEX_PROPS = ("tipo_pessoa", "tipo_chave", "tipo_dispositivo", "data_cadastro", "id_comunidade",
                "pagerank", "grau_in", "grau_out")
EDGE_PROPS = ("n", "valor_total", "primeiro", "ultimo")
RING_PROPS = ("risco", "tamanho", "valor_em_risco", "evidencias")
#: stored as LOCAL DATETIME: sent as ISO text, converted by Cypher's ``localdatetime()``
TEMPORAL_PROPS = frozenset({"data_cadastro", "primeiro", "ultimo"})

SCHEMA_STATEMENTS = [
    *(f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
      for label in (*LABELS.values(), RING_LABEL)),
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


def to_local_datetime_text(value: Any) -> str | None:
    """A naive ``datetime`` (what Spark gives for TIMESTAMP columns) as ISO text for ``localdatetime()``."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is not None:
        raise ValueError(f"a timestamp with a time zone where a local date-time is stored: {value!r}")
    return value.isoformat()


def _wire(key: str, value: Any) -> Any:
    return to_local_datetime_text(value) if key in TEMPORAL_PROPS else value


def vertex_row(params: dict[str, Any]) -> list[Any]:
    """``vertex_params`` as the list the node Cypher reads: ``[id, *VERTEX_PROPS, h]`` (None = absent)."""
    props = params["props"]
    return [params["id"], *(_wire(k, props.get(k)) for k in VERTEX_PROPS), params["h"]]


def edge_row(params: dict[str, Any]) -> list[Any]:
    """``edge_params`` as the list the relationship Cypher reads: ``[src, dst, *EDGE_PROPS, h]``."""
    props = params["props"]
    return [params["src"], params["dst"], *(_wire(k, props.get(k)) for k in EDGE_PROPS), params["h"]]


def unique_rows(rows: Iterable[list[Any]], key_len: int) -> list[list[Any]]:
    """One row per key (its first ``key_len`` items, string ids), the last winning as with successive
    MERGEs, sorted by key.

    ``CREATE`` would otherwise make two relationships, or break the uniqueness constraint, for a key that
    comes twice. Sorted, a batch's relationships of one node follow each other (~7 % faster)."""
    unique = {tuple(r[:key_len]): r for r in rows}
    return [unique[k] for k in sorted(unique, key=lambda k: tuple(map(str, k)))]


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


def _props_literal(props: tuple[str, ...], first: int) -> str:
    """``p: row[i], …`` in the layout of ``vertex_row`` / ``edge_row`` (timestamps through ``localdatetime``).

    A null item leaves the property out on ``CREATE`` and removes it on ``SET +=``."""
    return ", ".join(
        f"{k}: localdatetime(row[{i}])" if k in TEMPORAL_PROPS else f"{k}: row[{i}]"
        for i, k in enumerate(props, start=first)
    )


def _node_cypher(label: str, create: bool = False) -> str:
    """Nodes of one label from ``vertex_row`` lists; ``create`` only when the label has no node yet."""
    h = f"row[{len(VERTEX_PROPS) + 1}]"
    props = _props_literal(VERTEX_PROPS, 1)
    if create:
        return f"UNWIND $rows AS row CREATE (n:{label} {{id: row[0], {props}, _h: {h}}}) RETURN count(n) AS written"
    return (
        f"UNWIND $rows AS row MERGE (n:{label} {{id: row[0]}}) "
        f"WITH n, row WHERE n._h IS NULL OR n._h <> {h} "
        f"SET n += {{{props}}}, n._h = {h} RETURN count(n) AS written"
    )


def _rel_cypher(rel_type: str, create: bool = False) -> str:
    """Relationships of one type from ``edge_row`` lists; ``create`` only when the type has none yet."""
    src_label, dst_label = REL_ENDPOINTS[rel_type]
    h = f"row[{len(EDGE_PROPS) + 2}]"
    props = _props_literal(EDGE_PROPS, 2)
    match = f"UNWIND $rows AS row MATCH (a:{src_label} {{id: row[0]}}) MATCH (b:{dst_label} {{id: row[1]}}) "
    if create:
        return match + f"CREATE (a)-[r:{rel_type} {{{props}, _h: {h}}}]->(b) RETURN count(r) AS written"
    return match + (
        f"MERGE (a)-[r:{rel_type}]->(b) "
        f"WITH r, row WHERE r._h IS NULL OR r._h <> {h} "
        f"SET r += {{{props}}}, r._h = {h} RETURN count(r) AS written"
    )


def _count_cypher(label: str | None = None, rel_type: str | None = None) -> str:
    """A count the count store answers without reading any element (it decides ``CREATE`` vs ``MERGE``)."""
    if (label is None) == (rel_type is None):
        raise ValueError("give one label or one relationship type")
    if label is not None:
        return f"MATCH (n:{label}) RETURN count(n) AS n"
    return f"MATCH ()-[r:{rel_type}]->() RETURN count(r) AS n"


# labels and types from the contract (constants, never data); the rows are bound
RING_CYPHER = (
    f"UNWIND $rows AS row MERGE (a:{RING_LABEL} {{id: row.id}}) "
    "WITH a, row WHERE a._h IS NULL OR a._h <> row.h "
    "SET a += row.props, a._h = row.h, a.ativo = true "
    f"WITH a, row UNWIND row.membros AS membro MATCH (u:{NODE_LABELS['usuario']} {{id: membro}}) "
    f"MERGE (u)-[:{MEMBER_OF}]->(a) RETURN count(DISTINCT a) AS written"
)
# rings of earlier builds that this build no longer has: kept for the investigators' history, marked
RETIRE_CYPHER = (
    f"MATCH (a:{RING_LABEL}) WHERE a.ativo AND NOT a.id IN $ids "
    "SET a.ativo = false, a._h = null RETURN count(a) AS written"
)


def _write(session, cypher: str, batches: Iterable[list[dict[str, Any]]]) -> int:
    total = 0
    for batch in batches:
        record = session.execute_write(lambda tx, b=batch: tx.run(cypher, rows=b).single())
        total += record["written"] if record else 0
    return total


def _is_empty(session, label: str | None = None, rel_type: str | None = None) -> bool:
    return session.run(_count_cypher(label, rel_type)).single()["n"] == 0


def next_rel_type(pending: list[str], busy: set[str]) -> str | None:
    """The first of ``pending`` whose endpoint labels are not ``busy`` (being written by another session)."""
    for rel_type in pending:
        if not busy.intersection(REL_ENDPOINTS[rel_type]):
            return rel_type
    return None


def _write_rels(driver, database: str, rows: dict[str, list[list[Any]]], batch_size: int, lanes: int) -> dict[str, int]:
    """Every relationship type of ``rows``, ``lanes`` sessions at once, never two on the same label.

    Types go largest first; a session takes the next type whose labels no running type touches, or waits."""
    pending = sorted(rows, key=lambda t: -len(rows[t]))
    busy: set[str] = set()
    written: dict[str, int] = {}
    errors: list[BaseException] = []
    cond = threading.Condition()

    def take() -> str | None:
        with cond:
            while pending and not errors:
                rel_type = next_rel_type(pending, busy)
                if rel_type is not None:
                    pending.remove(rel_type)
                    busy.update(REL_ENDPOINTS[rel_type])
                    return rel_type
                cond.wait()
            return None

    def lane() -> None:
        try:
            with driver.session(database=database) as session:
                while (rel_type := take()) is not None:
                    try:
                        cypher = _rel_cypher(rel_type, create=_is_empty(session, rel_type=rel_type))
                        written[rel_type] = _write(session, cypher, batched(rows[rel_type], batch_size))
                    finally:
                        with cond:
                            busy.difference_update(REL_ENDPOINTS[rel_type])
                            cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            with cond:
                errors.append(exc)
                cond.notify_all()

    threads = [threading.Thread(target=lane, name=f"neo4j-load-{i}") for i in range(max(1, lanes) - 1)]
    for t in threads:
        t.start()
    lane()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {rel_type: written[rel_type] for rel_type in rows}


def ensure_schema(driver, database: str) -> None:
    with driver.session(database=database) as session:
        for stmt in SCHEMA_STATEMENTS:
            session.run(stmt).consume()


def _rows(df: DataFrame) -> Iterator[dict[str, Any]]:
    for row in df.toLocalIterator(prefetchPartitions=True):
        yield row.asDict(recursive=True)


def _rows_by(df: DataFrame, column: str, keys: Iterable[str]) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """One pass over ``df``: its rows grouped by ``column`` (only the ``keys`` asked for), and how many it had.

    One Spark scan per gold table instead of one per label / relationship type plus a count."""
    groups: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    n = 0
    for row in _rows(df):
        n += 1
        bucket = groups.get(row[column])
        if bucket is not None:
            bucket.append(row)
    return groups, n


def load_frames(
    driver,
    database: str,
    vertices: DataFrame,
    edges: DataFrame,
    rings: DataFrame | None,
    build_id: str,
    batch_size: int = 5000,
    lanes: int = 2,
) -> LoadReport:
    """Load gold frames into Neo4j (the job below reads them from Delta; tests pass small frames).

    ``lanes``: sessions writing relationship types on disjoint labels at once (1 = one after another)."""
    report = LoadReport()
    t0 = time.monotonic()
    ensure_schema(driver, database)
    with driver.session(database=database) as session:
        vertex_groups, n_vertices = _rows_by(vertices, "tipo", LABELS)
        for tipo, label in LABELS.items():
            rows = unique_rows((vertex_row(vertex_params(r)) for r in vertex_groups.pop(tipo)), 1)
            cypher = _node_cypher(label, create=_is_empty(session, label=label))
            report.nodes_written[label] = _write(session, cypher, batched(rows, batch_size))
        edge_groups, n_edges = _rows_by(edges, "tipo", REL_ENDPOINTS)
        rel_rows = {rel_type: unique_rows((edge_row(edge_params(r)) for r in edge_groups.pop(rel_type)), 2)
                    for rel_type in REL_ENDPOINTS}
        t1 = time.monotonic()  # Spark's reading above is not counted in the relationship throughput
        report.rels_written = _write_rels(driver, database, rel_rows, batch_size, lanes)
        rel_time = time.monotonic() - t1
        n_rels = sum(len(rows) for rows in rel_rows.values())
        ring_rows = [ring_params(r, build_id) for r in _rows(rings)] if rings is not None else []
        if rings is not None:
            report.nodes_written["Anel"] = _write(session, RING_CYPHER, batched(ring_rows, 500))
            retired = session.execute_write(
                lambda tx: tx.run(RETIRE_CYPHER, ids=[r["id"] for r in ring_rows]).single())
            report.nodes_written["Anel retired"] = retired["written"] if retired else 0
    report.rows_read = n_vertices + n_edges + len(ring_rows)
    report.seconds = time.monotonic() - t0
    report.rels_per_s = n_rels / rel_time if rel_time > 0 else 0.0
    return report


#: One marker node records the last graph build fully loaded (so an unchanged build is not re-read). The id is
#: a bound parameter; a label cannot be one, so the contract's ``LOAD_MARKER_LABEL`` (a constant) is in the text.
MARKER_READ = f"MATCH (m:{LOAD_MARKER_LABEL} {{id: $marker_id}}) RETURN m.build_id AS build_id"
MARKER_WRITE = (f"MERGE (m:{LOAD_MARKER_LABEL} {{id: $marker_id}}) "
                "SET m.build_id = $build_id, m.carregado_em = datetime()")


def loaded_build(driver, database: str) -> str | None:
    """The graph build id the last complete load recorded, or None."""
    record = driver.execute_query(MARKER_READ, marker_id=LOAD_MARKER_ID, database_=database).records
    return record[0]["build_id"] if record else None


def mark_loaded(driver, database: str, build_id: str) -> None:
    driver.execute_query(MARKER_WRITE, marker_id=LOAD_MARKER_ID, build_id=build_id, database_=database)


def connect(n: Neo4jSettings):
    """A driver for the batch writers (this loader, ``gnn embed``), server notifications off: on a new store
    every count or ``MATCH`` on a label or type not created yet warns, which is expected here."""
    from pixring import neo4jdriver

    return neo4jdriver.driver(n, notifications_min_severity="OFF")


def load_neo4j(spark: SparkSession, settings: Settings, batch_size: int = 5000, force: bool = False,
               lanes: int = 2) -> LoadReport:
    """Read the gold graph tables and load them into the Neo4j of the settings.

    Without ``force`` nothing is read when the marker says this graph build was loaded completely already.
    """
    from lakehouse.paths import table_path

    from pixring import ledger

    erased = ledger.load(settings)  # the erasure ledger: nothing of an erased person goes (back) into Neo4j

    def gold(name: str) -> DataFrame:
        return ledger.without_erased(spark.read.format("delta").load(table_path(settings, "gold", name)), erased)

    vertices, edges = gold("graph_vertices"), gold("graph_edges")
    rings = gold("ring_candidates")
    builds = gold("graph_builds").orderBy("built_at", ascending=False).limit(1).collect()
    build_id = builds[0]["build_id"] if builds else "unknown"
    n = settings.neo4j
    with connect(n) as driver:
        if not force and builds and loaded_build(driver, n.database) == build_id:
            return LoadReport(skipped_build=build_id)
        report = load_frames(driver, n.database, vertices, edges, rings, build_id, batch_size, lanes)
        if builds:
            mark_loaded(driver, n.database, build_id)
    log.info("%s", report)
    return report

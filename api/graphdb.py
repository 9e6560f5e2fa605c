"""Neo4j queries of the API (parameters only, every query bounded by a LIMIT).

The sync driver, called from FastAPI's thread pool: it costs less than half the CPU per query of the async
driver here (no event-loop round per Bolt chunk).

Labels and relationship types are never taken from the request: the caller picks a *kind* from a closed
enum and the label comes from :data:`LABELS`. Ids, times and limits travel as ``$parameters``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from neo4j import READ_ACCESS
from neo4j.time import Date, DateTime, Duration, Time

from pixring import neo4jdriver
from pixring.contract import EDGE_ENDPOINTS, MEMBER_OF, NODE_LABELS, RING_LABEL
from pixring.settings import Neo4jSettings

log = logging.getLogger(__name__)

#: API kind -> Neo4j label (closed set).
LABELS: dict[str, str] = {**NODE_LABELS, "anel": RING_LABEL}
KINDS: dict[str, str] = {v: k for k, v in LABELS.items()}
#: properties never served (internal hashes; ring evidence is served by the ring endpoint)
HIDDEN_PROPS = frozenset({"_h", "evidencias"})


# One BFS layer: the relationships of the frontier nodes inside the time window (timeless ones always).
# Node properties served (temporal values as ISO strings: cheaper to decode than Bolt temporals).
_NODE_PROJECTION = ("{v} {{.id, .tipo_pessoa, .tipo_chave, .tipo_dispositivo, .id_comunidade, .pagerank, .grau_in, "
                    ".grau_out, .risco, .tamanho, .valor_em_risco, .ativo, "
                    "data_cadastro: toString({v}.data_cadastro)}}")
_START = {label: f"MATCH (c:{label} {{id: $id}}) RETURN elementId(c) AS eid, "
                 + _NODE_PROJECTION.format(v="c") + " AS props"
          for label in LABELS.values()}

# Hubs (a merchant key paid by thousands) keep only their ``$per_node`` heaviest relationships (by amount,
# then recency; ties by the other node's id, the type, then outgoing before incoming, so the same request
# always gets the same answer); the node is then marked ``parcial`` and the investigator expands it alone.
_HOP = (
    "UNWIND $frontier AS eid "
    "MATCH (a) WHERE elementId(a) = eid "
    "CALL (a) { "
    "  MATCH (a)-[r]-(b) "
    "  WHERE r.ultimo IS NULL OR (($since IS NULL OR r.ultimo >= $since) AND ($until IS NULL OR r.primeiro <= $until)) "
    "  WITH r, b ORDER BY coalesce(r.valor_total, 0.0) DESC, r.ultimo DESC, b.id, type(r), startNode(r) = a DESC "
    "  LIMIT $per_node_plus "
    "  RETURN collect([r, b]) AS rb "
    "} "
    "WITH a, rb, size(rb) > $per_node AS parcial "
    "UNWIND rb[..$per_node] AS pair "
    "WITH a, parcial, pair[0] AS r, pair[1] AS b "
    "RETURN elementId(a) AS aeid, parcial, type(r) AS type, startNode(r) = a AS saida, "
    "r {.n, .valor_total, primeiro: toString(r.primeiro), ultimo: toString(r.ultimo)} AS rprops, "
    "elementId(b) AS beid, labels(b) AS blabels, " + _NODE_PROJECTION.format(v="b") + " AS bprops "
    "LIMIT $limit"
)

_RING_ORDER = {"risco": "a.risco", "tamanho": "a.tamanho", "valor_em_risco": "a.valor_em_risco"}
_RING_WHERE = (
    "WHERE coalesce(a.risco, 0.0) >= $min_risk AND coalesce(a.tamanho, 0) >= $min_size "
    "AND coalesce(a.valor_em_risco, 0.0) >= $min_amount "
    "AND ($ativo IS NULL OR coalesce(a.ativo, false) = $ativo) "
    "AND ($build_id IS NULL OR a.build_id = $build_id) "
)
_RINGS = {
    order: (f"MATCH (a:{RING_LABEL}) " + _RING_WHERE
            + f"WITH a ORDER BY {expr} DESC, a.id "
            "WITH collect(a) AS rings "
            "RETURN size(rings) AS total, "
            "[a IN rings[$offset..($offset + $limit)] | a {.id, .risco, .tamanho, .valor_em_risco, .ativo, .build_id}] AS page")
    for order, expr in _RING_ORDER.items()
}
_USUARIO = NODE_LABELS["usuario"]
_TRANSFERIU = next(rel for rel, ends in EDGE_ENDPOINTS.items() if ends == ("usuario", "usuario"))
_RING = (
    f"MATCH (a:{RING_LABEL} {{id: $id}}) "
    f"OPTIONAL MATCH (m:{_USUARIO})-[:{MEMBER_OF}]->(a) "
    "WITH a, collect(m)[..$max_nodes] AS ms "
    "RETURN properties(a) AS anel, [m IN ms | properties(m)] AS membros"
)
_RING_FLOW = (
    f"MATCH (m:{_USUARIO})-[:{MEMBER_OF}]->(:{RING_LABEL} {{id: $id}}) "
    f"MATCH (m)-[t:{_TRANSFERIU}]-(:{_USUARIO}) "
    "WITH DISTINCT t LIMIT $max_edges "
    "RETURN startNode(t).id AS de, endNode(t).id AS para, t.n AS n, t.valor_total AS valor_total, "
    "t.primeiro AS primeiro, t.ultimo AS ultimo"
)
_PING = "RETURN 1 AS ok"


def plain(value: Any) -> Any:
    """A Bolt value as JSON-friendly Python (temporal -> ISO string, nested lists/maps converted)."""
    if isinstance(value, DateTime | Date | Time):
        return value.iso_format()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def clean_props(props: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in props.items()
            if v is not None and k not in HIDDEN_PROPS and not k.startswith("_")}


def compact(props: dict[str, Any]) -> dict[str, Any]:
    """A map projected by :data:`_NODE_PROJECTION` / the hop's relationship projection, without its nulls.

    Those projections name only served properties and turn temporal values into text in Cypher, so this is
    :func:`clean_props` without the per-value conversion (a 2-hop answer has hundreds of them)."""
    return {k: v for k, v in props.items() if v is not None}


def node_key(kind: str, ident: str) -> str:
    return f"{kind}:{ident}"


@dataclass
class Subgraph:
    center: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # elementId -> node
    edges: dict[str, dict[str, Any]] = field(default_factory=dict)  # elementId -> edge
    truncated: bool = False
    hops: int = 0


class Hop(Protocol):
    def __call__(self, frontier: list[str], *, since: datetime | None, until: datetime | None, limit: int,
                 per_node: int) -> Sequence[Sequence[Any]]: ...


def assemble(kind: str, ident: str, start: tuple[str, dict[str, Any]] | None, hop: Hop, *, hops: int,
             since: datetime | None, until: datetime | None, max_nodes: int, max_edges: int,
             per_node: int, props: Callable[[dict[str, Any]], dict[str, Any]] = compact) -> Subgraph | None:
    """The breadth-first neighbourhood of ``start`` (``(elementId, props)``; None: unknown node -> None).

    ``hop`` returns one layer's rows in :data:`_HOP`'s columns and order (from Neo4j, or from the in-memory
    projection of :mod:`api.graphproj`). Holds every node reached within ``hops`` and every relationship
    traversed; stops adding nodes at ``max_nodes`` and relationships at ``max_edges`` (``truncated`` tells);
    a node with more than ``per_node`` relationships in the window is expanded through its heaviest
    ``per_node`` only (``parcial``). ``props`` turns a row's property map into the served one (:func:`compact`;
    the projection's maps are compacted already and are served as they are, never mutated).
    """
    if start is None:
        return None
    center_eid, center_props = start
    sg = Subgraph(center=node_key(kind, ident), hops=hops)
    sg.nodes[center_eid] = {"key": sg.center, "tipo": kind, "id": ident, "nivel": 0, "props": props(center_props)}
    frontier = [center_eid]
    for level in range(1, hops + 1):
        if not frontier:
            break
        budget = max_edges - len(sg.edges)
        if budget <= 0:
            sg.truncated = True
            break
        rows = hop(frontier, since=since, until=until, limit=budget + 1, per_node=per_node)
        if len(rows) > budget:
            sg.truncated = True
            rows = rows[:budget]
        nxt: list[str] = []
        # rows unpacked as tuples, in _HOP's RETURN order (cheaper than a lookup by name per field)
        for aeid, parcial, rtype, saida, rprops, beid, blabels, bprops in rows:
            if parcial and aeid in sg.nodes:
                sg.nodes[aeid]["parcial"] = True
            if beid not in sg.nodes:
                if len(sg.nodes) >= max_nodes:
                    sg.truncated = True
                    continue
                kind_b = next((KINDS[lb] for lb in blabels if lb in KINDS), "outro")
                ident_b = str(bprops.get("id"))
                sg.nodes[beid] = {"key": node_key(kind_b, ident_b), "tipo": kind_b, "id": ident_b,
                                  "nivel": level, "props": props(bprops)}
                nxt.append(beid)
            s_eid, t_eid = (aeid, beid) if saida else (beid, aeid)
            rid = f"{rtype}|{s_eid}|{t_eid}"  # one relationship per type and ordered pair (MERGE)
            if rid not in sg.edges:
                sg.edges[rid] = {"id": rid, "tipo": rtype, "s": s_eid, "t": t_eid, "props": props(rprops)}
        frontier = nxt
    # edges whose endpoints were dropped by the node cap are not served
    for rid in [rid for rid, e in sg.edges.items() if e["s"] not in sg.nodes or e["t"] not in sg.nodes]:
        del sg.edges[rid]
    for e in sg.edges.values():
        e["source"] = sg.nodes[e.pop("s")]["key"]
        e["target"] = sg.nodes[e.pop("t")]["key"]
        e["id"] = f"{e['tipo']}|{e['source']}|{e['target']}"
    return sg


class GraphStore:
    """The API's Neo4j access: one driver (connection pool) for the process, thread-safe."""

    def __init__(self, settings: Neo4jSettings) -> None:
        self.database = settings.database
        self.driver = neo4jdriver.driver(
            settings, max_connection_pool_size=64, connection_acquisition_timeout=10.0,
            notifications_min_severity="OFF")

    def close(self) -> None:
        self.driver.close()

    def _run(self, cypher: str, **params: Any) -> list[Any]:
        result = self.driver.execute_query(cypher, parameters_=params, database_=self.database,
                                                 routing_="r")
        return result.records

    def ping(self) -> bool:
        try:
            records = self._run(_PING)
            return bool(records and records[0]["ok"] == 1)
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            log.warning("neo4j not reachable: %s", type(exc).__name__)
            return False

    def subgraph(self, kind: str, ident: str, *, hops: int, since: datetime | None,
                 until: datetime | None, max_nodes: int, max_edges: int, per_node: int = 25) -> Subgraph | None:
        """Breadth-first neighbourhood of one node read from Neo4j (see :func:`assemble`); None when unknown.

        The start node and every hop (one bounded query each) in one read transaction: one session checkout,
        one BEGIN/COMMIT."""
        def read(tx) -> Subgraph | None:
            records = list(tx.run(_START[LABELS[kind]], {"id": ident}))
            start = (records[0]["eid"], records[0]["props"]) if records else None

            def hop(frontier: list[str], *, since, until, limit: int, per_node: int) -> list[Any]:
                return list(tx.run(_HOP, {"frontier": frontier, "since": since, "until": until, "limit": limit,
                                          "per_node": per_node, "per_node_plus": per_node + 1}))

            return assemble(kind, ident, start, hop, hops=hops, since=since, until=until, max_nodes=max_nodes,
                            max_edges=max_edges, per_node=per_node)

        with self.driver.session(database=self.database, default_access_mode=READ_ACCESS) as session:
            return session.execute_read(read)

    def rings(self, *, order: str, min_risk: float, min_size: int, min_amount: float,
                    ativo: bool | None, build_id: str | None, offset: int, limit: int) -> tuple[int, list[dict]]:
        records = self._run(_RINGS[order], min_risk=min_risk, min_size=min_size, min_amount=min_amount,
                                  ativo=ativo, build_id=build_id, offset=offset, limit=limit)
        if not records:
            return 0, []
        return records[0]["total"], [plain(dict(r)) for r in records[0]["page"]]

    def ring(self, ring_id: str, *, max_nodes: int, max_edges: int) -> dict[str, Any] | None:
        records = self._run(_RING, id=ring_id, max_nodes=max_nodes)
        if not records:
            return None
        anel = dict(records[0]["anel"])
        evid = anel.get("evidencias")
        flows = self._run(_RING_FLOW, id=ring_id, max_edges=max_edges)
        return {
            "anel": clean_props(anel),
            "evidencias": json.loads(evid) if isinstance(evid, str) and evid.startswith(("{", "[")) else evid,
            "membros": [clean_props(dict(m)) | {"id": m.get("id")} for m in records[0]["membros"]],
            "fluxos": [plain(dict(f)) for f in flows],
        }

"""An in-memory projection of the Neo4j graph: subgraph reads without a round trip per hop.

Neo4j stays the graph of record (the loader writes it, investigators browse it, rings and money flows are
read from it). The API additionally reads every served node and relationship of it once, into adjacency
lists sorted the way the hop query sorts (:data:`api.graphdb._HOP`: heaviest amount first, then most
recent), and answers ``/v1/graph`` from them with the same breadth-first assembly
(:func:`api.graphdb.assemble`), so both paths give the same subgraph.

Why: a 2-hop subgraph straight from Neo4j costs ~2 ms of Neo4j CPU and ~2.5 ms of driver CPU (three
queries in one read transaction); on a 2-core machine shared by the database, the API and the callers that
caps the API near 250 subgraphs/s, far from the 32-client p99 target. From the projection it is ~0.2 ms of
Python.

Freshness: :meth:`GraphProjectionHolder.refresh_if_changed` (every ``settings.api.graph_refresh_seconds``)
compares the load marker ``(:PixringCarga {id: 'graph'})`` (build id and load time, written at the end of
every ``pixring graph load-neo4j``) and the node and relationship counts (count store, no scan) with those of
the projection, and reloads in the background when any moved; until the first load, after a failed load, or
when the graph has more than ``graph_projection_max_relationships`` relationships, subgraphs are read from
Neo4j directly.
A property changed in Neo4j by anything but the loader is seen at the next load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.background import every
from api.graphdb import _NODE_PROJECTION, LABELS, compact
from pixring.contract import LOAD_MARKER_ID, LOAD_MARKER_LABEL

if TYPE_CHECKING:
    from neo4j import Record

    from api.graphdb import GraphStore

log = logging.getLogger(__name__)

_SERVED = " OR ".join(f"n:{label}" for label in LABELS.values())
_NODES = (f"MATCH (n) WHERE {_SERVED} "
          f"RETURN elementId(n) AS eid, labels(n) AS labels, {_NODE_PROJECTION.format(v='n')} AS props")
# the same relationship projection as the hop query, plus the raw times for the window filter
_RELS = (f"MATCH (a)-[r]->(b) WHERE ({_SERVED.replace('n:', 'a:')}) AND ({_SERVED.replace('n:', 'b:')}) "
         "RETURN elementId(a) AS a, elementId(b) AS b, type(r) AS type, "
         "r {.n, .valor_total, primeiro: toString(r.primeiro), ultimo: toString(r.ultimo)} AS props, "
         "r.primeiro AS primeiro, r.ultimo AS ultimo")
# the marker's id bound; its label the contract's constant
_VERSION = (f"OPTIONAL MATCH (m:{LOAD_MARKER_LABEL} {{id: $marker_id}}) "
            "RETURN m.build_id AS build_id, toString(m.carregado_em) AS loaded, "
            "COUNT { MATCH (n) } AS nodes, COUNT { MATCH ()-[r]->() } AS rels")

_EPOCH = datetime(1970, 1, 1)


def _native(value: Any) -> datetime | None:
    """A Bolt temporal as a naive datetime (LocalDateTime, as the loader writes them); None stays None."""
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    if not isinstance(native, datetime):  # a DATE or another type: never compared by the hop query's window
        return None
    return native if native.tzinfo is None else native.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class _Rel:
    """One relationship seen from one of its ends (each relationship is held twice, once per end)."""

    type: str
    saida: bool  # this end is the start node
    other: int  # index of the node at the other end
    props: dict[str, Any]
    primeiro: datetime | None
    ultimo: datetime | None


def _order(rel: _Rel, other_id: str) -> tuple[float, int, float, str, str, int]:
    """``ORDER BY coalesce(r.valor_total, 0.0) DESC, r.ultimo DESC, b.id, type(r), startNode(r) = a DESC``
    (Cypher puts nulls first in DESC and true before false in DESC; ids are ASCII, so Python's and Cypher's
    string orders agree). The last key parts A->B from B->A of one type with equal amount and time."""
    v = rel.props.get("valor_total") or 0.0
    last = 0.0 if rel.ultimo is None else -(rel.ultimo - _EPOCH).total_seconds()
    return (-v, 0 if rel.ultimo is None else 1, last, other_id, rel.type, 0 if rel.saida else 1)


@dataclass
class Projection:
    """One immutable copy of the served graph (replaced whole on reload, never mutated)."""

    version: tuple[Any, ...]
    eids: list[str] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)
    props: list[dict[str, Any]] = field(default_factory=list)
    adj: list[list[_Rel]] = field(default_factory=list)
    by_id: dict[tuple[str, str], int] = field(default_factory=dict)
    by_eid: dict[str, int] = field(default_factory=dict)
    relationships: int = 0
    seconds: float = 0.0

    @classmethod
    def build(cls, version: tuple[Any, ...], nodes: Iterable[tuple[str, list[str], dict[str, Any]]],
              rels: Iterable[tuple[str, str, str, dict[str, Any], Any, Any]]) -> Projection:
        """From ``(eid, labels, props)`` node rows and ``(start eid, end eid, type, props, primeiro, ultimo)``
        relationship rows, as :data:`_NODES` and :data:`_RELS` return them."""
        p = cls(version)
        for eid, labels, props in nodes:
            i = len(p.eids)
            p.eids.append(eid)
            p.labels.append(list(labels))
            p.props.append(compact(props))  # served compacted anyway; half the keys are null
            p.adj.append([])
            p.by_eid[eid] = i
            ident = props.get("id")
            for label in labels:
                if label in LABELS.values() and ident is not None:
                    p.by_id[(label, str(ident))] = i
        for a, b, rtype, props, primeiro, ultimo in rels:
            ia, ib = p.by_eid.get(a), p.by_eid.get(b)
            if ia is None or ib is None:
                continue
            first, last = _native(primeiro), _native(ultimo)
            props = compact(props)
            p.adj[ia].append(_Rel(rtype, True, ib, props, first, last))
            if ia != ib:
                p.adj[ib].append(_Rel(rtype, False, ia, props, first, last))
            p.relationships += 1
        ids = [str(props.get("id")) for props in p.props]
        for rels_of in p.adj:
            rels_of.sort(key=lambda r: _order(r, ids[r.other]))
        return p

    def start(self, label: str, ident: str) -> tuple[str, dict[str, Any]] | None:
        """The start node as the start query returns it: ``(eid, props)``, or None when unknown."""
        i = self.by_id.get((label, ident))
        return None if i is None else (self.eids[i], self.props[i])

    def hop(self, frontier: list[str], *, since: datetime | None, until: datetime | None, limit: int,
            per_node: int) -> list[tuple]:
        """The rows of one hop, in the hop query's columns and order: for each frontier node its relationships
        inside the window, heaviest ``per_node`` first (``parcial`` when it has more), ``limit`` rows at most."""
        rows: list[tuple] = []
        for aeid in frontier:
            ia = self.by_eid.get(aeid)
            if ia is None:
                continue
            kept: list[_Rel] = []
            for r in self.adj[ia]:
                if r.ultimo is not None and (
                        (since is not None and r.ultimo < since)
                        or (until is not None and (r.primeiro is None or r.primeiro > until))):
                    continue
                kept.append(r)
                if len(kept) > per_node:
                    break
            parcial = len(kept) > per_node
            for r in kept[:per_node]:
                o = r.other
                rows.append((aeid, parcial, r.type, r.saida, r.props, self.eids[o], self.labels[o], self.props[o]))
                if len(rows) >= limit:
                    return rows
        return rows


class GraphProjectionHolder:
    """Holds the current :class:`Projection` of one :class:`GraphStore` and reloads it when the graph moves."""

    def __init__(self, store: GraphStore, *, refresh_seconds: float, max_relationships: int,
                 enabled: bool = True) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.max_relationships = max_relationships
        self.enabled = enabled
        self.current: Projection | None = None
        self.error: str | None = None
        self.skipped: str | None = None
        self.loads = 0
        self._skipped_version: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def version(self) -> tuple[Any, ...]:
        rec = self.store._run(_VERSION, marker_id=LOAD_MARKER_ID)[0]  # noqa: SLF001 - the same package's store
        return (rec["build_id"], rec["loaded"], rec["nodes"], rec["rels"])

    def load(self) -> bool:
        """Read the whole served graph (two queries) and swap it in; True when a projection is now served."""
        if not self.enabled:
            return False
        with self._lock:
            try:
                t0 = time.perf_counter()
                version = self.version()
                if version[3] > self.max_relationships:
                    self.current, self.skipped = None, (f"{version[3]} relationships > graph_projection_max_"
                                                        f"relationships {self.max_relationships}")
                    self._skipped_version = version  # not checked again until the graph moves
                    log.info("graph projection off: %s; subgraphs are read from Neo4j", self.skipped)
                    return False
                # rows streamed (fetched a batch at a time) rather than listed first: peak memory ~2x lower
                proj = Projection.build(version, self._stream(_NODES), self._stream(_RELS))
                proj.seconds = time.perf_counter() - t0
                self.current, self.error, self.skipped = proj, None, None
                self.loads += 1
                log.info("graph projection loaded: %d nodes, %d relationships in %.1fs (build %s)",
                         len(proj.eids), proj.relationships, proj.seconds, version[0])
                return True
            except Exception as exc:  # noqa: BLE001 - the Neo4j path keeps serving
                # the graph moved (or this is the first load): a copy kept now would be stale, so none is served
                self.current, self.error = None, type(exc).__name__
                log.warning("graph projection not loaded: %s; subgraphs are read from Neo4j", type(exc).__name__)
                return False

    def _stream(self, query: str) -> Iterator[Record]:
        with self.store.driver.session(database=self.store.database) as session:
            yield from session.run(query)  # a Record is a tuple: unpacked like the rows build() documents

    def refresh_if_changed(self) -> bool:
        """Reload when the load marker or the counts moved (or nothing is loaded); True when it reloaded."""
        if not self.enabled:
            return False
        version = self.version()
        if self.current is not None and version == self.current.version:
            return False
        if self.current is None and version == self._skipped_version:
            return False
        return self.load()

    def start(self) -> None:
        self._thread = every(self.refresh_seconds, self.refresh_if_changed, self._stop, "graph-projection-refresh")

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        p = self.current
        return {"enabled": self.enabled, "served": p is not None, "build_id": p.version[0] if p else None,
                "loaded": p.version[1] if p else None, "nodes": len(p.eids) if p else 0,
                "relationships": p.relationships if p else 0, "seconds": round(p.seconds, 3) if p else None,
                "loads": self.loads, "error": self.error, "skipped": self.skipped}

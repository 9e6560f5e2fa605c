"""Investigator cases: append-only events in gold ``cases`` (Delta), mirrored on the Neo4j ring / account node.

A case is opened on a ring (``anel``) or an account (``usuario``); each disposition (:data:`DISPOSICOES`) is
one more event. Nothing is ever updated or deleted: the case's status is its latest event, its history is
every event. The table's columns and enums live in :mod:`pixring.contract` (``CASES_COLUMNS``); the events
are written with ``deltalake`` (delta-rs, appends only), the same library the read model reads with, and
``gnn train`` reads them as labels (:func:`gnn.data.investigator_labels`).

After the Delta append (the record) the status is mirrored onto the node (``status_caso``, ``id_caso``,
``status_caso_em``) with a parameterised Cypher ``SET``; the label comes from a closed map, never the request.
A failed mirror is logged (without the notes) and does not undo the record.

Notes are free text (they may name people): stored in Delta, returned by ``GET /v1/cases/{id}``, never logged.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pixring.contract import (CASE_AT_PROP, CASE_ID_PROP, CASE_OPENED, CASE_STATUS_PROP, CASES_COLUMNS, CASES_TABLE,
                              MEMBER_OF, NODE_LABELS, RING_LABEL)

log = logging.getLogger(__name__)

#: case target kind -> Neo4j label (closed set: the label is never taken from a request)
TARGET_LABELS: dict[str, str] = {"anel": RING_LABEL, "usuario": NODE_LABELS["usuario"]}

_ARROW = {"str": pa.string(), "list<str>": pa.list_(pa.string()), "ts": pa.timestamp("us", tz="UTC")}
SCHEMA = pa.schema([(c, _ARROW[t]) for c, t in CASES_COLUMNS.items()])

_FIND = {
    "anel": (f"MATCH (a:{RING_LABEL} {{id: $id}}) "
             f"OPTIONAL MATCH (m:{NODE_LABELS['usuario']})-[:{MEMBER_OF}]->(a) "
             "RETURN a.id AS id, [x IN collect(m.id)[..$max] | x] AS membros"),
    "usuario": f"MATCH (u:{NODE_LABELS['usuario']} {{id: $id}}) RETURN u.id AS id, [u.id] AS membros",
}
_MIRROR = {kind: (f"MATCH (n:{label} {{id: $id}}) SET n.{CASE_STATUS_PROP} = $status, n.{CASE_ID_PROP} = $id_caso, "
                  f"n.{CASE_AT_PROP} = $em RETURN count(n) AS n")
           for kind, label in TARGET_LABELS.items()}


@dataclass(frozen=True)
class Event:
    id_evento: str
    id_caso: str
    tipo: str
    id_alvo: str
    evento: str
    status: str
    usuarios: tuple[str, ...]
    notas: str | None
    por: str
    em: datetime  # naive UTC

    def public(self) -> dict[str, Any]:
        """The history entry the API serves."""
        return {"disposicao": self.evento, "notas": self.notas, "por": self.por, "em": self.em}


def _naive(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


class CaseStore:
    """gold ``cases`` under ``lakehouse``: appends and an in-memory index re-read when the Delta version moves
    (another API worker may have appended)."""

    def __init__(self, lakehouse: Path, graph_driver=None, database: str | None = None, max_members: int = 500) -> None:
        self.path = Path(lakehouse) / "gold" / CASES_TABLE
        self.driver = graph_driver
        self.database = database
        self.max_members = max_members
        self._lock = threading.Lock()
        self._version: int | None = -1
        self._events: list[Event] = []

    # ---------------------------------------------------------------------------------------------- reading

    def _current_version(self) -> int | None:
        from deltalake import DeltaTable

        if not (self.path / "_delta_log").is_dir():
            return None
        return DeltaTable(str(self.path)).version()

    def events(self) -> list[Event]:
        """Every event, in time order (re-read when the table's version moved)."""
        with self._lock:
            version = self._current_version()
            if version != self._version:
                self._events = self._read() if version is not None else []
                self._version = version
            return self._events

    def _read(self) -> list[Event]:
        from deltalake import DeltaTable

        rows = DeltaTable(str(self.path)).to_pyarrow_table(columns=list(CASES_COLUMNS)).to_pylist()
        out = [Event(**{**r, "usuarios": tuple(r["usuarios"] or ()), "em": _naive(r["em"])}) for r in rows]
        return sorted(out, key=lambda e: (e.em, e.id_evento))

    def case(self, id_caso: str) -> list[Event]:
        return [e for e in self.events() if e.id_caso == id_caso]

    def latest_by_target(self) -> dict[tuple[str, str], Event]:
        """(tipo, id) -> the latest event of the target's latest case."""
        out: dict[tuple[str, str], Event] = {}
        for e in self.events():
            out[(e.tipo, e.id_alvo)] = e
        return out

    # ---------------------------------------------------------------------------------------------- writing

    def find_target(self, tipo: str, ident: str) -> list[str] | None:
        """The accounts a case on (tipo, id) covers (a ring's members, or the account); None when unknown."""
        records = self.driver.execute_query(_FIND[tipo], parameters_={"id": ident, "max": self.max_members},
                                            database_=self.database, routing_="r").records
        if not records:
            return None
        return sorted(m for m in records[0]["membros"] if m)

    def append(self, *, id_caso: str, tipo: str, id_alvo: str, evento: str, usuarios: list[str],
               notas: str | None, por: str, em: datetime | None = None) -> Event:
        """Append one event to Delta (the record), then mirror the status on the Neo4j node."""
        from deltalake import write_deltalake

        em = _naive(em or datetime.now(UTC))
        ev = Event(id_evento=uuid.uuid4().hex, id_caso=id_caso, tipo=tipo, id_alvo=id_alvo, evento=evento,
                   status=evento, usuarios=tuple(usuarios), notas=notas, por=por, em=em)
        row = {**ev.__dict__, "usuarios": list(ev.usuarios), "em": em.replace(tzinfo=UTC)}
        table = pa.Table.from_pylist([row], schema=SCHEMA)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_deltalake(str(self.path), table, mode="append")
        log.info("case %s: %s on %s recorded", id_caso, evento, tipo)  # never the notes
        self.mirror(ev)
        return ev

    def mirror(self, ev: Event) -> bool:
        """Set the case status on the target's node; False (logged) when Neo4j could not be written."""
        if self.driver is None:
            return False
        try:
            records = self.driver.execute_query(
                _MIRROR[ev.tipo], parameters_={"id": ev.id_alvo, "status": ev.status, "id_caso": ev.id_caso,
                                               "em": ev.em}, database_=self.database, routing_="w").records
            return bool(records and records[0]["n"])
        except Exception as exc:  # noqa: BLE001 - Delta holds the record; the mirror is repaired by the next event
            log.warning("case %s: Neo4j mirror failed (%s)", ev.id_caso, type(exc).__name__)
            return False

    @staticmethod
    def new_id() -> str:
        return "CS-" + uuid.uuid4().hex[:16].upper()


def is_open(status: str | None) -> bool:
    from pixring.contract import CASE_CLOSED

    return status is not None and status not in CASE_CLOSED


__all__ = ["CASE_OPENED", "CaseStore", "Event", "SCHEMA", "TARGET_LABELS", "is_open"]

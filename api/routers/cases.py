"""``/v1/cases``: the analysts' queue, opening a case on a ring or an account, dispositions, a case's history.

Investigator roles only; every write and every case read is audited (who, which case; never the notes).
The record is gold ``cases`` (append-only, :mod:`api.cases`); the status is mirrored on the Neo4j node.

The queue: every ring candidate and every GNN-flagged account outside a ring, whose case is not closed
(``mula_confirmada`` / ``descartado``), ordered by ``prioridade = risco x valor_em_risco`` (a ring's risk and
amount at risk; an account's GNN score and the effective amount it received), cut to
``PIXRING_API_ANALYST_CAPACITY``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.cases import CaseStore, Event, is_open
from api.deps import Ctx, Investigator
from api.erasure import is_erased
from api.models import ID_PATTERN
from api.routers.common import PROTECTED, PROTECTED_404, not_found
from api.security import Principal
from pixring.contract import CASE_OPENED, CASE_TARGETS, DISPOSICOES

router = APIRouter(prefix="/v1/cases", tags=["cases"])

Tipo = StrEnum("Tipo", {t: t for t in CASE_TARGETS})
Disposicao = StrEnum("Disposicao", {d: d for d in DISPOSICOES})
CaseId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
NOTES_MAX = 4000


class QueueItem(BaseModel):
    tipo: str
    id: str
    risco: float
    valor_em_risco: float
    prioridade: float
    id_caso: str | None = None
    status: str = Field(description="nova (no case yet), aberto, or the latest disposition")


class Queue(BaseModel):
    capacidade: int
    itens: list[QueueItem]


class CaseIn(BaseModel):
    tipo: Tipo
    id: str = Field(pattern=ID_PATTERN, max_length=128)
    notas: str | None = Field(None, max_length=NOTES_MAX)


class DispositionIn(BaseModel):
    disposicao: Disposicao
    notas: str | None = Field(None, max_length=NOTES_MAX)


class HistoryEntry(BaseModel):
    disposicao: str = Field(description="aberto (the opening) or a disposition")
    notas: str | None = None
    por: str
    em: datetime


class CaseOut(BaseModel):
    id_caso: str
    tipo: str
    id: str
    status: str
    usuarios: list[str] = Field(default_factory=list, description="the accounts the case covers")
    historico: list[HistoryEntry]


def store(ctx: Ctx) -> CaseStore:
    s = ctx.extra.get("cases")
    if s is None:
        s = ctx.extra.setdefault("cases", CaseStore(ctx.settings.paths.lakehouse, ctx.graph.driver,
                                                    ctx.graph.database, ctx.settings.api.max_nodes))
    return s


def _audit(ctx: Ctx, who: Principal, action: str, id_caso: str, found: bool = True) -> None:
    ctx.audit.write(role=who.role.value, subject=who.subject, token=who.fingerprint, action=action,
                    resource=f"caso:{id_caso}", fields=(), found=found, request_id=who.request_id)


def _case_out(events: list[Event]) -> CaseOut:
    first, last = events[0], events[-1]
    return CaseOut(id_caso=first.id_caso, tipo=first.tipo, id=first.id_alvo, status=last.status,
                   usuarios=list(last.usuarios), historico=[HistoryEntry(**e.public()) for e in events])


def _received(snap) -> dict[str, float]:
    """Effective amount received per account (cached on the snapshot object)."""
    cached = getattr(snap, "_received_by_user", None)
    if cached is None:
        cached = {}
        for txs in snap.out_by_user.values():
            for t in txs:
                if t.usuario_destino:
                    cached[t.usuario_destino] = cached.get(t.usuario_destino, 0.0) + t.valor
        snap.__dict__["_received_by_user"] = cached
    return cached


def queue_items(snap, latest: dict[tuple[str, str], Event], capacity: int) -> list[QueueItem]:
    items: list[dict[str, Any]] = []
    in_rings: set[str] = set()
    for ring_id, ring in snap.rings.items():
        in_rings.update(ring["membros"])
        items.append({"tipo": "anel", "id": ring_id, "risco": ring["risco"], "valor_em_risco": ring["valor_em_risco"]})
    received = _received(snap)
    for (kind, ident), s in snap.scores.items():
        if kind != "usuario" or ident in in_rings or not s.get("sinalizado"):
            continue
        items.append({"tipo": "usuario", "id": ident, "risco": float(s.get("score") or 0.0),
                      "valor_em_risco": round(received.get(ident, 0.0), 2)})
    out = []
    for it in items:
        ev = latest.get((it["tipo"], it["id"]))
        status = ev.status if ev else "nova"
        if ev is not None and not is_open(status):
            continue
        out.append(QueueItem(**it, prioridade=round(it["risco"] * it["valor_em_risco"], 4),
                             id_caso=ev.id_caso if ev else None, status=status))
    out.sort(key=lambda q: (-q.prioridade, q.tipo, q.id))
    return out[:capacity]


@router.get("/queue", response_model=Queue, responses=PROTECTED,
            summary="The analysts' queue: open work by risk x value at risk, cut to the team's capacity")
async def queue(ctx: Ctx, who: Investigator) -> Queue:
    latest = await run_in_threadpool(store(ctx).latest_by_target)
    cap = ctx.settings.api.analyst_capacity
    return Queue(capacidade=cap, itens=queue_items(ctx.readmodel.snapshot, latest, cap))


@router.post("", response_model=CaseOut, status_code=201, responses={**PROTECTED_404, 409: {}, 410: {}},
             summary="Open a case on a ring or an account")
async def open_case(ctx: Ctx, who: Investigator, body: CaseIn) -> CaseOut:
    if is_erased(ctx, body.id):
        raise HTTPException(410, "erased")
    st = store(ctx)
    tipo = body.tipo.value
    usuarios = await run_in_threadpool(st.find_target, tipo, body.id)
    if usuarios is None:
        raise not_found("ring" if tipo == "anel" else "account")
    current = (await run_in_threadpool(st.latest_by_target)).get((tipo, body.id))
    if current is not None and is_open(current.status):
        raise HTTPException(409, f"case {current.id_caso} is already open on this {tipo}")
    id_caso = st.new_id()
    ev = await run_in_threadpool(lambda: st.append(id_caso=id_caso, tipo=tipo, id_alvo=body.id, evento=CASE_OPENED,
                                                   usuarios=usuarios, notas=body.notas, por=who.subject))
    _audit(ctx, who, "case_open", id_caso)
    return _case_out([ev])


@router.get("/{id_caso}", response_model=CaseOut, responses=PROTECTED_404, summary="A case and its full history")
async def get_case(ctx: Ctx, who: Investigator, id_caso: CaseId) -> CaseOut:
    events = await run_in_threadpool(store(ctx).case, id_caso)
    _audit(ctx, who, "case_read", id_caso, found=bool(events))
    if not events:
        raise not_found("case")
    return _case_out(events)


@router.post("/{id_caso}/disposicoes", response_model=CaseOut, status_code=201, responses=PROTECTED_404,
             summary="Record a disposition (confirmed mule, dismissed, needs information) with notes")
async def dispose(ctx: Ctx, who: Investigator, id_caso: CaseId, body: DispositionIn) -> CaseOut:
    st = store(ctx)
    events = await run_in_threadpool(st.case, id_caso)
    if not events:
        raise not_found("case")
    last = events[-1]
    ev = await run_in_threadpool(lambda: st.append(id_caso=id_caso, tipo=last.tipo, id_alvo=last.id_alvo,
                                                   evento=body.disposicao.value, usuarios=list(last.usuarios),
                                                   notas=body.notas, por=who.subject))
    _audit(ctx, who, f"case_{body.disposicao.value}", id_caso)
    return _case_out([*events, ev])

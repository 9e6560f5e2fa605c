"""``/v1/med``: MED 2.0 requests for a ring or a victim's transaction (JSON, or CSV with ``?formato=csv``);
the printable page is ``/ui/med.html?anel=<id>`` / ``?transacao=<id>``. Audited like a case read."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import med
from api.deps import Ctx, Investigator
from api.models import ID_PATTERN
from api.routers.common import PROTECTED_404, not_found

router = APIRouter(prefix="/v1/med", tags=["med"])
Id = Annotated[str, Path(max_length=128, pattern=ID_PATTERN)]


class Formato(StrEnum):
    json = "json"
    csv = "csv"


def _answer(body: dict[str, Any], formato: Formato, name: str) -> Any:
    if formato is Formato.csv:
        return Response(med.to_csv(body), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="med-{name}.csv"'})
    return body


def _run(ctx: Ctx, tipo: str, ident: str, tx_ids: list[str], members: set[str] | None = None) -> dict | None:
    a = ctx.settings.api
    return med.request(ctx.readmodel.snapshot, tipo, ident, tx_ids, window_h=a.med_window_hours,
                       max_hops=a.med_max_hops, max_accounts=a.max_nodes, max_transfers=a.max_edges, members=members)


def _audit(ctx: Ctx, who, resource: str, found: bool) -> None:
    ctx.audit.write(role=who.role.value, subject=who.subject, token=who.fingerprint, action="med_request",
                    resource=resource, fields=(), found=found, request_id=who.request_id)


_CSV = {200: {"content": {"application/json": {}, "text/csv": {}}}}


@router.get("/transacao/{tx_id}", responses={**PROTECTED_404, **_CSV},
            summary="MED 2.0 request for a victim's transaction: traced paths, recoverable amount per hop")
async def med_transaction(ctx: Ctx, who: Investigator, tx_id: Id,
                          formato: Annotated[Formato, Query()] = Formato.json) -> Any:
    body = await run_in_threadpool(_run, ctx, "transacao", tx_id, [tx_id])
    _audit(ctx, who, f"transacao:{tx_id}", body is not None)
    if body is None:
        raise not_found("transaction")
    return _answer(body, formato, tx_id)


@router.get("/anel/{ring_id}", responses={**PROTECTED_404, **_CSV},
            summary="MED 2.0 request for a ring: every victim payment into its members, traced jointly")
async def med_ring(ctx: Ctx, who: Investigator, ring_id: Id,
                   formato: Annotated[Formato, Query()] = Formato.json) -> Any:
    snap = ctx.readmodel.snapshot
    ring = snap.rings.get(ring_id)
    members = set(ring["membros"]) if ring else None
    if not members:
        found = await run_in_threadpool(ctx.graph.ring, ring_id, max_nodes=ctx.settings.api.max_nodes, max_edges=1)
        members = {m["id"] for m in found["membros"]} if found else None
    if not members:
        _audit(ctx, who, f"anel:{ring_id}", False)
        raise not_found("ring")
    tx_ids = med.victim_payments(snap, members, ctx.settings.api.max_edges)
    body = await run_in_threadpool(_run, ctx, "anel", ring_id, tx_ids, members)
    _audit(ctx, who, f"anel:{ring_id}", True)
    if body is None:  # a ring nobody outside it paid: nothing to claim back
        body = {"tipo": "anel", "id": ring_id, "janela_horas": ctx.settings.api.med_window_hours,
                "max_hops": ctx.settings.api.med_max_hops, "transacoes_origem": [], "valor_contestado": 0.0,
                "valor_recuperavel": 0.0, "por_hop": [], "contas": [], "caminhos": [], "transferencias": [],
                "truncado": False}
    return _answer(body, formato, ring_id)

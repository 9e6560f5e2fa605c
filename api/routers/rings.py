"""``/v1/rings``: ring candidates (list with filters and pagination; one ring with members, flow, evidence)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import Ctx, Investigator
from api.models import ID_PATTERN, Flow, Member, RingDetail, RingPage, RingSummary
from api.routers.common import PROTECTED, PROTECTED_404, not_found

router = APIRouter(prefix="/v1/rings", tags=["rings"])


class RingOrder(StrEnum):
    risco = "risco"
    tamanho = "tamanho"
    valor_em_risco = "valor_em_risco"


class RingState(StrEnum):
    ativo = "ativo"
    retirado = "retirado"
    todos = "todos"


def _summary(ctx: Ctx, row: dict[str, Any]) -> RingSummary:
    snap = ctx.readmodel.snapshot
    gold = snap.rings.get(row["id"], {})
    rs = snap.ring_scores.get(row["id"])
    return RingSummary(**row, status=gold.get("status"), score_gnn=rs.get("score") if rs else None)


@router.get("", response_model=RingPage, responses=PROTECTED, summary="List ring candidates")
def list_rings(
    ctx: Ctx,
    who: Investigator,
    min_risk: Annotated[float, Query(ge=0, le=1)] = 0.0,
    min_size: Annotated[int, Query(ge=0, le=100_000)] = 0,
    min_amount: Annotated[float, Query(ge=0, le=1e12)] = 0.0,
    state: Annotated[RingState, Query(description="ativo (current build) | retirado | todos")] = RingState.ativo,
    build_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    order: Annotated[RingOrder, Query()] = RingOrder.risco,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
) -> RingPage:
    ativo = None if state is RingState.todos else state is RingState.ativo
    total, rows = ctx.graph.rings(order=order.value, min_risk=min_risk, min_size=min_size,
                                        min_amount=min_amount, ativo=ativo, build_id=build_id,
                                        offset=offset, limit=limit)
    return RingPage(total=total, offset=offset, limit=limit, items=[_summary(ctx, r) for r in rows])


@router.get("/{ring_id}", response_model=RingDetail, responses=PROTECTED_404,
            summary="One ring: members, money flow and evidence (motifs, GNN explanation)")
def get_ring(
    ctx: Ctx, who: Investigator, ring_id: Annotated[str, Path(max_length=128, pattern=ID_PATTERN)]
) -> RingDetail:
    api = ctx.settings.api
    data = ctx.graph.ring(ring_id, max_nodes=api.max_nodes, max_edges=api.max_edges)
    if data is None:
        raise not_found("ring")
    snap = ctx.readmodel.snapshot
    gold = snap.rings.get(ring_id, {})
    nucleo = set(gold.get("nucleo") or [])
    member_ids = {m["id"] for m in data["membros"]}
    members = []
    explanations = {}
    for m in data["membros"]:
        s = snap.scores.get(("usuario", m["id"]))
        u = snap.users.get(m["id"], {})
        members.append(Member(id=m["id"], props=m, score_gnn=s.get("score") if s else None,
                              nucleo=m["id"] in nucleo, nome=u.get("nome")))
        if m["id"] in snap.explanations:
            e = snap.explanations[m["id"]]
            explanations[m["id"]] = {"score": e.get("score"), "metodo": e.get("metodo"),
                                     "explicacao": e.get("explicacao"), "modelo_versao": e.get("modelo_versao")}
    flows = [Flow(**f, interno=f["de"] in member_ids and f["para"] in member_ids) for f in data["fluxos"]]
    anel = data["anel"]
    summary = _summary(ctx, {k: anel.get(k) for k in ("risco", "tamanho", "valor_em_risco", "ativo", "build_id")}
                       | {"id": ring_id})
    rs = snap.ring_scores.get(ring_id)
    return RingDetail(
        ring=summary, membros=members, fluxos=flows,
        valor_interno=round(sum(f.valor_total or 0 for f in flows if f.interno), 2),
        valor_entrada=round(sum(f.valor_total or 0 for f in flows if not f.interno and f.para in member_ids), 2),
        valor_saida=round(sum(f.valor_total or 0 for f in flows if not f.interno and f.de in member_ids), 2),
        evidencias=data["evidencias"] if data["evidencias"] is not None else gold.get("evidencias"),
        motivos=snap.motifs.get(ring_id, [])[:200],
        gnn={"ring_score": dict(rs) if rs else None, "explicacoes": explanations},
    )

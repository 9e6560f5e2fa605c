"""``/v1/transactions`` and ``/v1/alerts``: a transaction's score/decision/reasons, its fund trace, alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from starlette.concurrency import run_in_threadpool

from api.deps import AnyCaller, Ctx, Investigator
from api.models import ID_PATTERN, Alert, AlertPage, ScoreOut, TraceOut
from api.routers.common import PROTECTED, PROTECTED_404, not_found, utc
from api.scoring import TxInput, score, score_online
from api.trace import trace

router = APIRouter(prefix="/v1", tags=["transactions"])
TxId = Annotated[str, Path(max_length=128, pattern=ID_PATTERN)]


@router.get("/transactions/{tx_id}", response_model=ScoreOut, responses={**PROTECTED_404, 503: {}},
            summary="A transaction's score, decision and reasons")
async def get_transaction(ctx: Ctx, who: AnyCaller, tx_id: TxId) -> ScoreOut:
    snap = ctx.readmodel.snapshot
    rec = snap.scored.get(tx_id)
    tx = snap.tx.get(tx_id)
    if rec is not None:
        feats = {}
        return ScoreOut(id_transacao=tx_id, score=rec["score"], decisao=rec["decisao"] or "allow",
                        motivos=rec["motivos"], features=feats, modelo_versao=rec["modelo_versao"], fonte="stream")
    if tx is None:
        raise not_found("transaction")
    if not ctx.model.ready:
        raise HTTPException(503, "no model loaded")
    inp = TxInput(tx.valor, tx.ts, tx.chave_origem or "", tx.chave_destino or "")
    if ctx.online is None:
        out = await run_in_threadpool(score, snap, ctx.model, inp, ctx.settings.scoring)
    else:  # the read model holds no receipts then: the windows come from the online store
        out = await score_online(snap, ctx.online, ctx.model, inp, ctx.settings.scoring,
                                 ctx.settings.redis.read_timeout_seconds)
    return ScoreOut(id_transacao=tx_id, fonte="api", **out)


@router.get("/transactions/{tx_id}/trace", response_model=TraceOut, responses=PROTECTED_404,
            summary="Fund tracing (MED 2.0): where the money of a transaction went, and what is recoverable")
async def trace_transaction(
    ctx: Ctx,
    who: Investigator,
    tx_id: TxId,
    window_min: Annotated[float, Query(gt=0, le=7 * 24 * 60, description="per-hop forwarding window, minutes")] = 24 * 60,
    max_hops: Annotated[int, Query(ge=1, le=6)] = 4,
) -> TraceOut:
    snap = ctx.readmodel.snapshot
    res = trace(snap, tx_id, window=timedelta(minutes=window_min), max_hops=max_hops,
                max_accounts=ctx.settings.api.max_nodes, max_transfers=ctx.settings.api.max_edges)
    if res is None:
        raise not_found("transaction")
    return TraceOut(id_transacao=tx_id, valor_inicial=res.valor_inicial, janela_min=window_min, max_hops=max_hops,
                    hops=res.hops, contas=sorted(res.contas.values(), key=lambda c: (c["hop"], -c["retido"])),
                    valor_recuperavel=res.recuperavel, truncado=res.truncado)


@router.get("/alerts", response_model=AlertPage, responses=PROTECTED, summary="Alerts (review/block) since a time")
async def alerts(
    ctx: Ctx,
    who: AnyCaller,
    since: Annotated[datetime, Query(description="inclusive")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertPage:
    items = ctx.readmodel.snapshot.alerts_since(utc(since), limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return AlertPage(since=since, items=[Alert(**a) for a in items],
                     next_since=items[-1]["timestamp"] if more and items else None)

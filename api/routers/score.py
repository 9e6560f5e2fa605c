"""``POST /v1/score``: synchronous scoring of one transaction for inline decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException

from api.deps import Ctx, ServiceCaller
from api.models import ScoreIn, ScoreOut
from api.pii import key_token
from api.routers.common import PROTECTED, utc
from api.scoring import OnlineUnavailable, TxInput, score_online, score_soon

router = APIRouter(prefix="/v1", tags=["score"])


@router.post("/score", response_model=ScoreOut,
             responses={**PROTECTED, 503: {"description": "no model loaded, or the online store unavailable with "
                                                          "PIXRING_REDIS_ON_FAILURE=unavailable"}},
             summary="Score one transaction now (same model, features, rules and decision as the stream)")
async def score_transaction(ctx: Ctx, who: ServiceCaller, body: ScoreIn) -> ScoreOut:
    # async on purpose: CPU only, no thread-pool hop; the model call is batched with concurrent requests
    if not ctx.model.ready:
        raise HTTPException(503, "no model loaded")
    secret = ctx.settings.security.pii_secret
    ts = utc(body.timestamp) or datetime.now(UTC).replace(tzinfo=None)
    inp = TxInput(body.valor, ts, key_token(body.chave_pix_origem, secret), key_token(body.chave_pix_destino, secret))
    if ctx.online is None:
        out = await score_soon(ctx.readmodel.snapshot, ctx.model, inp, ctx.settings.scoring)
    else:  # the windows from the online store (pixring.online); degraded or 503 without it
        r = ctx.settings.redis
        try:
            out = await score_online(ctx.readmodel.snapshot, ctx.online, ctx.model, inp, ctx.settings.scoring,
                                     r.read_timeout_seconds, r.on_failure)
        except OnlineUnavailable:
            raise HTTPException(503, "online store unavailable") from None
    return ScoreOut(id_transacao=body.id_transacao, fonte="api", **out)

"""``/v1/users/{id}``: a user's profile; clear PII (bronze, audited) only for ``investigator_pii``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from api.deps import Ctx, Investigator, Role
from api.models import ID_PATTERN, UserOut
from api.pii import PII_FIELDS, clear_user
from api.routers.common import PROTECTED_404, not_found

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("/{user_id}", response_model=UserOut, responses=PROTECTED_404,
            summary="A user: masked profile, or clear PII for investigator_pii (audited)")
async def get_user(ctx: Ctx, who: Investigator,
                   user_id: Annotated[str, Path(max_length=128, pattern=ID_PATTERN)]) -> UserOut:
    snap = ctx.readmodel.snapshot
    u = snap.users.get(user_id)
    if u is None:
        raise not_found("user")
    s = snap.scores.get(("usuario", user_id))
    masked = {"nome": u.get("nome"), "email_dominio": u.get("email_dominio")}
    pii, clear = masked, False
    if who.role is Role.INVESTIGATOR_PII:
        found = await run_in_threadpool(clear_user, ctx.settings.paths.lakehouse / "bronze", user_id)
        ctx.audit.write(role=who.role.value, subject=who.subject, token=who.fingerprint, action="read_clear_pii",
                        resource=f"usuario:{user_id}", fields=PII_FIELDS, found=found is not None,
                        request_id=who.request_id)
        if found is not None:
            pii, clear = found, True
    e = snap.explanations.get(user_id)
    return UserOut(id=user_id, tipo_pessoa=u.get("tipo_pessoa"), status=u.get("status"),
                   data_cadastro=u.get("data_cadastro"), pii=pii, pii_clara=clear,
                   chaves=snap.keys_by_user.get(user_id, [])[:50], score_gnn=s.get("score") if s else None,
                   id_anel=snap.user_ring.get(user_id), explicacao=e.get("explicacao") if e else None)

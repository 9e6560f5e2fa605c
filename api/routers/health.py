"""``/healthz`` (the process is up), ``/readyz`` (Neo4j reachable, the read model loaded, every worker
listening), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Neo4j reachable, the read model loaded, every worker listening",
            responses={503: {"description": "not ready"}})
def readyz(ctx: Ctx) -> JSONResponse:
    neo4j = ctx.graph.ping()
    rm = ctx.readmodel.ready
    # every worker of `pixring api --workers N` (api.workers.WorkerBoard), whichever answers; one process alone
    # answers for itself
    board = ctx.extra.get("workers")
    workers = board.counts() if board is not None else {"expected": 1, "listening": 1, "ready": int(rm)}
    ready = neo4j and rm and workers["listening"] == workers["ready"] == workers["expected"]
    body = {"ready": ready, "neo4j": neo4j, "read_model": rm, "workers": workers,
            "model": {"loaded": ctx.model.ready, "name": ctx.model.model_name, "version": ctx.model.version},
            "read_model_status": ctx.readmodel.status(), "graph_projection": ctx.projection.status()}
    return JSONResponse(jsonable(body), status_code=200 if body["ready"] else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(ctx: Ctx) -> Response:
    return Response(generate_latest(ctx.extra["registry"]), media_type=CONTENT_TYPE_LATEST)


def jsonable(value):
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)

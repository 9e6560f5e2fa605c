"""``/healthz`` (the process is up), ``/readyz`` (Neo4j and the read model reachable), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Neo4j and the read model reachable",
            responses={503: {"description": "not ready"}})
def readyz(ctx: Ctx) -> JSONResponse:
    neo4j = ctx.graph.ping()
    rm = ctx.readmodel.ready
    body = {"ready": neo4j and rm, "neo4j": neo4j, "read_model": rm,
            "model": {"loaded": ctx.model.ready, "name": ctx.model.model_name, "version": ctx.model.version},
            "read_model_status": ctx.readmodel.status(), "graph_projection": ctx.projection.status()}
    return JSONResponse(jsonable(body), status_code=200 if body["ready"] else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(ctx: Ctx) -> Response:
    return Response(generate_latest(ctx.extra["registry"]), media_type=CONTENT_TYPE_LATEST)


def jsonable(value):
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)

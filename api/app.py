"""The FastAPI application: routers per resource, problem+json errors, Prometheus metrics, the /ui page.

``create_app(settings)`` builds it; the lifespan opens the Neo4j driver, loads the read model and the MLflow
champion, and starts their refresh threads (``settings.api.refresh_seconds``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from api import problems
from api.deps import AppContext
from api.erasure import GONE, refuse_erased
from api.graphdb import GraphStore
from api.graphproj import GraphProjectionHolder
from api.pii import AuditLog
from api.readmodel import ReadModel
from api.security import Authenticator, Guard, RateLimiter, RevocationList
from api.routers import cases, graph, health, med, rings, score, transactions, users
from api.scoring import ModelHolder
from pixring import logs, online
from pixring.settings import Settings, get_settings

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).parent / "ui" / "static"
AUDIT_LOG_NAME = "api-audit.log"


class _Metrics:
    """Pure ASGI middleware: request count and latency per route template (never the raw path: it may hold a key)."""

    def __init__(self, app, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("pixring_api_requests", "API requests", ["method", "route", "status"],
                                registry=registry)
        self.latency = Histogram("pixring_api_request_seconds", "API latency", ["route"], registry=registry,
                                 buckets=(.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def _send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or ("/ui" if scope.get("path", "").startswith("/ui") else "unmatched")
            dt = time.perf_counter() - t0
            self.requests.labels(scope.get("method", "?"), path, str(status)).inc()
            self.latency.labels(path).observe(dt)
            log.debug("%s %s %d %.1fms", scope.get("method"), path, status, dt * 1000)


class _RequestId:
    """Pure ASGI middleware: the request's correlation id (``X-Request-ID`` when the caller sends a safe one,
    else a new one) bound for every log record of the request, returned in ``X-Request-ID`` and used by the
    PII audit log (``Principal.request_id``)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        cid = logs.valid_or_new(given)

        async def _send(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", cid.encode("ascii"))]
            await send(message)

        with logs.bind(cid):
            await self.app(scope, receive, _send)


class GraphDriftCollector:
    """``pixring_graph_*``: the latest graph build's shape, from the read model (see ``GraphStats``)."""

    def __init__(self, readmodel: ReadModel) -> None:
        self.readmodel = readmodel

    def collect(self):
        g = self.readmodel.snapshot.graph
        if not self.readmodel.ready:
            return
        degree = GaugeMetricFamily("pixring_graph_degree_bucket", "Nodes of the latest graph build with in+out "
                                   "degree <= le, by node type", labels=["tipo", "le"])
        for tipo, buckets in g.degree.items():
            for le, n in buckets:
                degree.add_metric([tipo, le], n)
        yield degree
        for name, doc, buckets in (
            ("pixring_graph_community_size_bucket", "Communities of the latest build with size <= le",
             g.community_size),
            ("pixring_graph_chain_depth_bucket", "Pass-through chains (linked cadeia motifs) with depth <= le hops",
             g.chain_depth),
        ):
            family = GaugeMetricFamily(name, doc, labels=["le"])
            for le, n in buckets:
                family.add_metric([le], n)
            yield family
        yield GaugeMetricFamily("pixring_graph_communities", "Communities of the latest graph build",
                                value=g.communities)
        yield GaugeMetricFamily("pixring_graph_ring_candidates", "Ring candidates of the latest graph build",
                                value=g.ring_candidates)
        if g.built_at is not None:
            yield GaugeMetricFamily("pixring_graph_build_timestamp_seconds", "When the latest graph build finished",
                                    value=g.built_at)


def build_context(settings: Settings) -> AppContext:
    registry = CollectorRegistry()
    store = GraphStore(settings.neo4j)
    a = settings.api
    ctx = AppContext(
        settings=settings,
        graph=store,
        projection=GraphProjectionHolder(store, refresh_seconds=a.graph_refresh_seconds,
                                         max_relationships=a.graph_projection_max_relationships,
                                         enabled=a.graph_projection),
        # with the online store the windows come from Redis: the read model keeps no receipts
        readmodel=ReadModel(settings.paths.lakehouse, settings.api.refresh_seconds,
                            receipts=not settings.redis.enabled),
        model=ModelHolder(settings.mlflow.uri, settings.mlflow.model_name, settings=settings),
        audit=AuditLog(settings.paths.logs / AUDIT_LOG_NAME),
        authenticator=Authenticator(a, local=settings.security.env == "local",
                                    revoked=RevocationList.for_settings(settings.paths.home, a)),
        clear_lookups=RateLimiter(a.clear_lookups_per_minute, 60.0),
        online=(online.client(settings, timeout=settings.redis.read_timeout_seconds, asyncio=True)
                if settings.redis.enabled else None),
        extra={"registry": registry},
    )
    Gauge("pixring_api_read_model_transactions", "transactions in the read model", registry=registry
          ).set_function(lambda: len(ctx.readmodel.snapshot.tx))
    Gauge("pixring_api_read_model_rings", "rings in the read model", registry=registry
          ).set_function(lambda: len(ctx.readmodel.snapshot.rings))
    Gauge("pixring_api_graph_projection_relationships", "relationships in the in-memory graph projection "
          "(0: subgraphs are read from Neo4j)", registry=registry
          ).set_function(lambda: ctx.projection.current.relationships if ctx.projection.current else 0)
    Gauge("pixring_api_model_loaded", "1 when a champion model is loaded", registry=registry
          ).set_function(lambda: 1.0 if ctx.model.ready else 0.0)
    Gauge("pixring_api_score_rows_per_model_call", "POST /v1/score requests per model call since start "
          "(concurrent requests are predicted together)", registry=registry
          ).set_function(lambda: ctx.model.batched_rows / ctx.model.batches if ctx.model.batches else 0.0)
    registry.register(GraphDriftCollector(ctx.readmodel))
    return ctx


def _load(ctx: AppContext) -> None:
    ctx.readmodel.load()
    ctx.projection.load()
    try:
        ctx.model.refresh()
    except Exception as exc:  # noqa: BLE001 - the API serves the graph without a model; /v1/score says 503
        ctx.model.error = type(exc).__name__
        log.warning("model not loaded: %s", type(exc).__name__)


def _warm_up(ctx: AppContext, settings: Settings) -> None:
    _load(ctx)
    ctx.readmodel.start()
    ctx.projection.start()
    ctx.model.start(settings.api.refresh_seconds)


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    """The API. ``background=False`` skips the refresh threads (tests refresh explicitly)."""
    settings = settings or get_settings()
    logs.install_record_factory()  # every record gets its request's ``corr``, whoever configured logging
    if not logging.getLogger().handlers:  # a uvicorn worker process: the CLI configured only its parent
        logs.configure(fmt=settings.log.format)
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:
            # start serving at once: /readyz says 503 until the read model is in, /v1/score 503 until a model is
            threading.Thread(target=_warm_up, args=(ctx, settings), name="api-warm-up", daemon=True).start()
        else:
            _load(ctx)
        try:
            yield
        finally:
            ctx.readmodel.stop()
            ctx.projection.stop()
            ctx.model.stop()
            ctx.graph.close()

    app = FastAPI(
        title="pixring API",
        version="1.0.0",
        description="Pix fraud-ring investigation and inline scoring: subgraphs (Neo4j), rings, fund tracing, "
                    "transaction scores and alerts. Bearer tokens with roles service / investigator / "
                    "investigator_pii. Errors are application/problem+json.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.ctx = ctx
    problems.install(app)
    for module in (graph, rings, transactions, score, users, cases, med, health):
        by_id = module in (graph, transactions, users, med)  # the erasure ledger: an erased id answers 410
        app.include_router(module.router, dependencies=[Depends(refuse_erased)] if by_id else None,
                           responses=GONE if by_id else None)
    # innermost: no body is read before the caller is known and the length is within bounds
    app.add_middleware(Guard, authenticator=ctx.authenticator, max_body_bytes=settings.api.max_body_bytes)
    app.add_middleware(_Metrics, registry=ctx.extra["registry"])
    app.add_middleware(_RequestId)  # outermost: the metrics log line carries the id too

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/hint.json", include_in_schema=False)
    async def ui_hint() -> dict:
        # the first-use hint of /ui: the investigator token only while it is the public laptop default
        from pixring.security import api_token_hint

        return api_token_hint(settings)

    if UI_DIR.is_dir():
        app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")
    return app

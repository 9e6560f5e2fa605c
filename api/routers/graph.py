"""``/v1/graph``: bounded neighbourhoods of a key, a user or a device."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.deps import AppContext, Ctx, Investigator
from api.graphdb import LABELS, Subgraph, assemble
from api.models import Kind, SubgraphOut
from api.pii import TOKEN_RE, key_token
from api.routers.common import PROTECTED_404, check_window, not_found, utc

router = APIRouter(prefix="/v1/graph", tags=["graph"])

IdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/\\]+$",
                             description="user id, device id, or a Pix key (clear or its 64-hex token)")]


def _as_is(props: dict[str, Any]) -> dict[str, Any]:
    return props


async def read_subgraph(ctx: AppContext, kind: str, ident: str, **bounds: Any) -> Subgraph | None:
    """From the in-memory projection when one is loaded (pure CPU, on the event loop), else from Neo4j
    (blocking driver, in the thread pool). Both go through :func:`api.graphdb.assemble`."""
    proj = ctx.projection.current
    if proj is not None:
        # the projection's property maps are compacted already and never mutated: served as they are
        return assemble(kind, ident, proj.start(LABELS[kind], ident), proj.hop, props=_as_is, **bounds)
    return await run_in_threadpool(ctx.graph.subgraph, kind, ident, **bounds)


def subgraph_payload(ctx: AppContext, sg: Subgraph, limits: dict[str, int]) -> dict[str, Any]:
    """The :class:`SubgraphOut` body: node labels (masked names) and GNN scores from the read model.

    Property maps may be the projection's own: a score is added to a copy, never to them."""
    snap = ctx.readmodel.snapshot
    nodes = []
    for n in sg.nodes.values():
        label = n["id"] if n["tipo"] != "chave" else n["id"][:10] + "…"
        if n["tipo"] == "usuario":
            s = snap.scores.get(("usuario", n["id"]))
            if s is not None:
                n["props"] = {**n["props"], "score_gnn": s.get("score")}
            u = snap.users.get(n["id"])
            if u and u.get("nome"):
                label = f"{n['id']} ({u['nome']})"
        nodes.append({**n, "label": label, "parcial": n.get("parcial", False)})
    return {"center": sg.center, "hops": sg.hops, "nodes": nodes, "edges": list(sg.edges.values()),
            "truncated": sg.truncated, "limits": limits}


@router.get("/{kind}/{ident}", response_model=SubgraphOut, responses=PROTECTED_404,
            summary="Subgraph around a key, a user or a device")
async def subgraph(
    ctx: Ctx,
    who: Investigator,
    kind: Kind,
    ident: IdPath,
    hops: Annotated[int, Query(ge=1, le=3, description="1-3")] = 2,
    since: Annotated[datetime | None, Query(description="only relationships active at/after this time")] = None,
    until: Annotated[datetime | None, Query(description="only relationships active at/before this time")] = None,
    max_nodes: Annotated[int | None, Query(ge=1, description="capped by settings.api.max_nodes")] = None,
    max_edges: Annotated[int | None, Query(ge=1, description="capped by settings.api.max_edges")] = None,
    per_node: Annotated[int, Query(ge=1, le=200, description="relationships followed per node and hop (heaviest "
                                   "first); nodes with more are marked `parcial`: expand them on their own")] = 25,
) -> Response:
    since, until = utc(since), utc(until)
    check_window(since, until)
    cap_n, cap_e = ctx.settings.api.max_nodes, ctx.settings.api.max_edges
    n_lim, e_lim = min(max_nodes or cap_n, cap_n), min(max_edges or cap_e, cap_e)
    node_id = key_token(ident, ctx.settings.security.pii_secret) if kind is Kind.chave else ident
    # a clear key (CPF, phone, e-mail) answers "is this person a customer?": bounded per caller and audited
    clear_lookup = kind is Kind.chave and not TOKEN_RE.match(ident.strip())
    if clear_lookup:
        wait = ctx.clear_lookups.allow(who.subject)
        if wait:
            raise HTTPException(429, "too many look-ups by clear value", headers={"Retry-After": str(int(wait) + 1)})
    sg = await read_subgraph(ctx, kind.value, node_id, hops=hops, since=since, until=until,
                             max_nodes=n_lim, max_edges=e_lim, per_node=per_node)
    if clear_lookup:
        ctx.audit.write(role=who.role.value, subject=who.subject, token=who.fingerprint, action="lookup_clear_key",
                        resource=f"chave:{node_id}", fields=("chave_pix",), found=sg is not None,
                        request_id=who.request_id)
    if sg is None:
        raise not_found(kind.value)
    if not sg.nodes:  # pragma: no cover - the centre is always there
        raise HTTPException(500)
    # serialised here (orjson), not re-validated through SubgraphOut: the shape is tested against it
    body = subgraph_payload(ctx, sg, {"max_nodes": n_lim, "max_edges": e_lim, "per_node": per_node})
    return Response(orjson.dumps(body), media_type="application/json")

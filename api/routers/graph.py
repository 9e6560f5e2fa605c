"""``/v1/graph``: bounded neighbourhoods of a key, a user or a device."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Ctx, Investigator
from api.models import Kind, SubgraphOut
from api.pii import key_token
from api.routers.common import PROTECTED_404, check_window, not_found, utc

router = APIRouter(prefix="/v1/graph", tags=["graph"])

IdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/\\]+$",
                             description="user id, device id, or a Pix key (clear or its 64-hex token)")]


@router.get("/{kind}/{ident}", response_model=SubgraphOut, responses=PROTECTED_404,
            summary="Subgraph around a key, a user or a device")
def subgraph(
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
) -> SubgraphOut:
    since, until = utc(since), utc(until)
    check_window(since, until)
    cap_n, cap_e = ctx.settings.api.max_nodes, ctx.settings.api.max_edges
    n_lim, e_lim = min(max_nodes or cap_n, cap_n), min(max_edges or cap_e, cap_e)
    node_id = key_token(ident, ctx.settings.security.pii_secret) if kind is Kind.chave else ident
    sg = ctx.graph.subgraph(kind.value, node_id, hops=hops, since=since, until=until,
                                  max_nodes=n_lim, max_edges=e_lim, per_node=per_node)
    if sg is None:
        raise not_found(kind.value)
    snap = ctx.readmodel.snapshot
    nodes = []
    for n in sg.nodes.values():
        label = n["id"] if n["tipo"] != "chave" else n["id"][:10] + "…"
        if n["tipo"] == "usuario":
            s = snap.scores.get(("usuario", n["id"]))
            if s is not None:
                n["props"]["score_gnn"] = s.get("score")
            u = snap.users.get(n["id"])
            if u and u.get("nome"):
                label = f"{n['id']} ({u['nome']})"
        nodes.append({**n, "label": label})
    if not nodes:  # pragma: no cover - the centre is always there
        raise HTTPException(500)
    return SubgraphOut(center=sg.center, hops=hops, nodes=nodes, edges=list(sg.edges.values()),
                       truncated=sg.truncated,
                       limits={"max_nodes": n_lim, "max_edges": e_lim, "per_node": per_node})

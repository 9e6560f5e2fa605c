"""Why an account was flagged: gradients of its logit with respect to per-edge masks (all ones).

For a flagged user the exact 2-hop computation subgraph (every in-edge of the user and of its neighbours, by
:class:`gnn.sampling.NeighbourSampler` with fanout -1) is run with an ``edge_mask`` of ones on every relation; the
absolute gradient of the user's logit with respect to each mask entry says how much that edge's message moved the
score. A relation and its reverse are folded into one edge; the heaviest ``top`` edges are returned, each as the
endpoint that is not the user (``via`` = the neighbour it hangs off, for 2-hop edges).
"""

from __future__ import annotations

import json
from collections import defaultdict

import pandas as pd
import torch

from gnn.data import USER
from gnn.model import HeteroSAGE
from gnn.sampling import NeighbourSampler

METHOD = "gradients"


def explain_users(model: HeteroSAGE, data, ids: dict[str, pd.Index], users: list[int], top: int = 10,
                  num_layers: int | None = None) -> dict[int, list[dict]]:
    """``{user row: [{"id", "tipo", "relacao", "peso", "via"?}, ...]}`` heaviest first, weights summing to 1.

    Args:
        model: the trained model (eval mode is set here).
        data: the full HeteroData the model scores.
        ids: node ids per type in row order (to name the neighbours).
        users: rows of the users to explain.
        top: edges kept per user.
    """
    model.eval()
    hops = num_layers or model.num_layers
    sampler = NeighbourSampler(data, [-1] * hops, batch_size=1, shuffle=False)
    out: dict[int, list[dict]] = {}
    for u in users:
        sub = sampler.sample(torch.tensor([u]))
        masks = {et: torch.ones(sub[et].edge_index.size(1), requires_grad=True) for et in sub.edge_types}
        logits, _ = model(sub.x_dict, sub.edge_index_dict, sub.edge_attr_dict, masks)
        grads = torch.autograd.grad(logits[0], [masks[et] for et in sub.edge_types], allow_unused=True)
        weight: dict[tuple, float] = defaultdict(float)
        for et, g in zip(sub.edge_types, grads):
            if g is None:
                continue
            src_t, rel, dst_t = et
            base = rel[4:] if rel.startswith("rev_") else rel
            ei = sub[et].edge_index
            gs, gd = sub[src_t].n_id[ei[0]], sub[dst_t].n_id[ei[1]]
            for s, d, w in zip(gs.tolist(), gd.tolist(), g.abs().tolist()):
                if w <= 0:
                    continue
                a, b = (src_t, s), (dst_t, d)
                key = (base, *sorted([a, b]))
                weight[key] += w
        ranked = sorted(weight.items(), key=lambda kv: -kv[1])[:top]
        total = sum(w for _, w in ranked) or 1.0
        items = []
        me = (USER, u)
        for (rel, a, b), w in ranked:
            other, via = (b, None) if a == me else (a, None) if b == me else (b, a)
            item = {"id": str(ids[other[0]][other[1]]), "tipo": other[0], "relacao": rel, "peso": round(w / total, 4)}
            if via is not None:
                item["via"] = str(ids[via[0]][via[1]])
            items.append(item)
        out[u] = items
    return out


def to_json(items: list[dict]) -> str:
    return json.dumps(items, ensure_ascii=False, sort_keys=True)

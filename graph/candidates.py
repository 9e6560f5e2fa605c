"""Ring candidates seeded from a model's scores: a ring no hand-written motif names is still proposed.

The motif candidates of ``pixring graph build`` (:mod:`graph.communities`) only see shapes someone wrote a
rule for, at the time scales of the motif windows. :func:`score_candidates` starts from the other side: the
users a scorer (the GNN, or any per-user score) ranks at or above its operating threshold are *seeds*; two
seeds are linked when money moved between them (``TRANSFERIU``) or they share a device (``USA``); a non-seed
account that links at least two seeds and scores at least ``bridge_ratio`` x the threshold is kept as a
*bridge* (the collector between two mules the model half-trusts). Each connected group of at least
``min_members`` accounts is a candidate.

Every candidate keeps its evidence (why each member is in it: its score, seed or bridge, the links that hold
the group together) and a stable id: ``SC-`` + a hash of its sorted members on a first build, the id of the
previous build's candidate it matches otherwise (:func:`graph.stable_ids.match`, the same rule as the
motif communities). Pure pandas: no Spark, no model import.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from graph.stable_ids import match

PREFIX = "SC-"
#: evidence lists are capped so that one huge group does not make a huge row
MAX_EVIDENCE_LINKS = 50


def score_candidate_id(members: frozenset[str]) -> str:
    """Content id of a score-seeded candidate (reproducible on a first build)."""
    return PREFIX + hashlib.sha1("|".join(sorted(members)).encode()).hexdigest()[:12]


@dataclass
class ScoreCandidate:
    id_anel: str
    membros: list[str]
    risco: float
    nucleo: list[str]  # the seeds
    status: str = "nova"
    evidencias: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {"id_anel": self.id_anel, "membros": self.membros, "nucleo": self.nucleo, "risco": self.risco,
                "tamanho": len(self.membros), "status": self.status,
                "evidencias": json.dumps(self.evidencias, sort_keys=True, ensure_ascii=False)}


def _links(edges: pd.DataFrame) -> pd.DataFrame:
    """User-user links ``u, v, via`` (undirected, ``u < v``) from gold graph_edges: money and shared devices."""
    money = edges[edges["tipo"] == "TRANSFERIU"][["src", "dst"]].rename(columns={"src": "u", "dst": "v"})
    money = money.assign(via="TRANSFERIU")
    usa = edges[edges["tipo"] == "USA"][["src", "dst"]]
    dev = usa.merge(usa, on="dst")
    dev = dev[dev["src_x"] != dev["src_y"]].rename(columns={"src_x": "u", "src_y": "v"})[["u", "v"]].assign(via="USA")
    both = pd.concat([money, dev], ignore_index=True)
    swap = both["u"] > both["v"]
    both.loc[swap, ["u", "v"]] = both.loc[swap, ["v", "u"]].to_numpy()
    both = both[both["u"] != both["v"]]
    return both.drop_duplicates(["u", "v", "via"]).reset_index(drop=True)


def _components(nodes: set[str], links: list[tuple[str, str]]) -> list[frozenset[str]]:
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in links:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)
    groups: dict[str, set[str]] = defaultdict(set)
    for n in nodes:
        groups[find(n)].add(n)
    return [frozenset(g) for g in groups.values()]


def score_candidates(scores: pd.Series, edges: pd.DataFrame, threshold: float, min_members: int = 2,
                     bridge_ratio: float = 0.5, max_members: int = 200,
                     previous: Mapping[str, frozenset[str]] | None = None,
                     overlap_min: float = 0.5) -> list[ScoreCandidate]:
    """Connected high-score subgraphs as ring candidates (see the module doc).

    Args:
        scores: user id -> score (e.g. gold ``node_scores``).
        edges: gold ``graph_edges`` (``src, dst, tipo``; ``TRANSFERIU`` and ``USA`` rows are used).
        threshold: a seed scores at least this (the model's operating threshold, not a tuned constant).
        min_members: smallest group proposed (a lone high score is an account, not a ring).
        bridge_ratio: a non-seed linking two seeds joins when it scores >= ``bridge_ratio * threshold``.
        max_members: a group larger than this is left out (a score too low for the graph, not a ring).
        previous: the previous build's candidates (id -> members), for stable ids.
        overlap_min: the stable-id overlap rule.

    Returns:
        Candidates, riskiest first; ``risco`` = mean of the top half of the members' scores.
    """
    if not np.isfinite(threshold):
        return []
    scores = scores.astype(float)
    seeds = set(scores.index[scores.to_numpy() >= threshold])
    if not seeds:
        return []
    links = _links(edges)
    touch = links[links["u"].isin(seeds) | links["v"].isin(seeds)]
    # bridges: non-seeds adjacent to >= 2 distinct seeds with a score not far below the threshold
    half = touch[~(touch["u"].isin(seeds) & touch["v"].isin(seeds))]
    other = np.where(half["u"].isin(seeds), half["v"], half["u"])
    seed_end = np.where(half["u"].isin(seeds), half["u"], half["v"])
    adj = pd.DataFrame({"b": other, "s": seed_end}).drop_duplicates()
    n_seeds = adj.groupby("b")["s"].nunique()
    bscore = scores.reindex(n_seeds.index).fillna(0.0)
    bridges = set(n_seeds.index[(n_seeds >= 2).to_numpy() & (bscore >= bridge_ratio * threshold).to_numpy()])
    nodes = seeds | bridges
    kept = touch[touch["u"].isin(nodes) & touch["v"].isin(nodes)]
    groups = [g for g in _components(nodes, list(zip(kept["u"], kept["v"])))
              if min_members <= len(g) <= max_members]
    keys = {score_candidate_id(g): g for g in groups}
    m = match(previous or {}, keys, overlap_min, new_id=score_candidate_id)
    out = []
    for key, g in keys.items():
        members = sorted(g)
        s = np.sort(scores.reindex(members).fillna(0.0).to_numpy())[::-1]
        risco = float(s[: max(1, (len(s) + 1) // 2)].mean())
        inner = kept[kept["u"].isin(g) & kept["v"].isin(g)]
        ev = {
            "origem": "score", "limiar": round(float(threshold), 6),
            "scores": {u: round(float(scores.get(u, 0.0)), 4) for u in members},
            "sementes": sorted(g & seeds), "pontes": sorted(g & bridges),
            "ligacoes": [[u, v, via] for u, v, via in inner[["u", "v", "via"]].head(MAX_EVIDENCE_LINKS).to_numpy()],
            "n_ligacoes": int(len(inner)),
            "n_dinheiro": int((inner["via"] == "TRANSFERIU").sum()), "n_dispositivo": int((inner["via"] == "USA").sum()),
        }
        out.append(ScoreCandidate(id_anel=m.ids[key], membros=members, risco=risco, nucleo=sorted(g & seeds),
                                  status=m.status[key], evidencias=ev))
    return sorted(out, key=lambda c: (-c.risco, c.id_anel))


def supported_by_scores(groups: list[frozenset[str]] | list[set[str]], scores: pd.Series,
                        threshold: float) -> list[bool]:
    """Which candidates (e.g. the motif candidates of ``graph build``) the model backs: at least one member
    scores at or above its operating ``threshold``.

    A motif says a shape occurred; merchants, payroll, families and friends settling bills make the same
    shapes. The model's scores (which learned what the confirmed rings look like around such shapes) decide
    which of them are proposed, so no hand threshold on the motif's own evidence is needed. With no finite
    threshold (no model) every candidate is kept.
    """
    if not np.isfinite(threshold):
        return [True] * len(groups)
    s = scores.astype(float)
    return [bool(len(g) and float(s.reindex(list(g)).fillna(-np.inf).max()) >= threshold) for g in groups]

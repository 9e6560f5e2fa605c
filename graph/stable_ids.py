"""Stable community / ring ids across rebuilds: match new communities to the previous build's by member
overlap, so that the ring an investigator is working on keeps its id; record merges and splits. Pure.

Rules (``overlap_min`` = m, default 0.5):

* a pair (old O, new N) is *linked* when they share members and either share is large:
  ``|O & N| / |O| >= m`` (most of O went into N) or ``|O & N| / |N| >= m`` (N is mostly made of O);
* ids are handed out greedily over linked pairs, largest intersection first (then Jaccard): each old id
  goes to at most one new community and each new community takes at most one old id;
* status of N: ``fundida`` when linked to two or more olds, else ``dividida`` when its old is linked to two
  or more news (the part that kept the id and the parts that split off alike), else ``estavel`` when it
  kept an id, else ``nova`` (a new id from :func:`graph.communities.content_id`);
* lineage: one row per linked pair, ``relacao`` ``fusao`` (N linked to several olds), ``divisao`` (O linked
  to several news) or ``mesmo``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from graph.communities import content_id


@dataclass
class Match:
    ids: dict[str, str] = field(default_factory=dict)  # new key -> stable id
    status: dict[str, str] = field(default_factory=dict)  # new key -> nova|estavel|fundida|dividida
    lineage: list[dict] = field(default_factory=list)  # id_antigo, id_novo, relacao, overlap, jaccard, n_comuns


def match(
    old: Mapping[str, frozenset[str]],
    new: Mapping[str, frozenset[str]],
    overlap_min: float = 0.5,
    new_id: Callable[[frozenset[str]], str] = content_id,
) -> Match:
    """Stable ids for the ``new`` communities (key -> members) given the ``old`` ones (id -> members)."""
    where: dict[str, list[str]] = defaultdict(list)
    for oid, members in old.items():
        for u in members:
            where[u].append(oid)
    inter: dict[tuple[str, str], int] = defaultdict(int)
    for nk, members in new.items():
        for u in members:
            for oid in where.get(u, ()):
                inter[(oid, nk)] += 1

    linked: list[tuple[str, str, int, float, float]] = []  # oid, nk, n, share_old, jaccard
    olds_of: dict[str, list[str]] = defaultdict(list)
    news_of: dict[str, list[str]] = defaultdict(list)
    for (oid, nk), n in inter.items():
        so, sn = n / len(old[oid]), n / len(new[nk])
        if so >= overlap_min or sn >= overlap_min:
            jac = n / len(old[oid] | new[nk])
            linked.append((oid, nk, n, so, jac))
            olds_of[nk].append(oid)
            news_of[oid].append(nk)

    res = Match()
    taken: set[str] = set()
    for oid, nk, _n, _so, _jac in sorted(linked, key=lambda x: (-x[2], -x[4], x[0], x[1])):
        if oid in taken or nk in res.ids:
            continue
        res.ids[nk] = oid
        taken.add(oid)
    used = set(res.ids.values())
    for nk in sorted(new):
        if nk not in res.ids:
            cand = new_id(new[nk])
            while cand in used or cand in old:  # a content id never collides with an id still in use
                cand = new_id(frozenset({*new[nk], cand}))
            res.ids[nk] = cand
            used.add(cand)
        if len(olds_of.get(nk, ())) >= 2:
            res.status[nk] = "fundida"
        elif any(len(news_of[o]) >= 2 for o in olds_of.get(nk, ())):
            res.status[nk] = "dividida"
        elif olds_of.get(nk):
            res.status[nk] = "estavel" if res.ids[nk] in old else "dividida"
        else:
            res.status[nk] = "nova"
    for oid, nk, n, so, jac in sorted(linked, key=lambda x: (x[0], x[1])):
        if len(olds_of[nk]) >= 2:
            rel = "fusao"
        elif len(news_of[oid]) >= 2:
            rel = "divisao"
        else:
            rel = "mesmo"
        res.lineage.append({
            "id_antigo": oid, "id_novo": res.ids[nk], "relacao": rel, "overlap": round(so, 4),
            "jaccard": round(jac, 4), "n_comuns": int(n),
        })
    return res

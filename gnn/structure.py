"""Per-user temporal flow structure: the shapes laundering takes, named without naming any generator.

Computed from silver ``transacoes_pix`` (effective payments between two different users, point in time: only
the rows given are seen) and fed to every learned scorer (the GBM and the GNN read the same user features,
:func:`gnn.data.raw_node_features`). Each feature is a property of the flow graph the AML literature describes
(AMLSim / AMLworld typologies, IBM's Graph Feature Preprocessor, Multi-GNN's temporal edge features); none
is a threshold: the models learn which values matter.

For each window ``W`` of :data:`WINDOWS_H` (a day and two weeks: layering that takes days is seen):

* ``ciclos_t_{W}``: simple directed cycles of length 2..:data:`MAX_CYCLE_LEN` with *strictly increasing*
  timestamps whose last hop is within ``W`` of the first, that pass through the user; ``ciclos_t_conserv_{W}``
  the best amount conservation (min / max amount along the cycle) of those cycles (0 without one);
* ``fwd_remetentes_{W}`` / ``fwd_destinos_{W}``: distinct payers whose money the user forwarded (an outgoing
  payment to someone else within ``W`` after the incoming one) and distinct receivers of those forwards
  (fan-in then forward, gather-scatter when both are large);
* ``fwd_cobertura_{W}``: share of the user's outgoing value covered by what it received in the ``W`` before
  each payment (amount conservation in -> out; 1 = everything sent had just come in);
* ``sg_origem_{W}`` / ``sg_intermediario_{W}`` / ``sg_destino_{W}``: scatter-gather: pairs ``(a, b)`` with at
  least two distinct intermediaries ``m`` (``a -> m`` then ``m -> b`` within ``W``); counted for ``a``, for
  each ``m`` and for ``b``.

And once: ``atraso_repasse_log_h`` (median over the user's outgoing payments of ``log1p`` hours since its last
incoming payment, capped at the widest window; the cap when nothing came in) and ``razao_saida_entrada_log``
(``log1p(out value) - log1p(in value)``: a pass-through account is near 0).

Pure pandas/numpy (the tests build tiny graphs by hand). Cycle search runs only inside strongly connected
components and stops a start edge after :data:`MAX_EXPANSIONS` path extensions (a dense hub cannot stall it).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pixring.features import REJECTED

log = logging.getLogger(__name__)

WINDOWS_H: tuple[int, ...] = (24, 336)
MAX_CYCLE_LEN = 6
MAX_EXPANSIONS = 400
_PER_WINDOW = ("ciclos_t", "ciclos_t_conserv", "fwd_remetentes", "fwd_destinos", "fwd_cobertura", "sg_origem",
               "sg_intermediario", "sg_destino")
STRUCTURE_COLUMNS: tuple[str, ...] = (
    *(f"{f}_{w}h" for w in WINDOWS_H for f in _PER_WINDOW), "atraso_repasse_log_h", "razao_saida_entrada_log",
)


def user_flows(tx: pd.DataFrame) -> pd.DataFrame:
    """Effective user -> user payments: ``src, dst, t`` (seconds), ``valor``; rejected and self payments left out,
    sorted by time (ties by source, destination)."""
    need = ("id_usuario_origem", "id_usuario_destino", "timestamp", "valor")
    if tx.empty or any(c not in tx.columns for c in need):
        return pd.DataFrame({"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object),
                             "t": pd.Series(dtype=np.int64), "valor": pd.Series(dtype=float)})
    df = tx if "status" not in tx.columns else tx[tx["status"].fillna("") != REJECTED]
    df = df.dropna(subset=["id_usuario_origem", "id_usuario_destino", "timestamp"])
    df = df[df["id_usuario_origem"] != df["id_usuario_destino"]]
    ts = pd.to_datetime(df["timestamp"])
    out = pd.DataFrame({"src": df["id_usuario_origem"].astype(str).to_numpy(),
                        "dst": df["id_usuario_destino"].astype(str).to_numpy(),
                        "t": ts.to_numpy().astype("datetime64[s]").astype(np.int64),
                        "valor": pd.to_numeric(df["valor"], errors="coerce").fillna(0.0).astype(float).to_numpy()})
    return out.sort_values(["t", "src", "dst"], kind="stable").reset_index(drop=True)


def temporal_cycles(flows: pd.DataFrame, window_s: int, max_len: int = MAX_CYCLE_LEN,
                    max_expansions: int = MAX_EXPANSIONS) -> tuple[pd.Series, pd.Series]:
    """``(cycles through each user, best conservation of them)`` for time-respecting simple cycles.

    A cycle is a sequence of payments ``u0 -> u1 -> ... -> u0`` (2..``max_len`` hops, no user twice) with
    strictly increasing times and ``t_last - t_first <= window_s``; each is counted once (from its first
    payment). Users on no cycle are absent from both series.
    """
    if flows.empty:
        return pd.Series(dtype=float), pd.Series(dtype=float)
    users = pd.Index(pd.unique(np.r_[flows["src"].to_numpy(), flows["dst"].to_numpy()]))
    s, d = users.get_indexer(flows["src"]), users.get_indexer(flows["dst"])
    n = len(users)
    _, comp = connected_components(coo_matrix((np.ones(len(s)), (s, d)), shape=(n, n)), directed=True,
                                   connection="strong")
    inside = comp[s] == comp[d]  # an edge between two components lies on no cycle
    if not inside.any():
        return pd.Series(dtype=float), pd.Series(dtype=float)
    s, d = s[inside], d[inside]
    t = flows["t"].to_numpy()[inside]
    v = flows["valor"].to_numpy()[inside]
    order = np.lexsort((t, s))
    s, d, t, v = s[order], d[order], t[order], v[order]
    starts = np.searchsorted(s, np.arange(n + 1))  # out edges of node x: [starts[x], starts[x+1]), by time
    count = np.zeros(n)
    conserv = np.zeros(n)
    for e0 in range(len(s)):
        u, t_end = s[e0], t[e0] + window_s
        # stack: (node, time of the last hop, path nodes, min amount, max amount)
        stack = [(d[e0], t[e0], (u, d[e0]), v[e0], v[e0])]
        expansions = 0
        while stack and expansions < max_expansions:
            x, last, path, lo_v, hi_v = stack.pop()
            a, b = starts[x], starts[x + 1]
            first = a + np.searchsorted(t[a:b], last, side="right")
            stop = a + np.searchsorted(t[a:b], t_end, side="right")
            for e in range(first, stop):
                expansions += 1
                y, lo2, hi2 = d[e], min(lo_v, v[e]), max(hi_v, v[e])
                if y == u:
                    members = np.asarray(path)
                    count[members] += 1
                    c = lo2 / hi2 if hi2 > 0 else 0.0
                    conserv[members] = np.maximum(conserv[members], c)
                elif y not in path and len(path) < max_len:
                    stack.append((y, t[e], (*path, y), lo2, hi2))
    hit = count > 0
    return pd.Series(count[hit], index=users[hit]), pd.Series(conserv[hit], index=users[hit])


def _forwards(flows: pd.DataFrame, window_s: int) -> pd.DataFrame:
    """Every ``a -> m`` followed by ``m -> b`` (``b != a``) within ``(0, window_s]``: ``a, m, b``."""
    inc = flows[["src", "dst", "t"]].rename(columns={"src": "a", "dst": "m", "t": "t1"})
    out = flows[["src", "dst", "t"]].rename(columns={"src": "m", "dst": "b", "t": "t2"})
    j = inc.merge(out, on="m")
    dt = j["t2"] - j["t1"]
    return j[(dt > 0) & (dt <= window_s) & (j["a"] != j["b"])][["a", "m", "b"]].drop_duplicates()


def _coverage(flows: pd.DataFrame, window_s: int) -> pd.Series:
    """Per sender: sum over its payments of min(value, received in the window before) / its value sent."""
    inc = flows.sort_values(["dst", "t"], kind="stable")
    by = {k: (g["t"].to_numpy(), np.r_[0.0, np.cumsum(g["valor"].to_numpy())]) for k, g in inc.groupby("dst", sort=False)}
    covered = np.zeros(len(flows))
    for i, (u, t, val) in enumerate(zip(flows["src"].to_numpy(), flows["t"].to_numpy(), flows["valor"].to_numpy())):
        got = by.get(u)
        if got is not None:
            times, cs = got
            lo, hi = np.searchsorted(times, t - window_s, side="left"), np.searchsorted(times, t, side="left")
            covered[i] = min(val, cs[hi] - cs[lo])
    df = pd.DataFrame({"u": flows["src"].to_numpy(), "c": covered, "v": flows["valor"].to_numpy()}).groupby("u").sum()
    return (df["c"] / df["v"].where(df["v"] > 0)).fillna(0.0)


def _delay_since_in(flows: pd.DataFrame, cap_h: float) -> pd.Series:
    """Per sender: median over its payments of log1p(hours since its last incoming payment), capped."""
    inc = flows.sort_values(["dst", "t"], kind="stable")
    last_in = {k: g["t"].to_numpy() for k, g in inc.groupby("dst", sort=False)}
    delays = np.full(len(flows), cap_h)
    for i, (u, t) in enumerate(zip(flows["src"].to_numpy(), flows["t"].to_numpy())):
        times = last_in.get(u)
        if times is not None:
            k = np.searchsorted(times, t, side="left")
            if k > 0:
                delays[i] = min(cap_h, (t - times[k - 1]) / 3600.0)
    return pd.DataFrame({"u": flows["src"].to_numpy(), "d": np.log1p(delays)}).groupby("u")["d"].median()


def structure_features(tx: pd.DataFrame, users: pd.Index) -> pd.DataFrame:
    """:data:`STRUCTURE_COLUMNS` for ``users`` (rows in that order; 0 for a user with no such flow)."""
    out = pd.DataFrame(0.0, index=users, columns=list(STRUCTURE_COLUMNS))
    flows = user_flows(tx)
    cap_h = float(max(WINDOWS_H))
    out["atraso_repasse_log_h"] = np.log1p(cap_h)
    if flows.empty:
        return out

    def put(col: str, values: pd.Series) -> None:
        out[col] = values.reindex(users).fillna(out[col]).astype(float).to_numpy()

    for w in WINDOWS_H:
        ws = int(w * 3600)
        n_cyc, cons = temporal_cycles(flows, ws)
        put(f"ciclos_t_{w}h", n_cyc)
        put(f"ciclos_t_conserv_{w}h", cons)
        fw = _forwards(flows, ws)
        put(f"fwd_remetentes_{w}h", fw.groupby("m")["a"].nunique())
        put(f"fwd_destinos_{w}h", fw.groupby("m")["b"].nunique())
        put(f"fwd_cobertura_{w}h", _coverage(flows, ws))
        k = fw.groupby(["a", "b"])["m"].nunique()
        sg = k[k >= 2].reset_index()[["a", "b"]]
        put(f"sg_origem_{w}h", sg.groupby("a").size())
        put(f"sg_destino_{w}h", sg.groupby("b").size())
        mid = fw.merge(sg, on=["a", "b"])
        put(f"sg_intermediario_{w}h", mid.groupby("m").size())  # fw rows are distinct (a, m, b)
    put("atraso_repasse_log_h", _delay_since_in(flows, cap_h))
    vin, vout = flows.groupby("dst")["valor"].sum(), flows.groupby("src")["valor"].sum()
    both = pd.DataFrame({"i": vin, "o": vout}).fillna(0.0)
    put("razao_saida_entrada_log", np.log1p(both["o"]) - np.log1p(both["i"]))
    log.info("structure features: %d flows, %d users on a temporal cycle (%dh)", len(flows),
             int((out[f"ciclos_t_{WINDOWS_H[-1]}h"] > 0).sum()), WINDOWS_H[-1])
    return out

"""Graph-Feature-Preprocessor-style user features: per payment, then aggregated per user (opt-in, GBM).

IBM's Graph Feature Preprocessor (Blanuša et al., ICAIF 2024) enriches every transaction with features of the
subgraph around its two endpoints at the transaction's time (fan-in / fan-out, degree per time window,
scatter-gather, temporal cycles) and feeds gradient-boosted trees; on AML data that rivals GNNs. The cycles and
scatter-gather of that set are already :mod:`gnn.structure`'s; what this module adds is the part the gold
features lack: the **counterparty's** windowed activity at the moment of each payment, aggregated per user
(the one-hop neighbourhood a GNN would see, made tabular). None of it names a typology or a threshold.

From silver ``transacoes_pix`` (effective user -> user payments, :func:`gnn.structure.user_flows`), for each
payment ``u -> v`` at ``t`` and each window ``W`` of :data:`gnn.structure.WINDOWS_H` (past windows
``(t - W, t]``, as a real-time preprocessor sees them; the payment itself counts):

* ``src_out`` / ``src_in``: payments ``u`` made / received in the window;
* ``dst_in`` / ``dst_out``: payments ``v`` received / made in the window.

Per user, over its outgoing payments (as ``u``) and its incoming ones (as ``v``):

* ``gfp_saida_max_{W}h`` = max ``src_out``; ``gfp_entrada_max_{W}h`` = max ``dst_in`` (own burstiness);
* ``gfp_pagador_saida_{mean,max}_{W}h``: over incoming payments, the payer's ``src_out`` (paid by accounts that
  scatter); ``gfp_pagador_entrada_{mean,max}_{W}h``: the payer's ``src_in`` (the payer had just received: a
  chain); ``gfp_recebedor_entrada_{mean,max}_{W}h``: over outgoing payments, the receiver's ``dst_in`` (pays
  accounts that gather); ``gfp_recebedor_saida_{mean,max}_{W}h``: the receiver's ``dst_out`` (pays accounts
  that pass money on);

and once (all time): ``gfp_pagador_fan_out_{mean,max}`` (distinct receivers of the user's payers) and
``gfp_recebedor_fan_in_{mean,max}`` (distinct payers of the user's receivers). Users with no payment get 0.

Pure pandas/numpy, vectorised (a window count is two ``searchsorted`` over ``node * span + time`` keys).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gnn.structure import WINDOWS_H, user_flows

log = logging.getLogger(__name__)

_PER_WINDOW = ("saida_max", "entrada_max", "pagador_saida_mean", "pagador_saida_max", "pagador_entrada_mean",
               "pagador_entrada_max", "recebedor_entrada_mean", "recebedor_entrada_max", "recebedor_saida_mean",
               "recebedor_saida_max")
_ALL_TIME = ("gfp_pagador_fan_out_mean", "gfp_pagador_fan_out_max", "gfp_recebedor_fan_in_mean",
             "gfp_recebedor_fan_in_max")


def gfp_columns(windows_h: tuple[int, ...] = WINDOWS_H) -> tuple[str, ...]:
    """The columns :func:`gfp_features` returns for ``windows_h``."""
    return (*(f"gfp_{f}_{w}h" for w in windows_h for f in _PER_WINDOW), *_ALL_TIME)


GFP_COLUMNS: tuple[str, ...] = gfp_columns()


def window_counts(node: np.ndarray, t: np.ndarray, q_node: np.ndarray, q_t: np.ndarray, window_s: int) -> np.ndarray:
    """For each query ``(q_node[i], q_t[i])``: how many events of that node have a time in ``(q_t - W, q_t]``.

    ``node`` / ``q_node`` are non-negative integer codes, ``t`` / ``q_t`` integer seconds."""
    if len(q_t) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(t) == 0:
        return np.zeros(len(q_t), dtype=np.int64)
    t0 = int(min(t.min(), q_t.min())) - window_s - 1
    span = int(max(t.max(), q_t.max())) - t0 + 1
    keys = np.sort(node.astype(np.int64) * span + (t.astype(np.int64) - t0))
    qk = q_node.astype(np.int64) * span + (q_t.astype(np.int64) - t0)
    return np.searchsorted(keys, qk, side="right") - np.searchsorted(keys, qk - window_s, side="right")


def edge_features(flows: pd.DataFrame, windows_h: tuple[int, ...] = WINDOWS_H) -> pd.DataFrame:
    """Per payment of ``flows`` (``src, dst, t``): ``src_out_{W}h, src_in_{W}h, dst_in_{W}h, dst_out_{W}h``."""
    codes, _ = pd.factorize(pd.concat([flows["src"], flows["dst"]], ignore_index=True))
    s, d = codes[: len(flows)], codes[len(flows):]
    t = flows["t"].to_numpy(dtype=np.int64)
    out = {}
    for w in windows_h:
        ws = int(w) * 3600
        out[f"src_out_{w}h"] = window_counts(s, t, s, t, ws)
        out[f"src_in_{w}h"] = window_counts(d, t, s, t, ws)
        out[f"dst_in_{w}h"] = window_counts(d, t, d, t, ws)
        out[f"dst_out_{w}h"] = window_counts(s, t, d, t, ws)
    return pd.DataFrame(out, index=flows.index)


def gfp_features(tx: pd.DataFrame, users: pd.Index, windows_h: tuple[int, ...] = WINDOWS_H) -> pd.DataFrame:
    """The :func:`gfp_columns` of every user of ``users`` (index), from the payments ``tx`` (silver columns)."""
    flows = user_flows(tx)
    out = pd.DataFrame(0.0, index=users, columns=list(gfp_columns(windows_h)))
    if flows.empty:
        return out
    e = edge_features(flows, windows_h)
    e["src"], e["dst"] = flows["src"].to_numpy(), flows["dst"].to_numpy()
    by_src, by_dst = e.groupby("src"), e.groupby("dst")

    def put(col: str, values: pd.Series) -> None:
        out[col] = values.reindex(users).fillna(0.0).astype(float).to_numpy()

    for w in windows_h:
        put(f"gfp_saida_max_{w}h", by_src[f"src_out_{w}h"].max())
        put(f"gfp_entrada_max_{w}h", by_dst[f"dst_in_{w}h"].max())
        for who, grp, col in (("pagador_saida", by_dst, f"src_out_{w}h"), ("pagador_entrada", by_dst, f"src_in_{w}h"),
                              ("recebedor_entrada", by_src, f"dst_in_{w}h"),
                              ("recebedor_saida", by_src, f"dst_out_{w}h")):
            put(f"gfp_{who}_mean_{w}h", grp[col].mean())
            put(f"gfp_{who}_max_{w}h", grp[col].max())
    fan_out = flows.groupby("src")["dst"].nunique()
    fan_in = flows.groupby("dst")["src"].nunique()
    pair = flows[["src", "dst"]].drop_duplicates()
    payer_fan = pair.assign(f=pair["src"].map(fan_out).to_numpy()).groupby("dst")["f"]
    recv_fan = pair.assign(f=pair["dst"].map(fan_in).to_numpy()).groupby("src")["f"]
    put("gfp_pagador_fan_out_mean", payer_fan.mean())
    put("gfp_pagador_fan_out_max", payer_fan.max())
    put("gfp_recebedor_fan_in_mean", recv_fan.mean())
    put("gfp_recebedor_fan_in_max", recv_fan.max())
    log.info("gfp features: %d payments, %d users with one", len(flows), int((out.abs().sum(axis=1) > 0).sum()))
    return out

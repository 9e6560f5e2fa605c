"""Batch computation of the transaction features from silver transactions (pure pandas, point in time).

The features, their order, defaults and rules are defined once in :mod:`pixring.features` (the stream and
the API compute them per record with :func:`pixring.features.window_features`); this module is the
vectorised form of the same rules over a whole history, and ``tests/pixring/test_feature_parity.py`` holds
the three paths to identical values. Inputs: ``noturna`` from the timestamp's hour (silver times are local
time), ``idade_chave_destino_h`` from silver's column (clamped at 0, -1 unknown), the windows over the rows
given (every status counted; ``repasse_origem`` sums the effective ones).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pixring.features import (REJECTED, TX_DEFAULTS, TX_FEATURES, WINDOW_1H_S, WINDOW_10MIN_S, noturna,
                               repasse)

REQUIRED: tuple[str, ...] = ("id_transacao", "timestamp", "valor", "chave_pix_origem", "chave_pix_destino")


def _window_counts(ts: np.ndarray, group: np.ndarray, width: np.timedelta64) -> np.ndarray:
    """For rows sorted by (group, ts): how many earlier rows of the same group fall in ``[ts - width, ts)``."""
    n = len(ts)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends):
        t = ts[s:e]
        lo = np.searchsorted(t, t - width, side="left")
        hi = np.searchsorted(t, t, side="left")
        out[s:e] = hi - lo
    return out


def _distinct_senders(ts: np.ndarray, group: np.ndarray, senders: np.ndarray, width: np.timedelta64) -> np.ndarray:
    n = len(ts)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends):
        if e - s == 1:
            continue
        t = ts[s:e]
        lo = np.searchsorted(t, t - width, side="left")
        hi = np.searchsorted(t, t, side="left")
        snd = senders[s:e]
        for i in range(e - s):
            if hi[i] > lo[i]:
                out[s + i] = len(set(snd[lo[i]:hi[i]]))
    return out


def _received_sum(tx: pd.DataFrame, width: np.timedelta64) -> np.ndarray:
    """Per transaction: money the origin key received (non-rejected) in ``[T - width, T)``."""
    inc = tx[tx["status"].fillna("") != REJECTED] if "status" in tx else tx
    inc = inc.sort_values(["chave_pix_destino", "timestamp"])
    by_key = {k: (g["timestamp"].to_numpy(), np.r_[0.0, np.cumsum(g["valor"].to_numpy(dtype=float))])
              for k, g in inc.groupby("chave_pix_destino", sort=False)}
    out = np.zeros(len(tx))
    ts_all = tx["timestamp"].to_numpy()
    for i, (ko, t) in enumerate(zip(tx["chave_pix_origem"].to_numpy(), ts_all)):
        got = by_key.get(ko)
        if got is None:
            continue
        times, csum = got
        lo = np.searchsorted(times, t - width, side="left")
        hi = np.searchsorted(times, t, side="left")
        out[i] = csum[hi] - csum[lo]
    return out


def tx_features(tx: pd.DataFrame, user_scores: pd.Series | None = None,
                ring_risk: pd.Series | None = None) -> pd.DataFrame:
    """TX_FEATURES for every row of ``tx`` (silver ``transacoes_pix`` columns), same index and order.

    Args:
        tx: at least ``id_transacao, timestamp, valor, chave_pix_origem, chave_pix_destino``; optional
            ``status, id_usuario_origem, id_usuario_destino, idade_chave_destino_h``. The windows look only at
            the rows given, so pass the whole history the features should see.
        user_scores: ``id_usuario -> score`` (gold node_scores of users).
        ring_risk: ``id_usuario -> risco`` of the user's riskiest ring candidate.

    Returns:
        A float frame with exactly the columns :data:`TX_FEATURES`.
    """
    missing = [c for c in REQUIRED if c not in tx.columns]
    if missing:
        raise ValueError(f"tx_features: missing columns {missing}")
    df = tx.copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["valor"] = pd.to_numeric(df["valor"], errors="coerce").fillna(0.0).astype(float)
    df["_pos"] = np.arange(len(df))
    out = pd.DataFrame(index=df.index)
    out["valor"] = df["valor"]
    hour = df["timestamp"].dt.hour
    out["noturna"] = noturna(hour)
    scores = user_scores if user_scores is not None else pd.Series(dtype=float)
    risk = ring_risk if ring_risk is not None else pd.Series(dtype=float)
    for col, src in (("score_origem", "id_usuario_origem"), ("score_destino", "id_usuario_destino")):
        out[col] = df[src].map(scores).astype(float).fillna(0.0) if src in df else 0.0
    out["risco_anel_destino"] = (df["id_usuario_destino"].map(risk).astype(float).fillna(0.0)
                                 if "id_usuario_destino" in df else 0.0)
    if "idade_chave_destino_h" in df:
        age = pd.to_numeric(df["idade_chave_destino_h"], errors="coerce")
        out["idade_chave_destino_h"] = age.clip(lower=0.0).fillna(TX_DEFAULTS["idade_chave_destino_h"])
    else:
        out["idade_chave_destino_h"] = TX_DEFAULTS["idade_chave_destino_h"]

    s = df.sort_values(["chave_pix_destino", "timestamp", "_pos"], kind="stable")
    ts, grp = s["timestamp"].to_numpy(), s["chave_pix_destino"].to_numpy()
    w10, w60 = np.timedelta64(int(WINDOW_10MIN_S), "s"), np.timedelta64(int(WINDOW_1H_S), "s")
    c10 = _window_counts(ts, grp, w10)
    c60 = _window_counts(ts, grp, w60)
    d60 = _distinct_senders(ts, grp, s["chave_pix_origem"].to_numpy(), w60)
    pos = s["_pos"].to_numpy()
    for col, vals in (("recebidos_10min_destino", c10), ("recebidos_1h_destino", c60),
                      ("remetentes_distintos_1h_destino", d60)):
        arr = np.zeros(len(df))
        arr[pos] = vals
        out[col] = arr
    received = _received_sum(df, w60)
    out["repasse_origem"] = repasse(received, df["valor"].to_numpy()).astype(float)
    return out[list(TX_FEATURES)].astype(float).fillna(pd.Series(TX_DEFAULTS))


def ring_risk_by_user(ring_candidates: pd.DataFrame) -> pd.Series:
    """``id_usuario -> max risco`` over the ring candidates whose ``membros`` contain the user."""
    if ring_candidates.empty:
        return pd.Series(dtype=float)
    ex = ring_candidates[["membros", "risco"]].explode("membros").dropna(subset=["membros"])
    return ex.groupby("membros")["risco"].max().astype(float)

"""Single-feature baselines: how well does one column-derived feature separate mules from everyone else?

Used by the tests (camouflage must keep every single feature below an AUC of 0.85 at ``normal``) and
to produce the table in ``docs/datagen.md``. Labels come from ``_truth/ring_membros.csv`` (``mula``
and ``coletor`` are positives; victims and everyone else negatives), so this is evaluation code: the
pipeline itself must not do this.

The reported "separation" of a feature is ``max(AUC, 1 - AUC)``: a feature that singles out mules
by being *low* separates as well as one that does by being high.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from datagen.writer import read_table
from pixring.contract import PAPEIS_MULA, TRUTH_DIR, is_night_hour


def user_features(out: Path) -> pd.DataFrame:
    """One row per user (index ``id_usuario``) with simple per-user features and the ``mule`` label."""
    out = Path(out)
    users = read_table(out, "usuarios")
    keys = read_table(out, "chaves_pix")
    tx = read_table(out, "transacoes_pix")
    dev = read_table(out, "dispositivos")
    lim = read_table(out, "limites_transacoes")
    members = pd.read_csv(out / TRUTH_DIR / "ring_membros.csv", dtype=str)

    ref = pd.Timestamp("2026-11-01T00:00:00")
    users = users.set_index("id_usuario")
    doc_to_user = pd.Series(users.index, index=users["cpf_cnpj"].values)
    keys = keys.assign(id_usuario=doc_to_user.reindex(keys["cpf_cnpj"].values).values)
    key_owner = pd.Series(keys["id_usuario"].values, index=keys["chave_pix"].values)
    tx = tx[tx["status"] != "rejeitada"].copy()
    tx["src"] = key_owner.reindex(tx["chave_pix_origem"].values).values
    tx["dst"] = key_owner.reindex(tx["chave_pix_destino"].values).values
    tx["ts"] = pd.to_datetime(tx["timestamp"])
    tx["v"] = tx["valor"].astype(float)

    f = pd.DataFrame(index=users.index)
    f["account_age_days"] = (ref - pd.to_datetime(users["data_cadastro"])).dt.total_seconds() / 86400
    f["in_degree"] = tx.groupby("dst").size().reindex(f.index, fill_value=0)
    f["distinct_senders"] = tx.groupby("dst")["src"].nunique().reindex(f.index, fill_value=0)
    f["out_degree"] = tx.groupby("src").size().reindex(f.index, fill_value=0)
    f["value_in"] = tx.groupby("dst")["v"].sum().reindex(f.index, fill_value=0.0)
    kd = pd.to_datetime(keys["data_cadastro"])
    f["newest_key_age_days"] = ((ref - kd).dt.total_seconds() / 86400).groupby(keys["id_usuario"].values).min() \
        .reindex(f.index)
    f["n_keys"] = keys.groupby("id_usuario").size().reindex(f.index, fill_value=0)
    shared = dev.groupby("id_dispositivo")["id_usuario"].transform("nunique") > 1
    f["shares_device"] = dev[shared].groupby("id_usuario").size().reindex(f.index, fill_value=0).gt(0).astype(int)
    f["n_devices"] = dev.groupby("id_usuario").size().reindex(f.index, fill_value=0)
    lim = lim.set_index("id_usuario")
    f["limit_change_age_days"] = ((ref - pd.to_datetime(lim["data_atualizacao"])).dt.total_seconds() / 86400) \
        .reindex(f.index)
    f["limit_changed"] = (pd.to_datetime(lim["data_atualizacao"]) > pd.to_datetime(users["data_cadastro"])
                          .reindex(lim.index)).astype(int).reindex(f.index)
    f["limite_por_transacao"] = lim["limite_por_transacao"].astype(float).reindex(f.index)
    hour = tx["ts"].dt.hour
    night = is_night_hour(hour)
    f["night_share_out"] = night.groupby(tx["src"].values).mean().reindex(f.index, fill_value=0.0)
    f["passthrough_2h"] = _passthrough(tx).reindex(f.index, fill_value=0.0)
    mule_ids = set(members.loc[members["papel"].isin(PAPEIS_MULA), "id_usuario"])
    f["mule"] = f.index.isin(mule_ids).astype(int)
    return f


def _passthrough(tx: pd.DataFrame) -> pd.Series:
    """Share of the money a user received that left again within 2 hours (a 2-hop temporal feature)."""
    inc = tx[["dst", "ts", "v"]].rename(columns={"dst": "u"}).sort_values("ts")
    out = tx[["src", "ts", "v"]].rename(columns={"src": "u", "ts": "ts_out", "v": "v_out"}).sort_values("ts_out")
    m = pd.merge_asof(out, inc, left_on="ts_out", right_on="ts", by="u", direction="backward",
                      tolerance=pd.Timedelta(hours=2))
    fwd = m.dropna(subset=["ts"]).groupby("u")["v_out"].sum()
    rec = inc.groupby("u")["v"].sum()
    return (fwd.reindex(rec.index, fill_value=0.0) / rec).clip(upper=1.0)


#: Features that a single column (or a one-table aggregate) gives; the camouflage must hold for these.
SINGLE_FEATURES = (
    "account_age_days", "in_degree", "distinct_senders", "out_degree", "value_in", "newest_key_age_days",
    "n_keys", "shares_device", "n_devices", "limit_change_age_days", "limit_changed", "limite_por_transacao",
    "night_share_out",
)


def separation(y: np.ndarray, x: np.ndarray) -> float:
    """``max(AUC, 1 - AUC)`` of feature ``x`` for labels ``y`` (NaN treated as the median)."""
    x = np.asarray(x, dtype=float)
    if np.isnan(x).any():
        x = np.where(np.isnan(x), np.nanmedian(x), x)
    auc = float(roc_auc_score(y, x))
    return max(auc, 1.0 - auc)


def single_feature_aucs(out: Path, features: tuple[str, ...] = SINGLE_FEATURES + ("passthrough_2h",)
                        ) -> dict[str, float]:
    """Separation (``max(AUC, 1-AUC)``) of each feature, mules vs. all other users."""
    f = user_features(out)
    y = f["mule"].to_numpy()
    return {name: round(separation(y, f[name].to_numpy()), 3) for name in features}

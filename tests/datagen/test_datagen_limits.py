"""The night limit and per-user limits: every concluded transaction respects them, every rejected
attempt would have broken one (replayed independently of the generator, in file order)."""

from __future__ import annotations

import pandas as pd

NIGHT_CAP = 100_000  # R$ 1,000.00 in cents


def to_cents(values: pd.Series) -> pd.Series:
    parts = values.str.split(".", n=1, expand=True)
    return parts[0].astype("int64") * 100 + parts[1].astype("int64")


def _replay(tables: dict[str, pd.DataFrame], tx: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Returns (concluded rows that break a limit, rejected rows that would not have)."""
    users = tables["usuarios"].set_index("id_usuario")
    lim = tables["limites_transacoes"].set_index("id_usuario")
    lim_tx = to_cents(lim["limite_por_transacao"]).to_dict()
    lim_day = to_cents(lim["limite_diario"]).to_dict()
    opened = pd.to_datetime(users["data_cadastro"])
    changed = pd.to_datetime(lim["data_atualizacao"])
    is_pf = (users["cpf_cnpj"].str.len() == 11).to_dict()
    night_free_from = {u: (changed[u] + pd.Timedelta(hours=24)) if changed[u] > opened[u] else pd.Timestamp.max
                       for u in users.index}
    day_sum: dict[tuple[str, object], int] = {}
    night_sum: dict[tuple[str, object], int] = {}
    broken, unexplained = [], []
    for row in tx.itertuples(index=False):
        u, c, ts = row.src, row.cents, row.ts
        h = ts.hour
        night = h >= 20 or h < 6
        dkey = (u, ts.date())
        nkey = (u, (ts - pd.Timedelta(hours=20)).date())
        capped = is_pf[u] and night and ts < night_free_from[u]
        ok = c <= lim_tx[u] and day_sum.get(dkey, 0) + c <= lim_day[u]
        if capped:
            ok = ok and night_sum.get(nkey, 0) + c <= NIGHT_CAP
        if row.status == "rejeitada":
            if ok:
                unexplained.append(row.id_transacao)
            continue
        if not ok:
            broken.append(row.id_transacao)
        day_sum[dkey] = day_sum.get(dkey, 0) + c
        if capped:
            night_sum[nkey] = night_sum.get(nkey, 0) + c
    return broken, unexplained


def test_limits_hold_and_rejections_are_explained(tables: dict[str, pd.DataFrame],
                                                  tx_users: pd.DataFrame) -> None:
    broken, unexplained = _replay(tables, tx_users)
    assert broken == []
    assert unexplained == []
    assert (tx_users["status"] == "rejeitada").sum() > 0  # attempts over the limit exist


def test_legitimate_night_transfers_of_individuals_stay_under_1000(tables: dict[str, pd.DataFrame],
                                                                   tx_users: pd.DataFrame) -> None:
    fraud = set(tables["_truth/transacoes_fraudulentas"]["id_transacao"])
    users = tables["usuarios"].set_index("id_usuario")
    lim = tables["limites_transacoes"].set_index("id_usuario")
    tx = tx_users[(tx_users["status"] != "rejeitada") & ~tx_users["id_transacao"].isin(fraud)].copy()
    tx = tx[users.loc[tx["src"], "cpf_cnpj"].str.len().values == 11]
    night = (tx["ts"].dt.hour >= 20) | (tx["ts"].dt.hour < 6)
    tx = tx[night]
    changed = pd.to_datetime(lim.loc[tx["src"], "data_atualizacao"]).values
    opened = pd.to_datetime(users.loc[tx["src"], "data_cadastro"]).values
    default = (changed <= opened) | (tx["ts"].values < changed + pd.Timedelta(hours=24))
    tx = tx[default]
    assert len(tx) > 20
    period = (tx["ts"] - pd.Timedelta(hours=20)).dt.date
    assert tx.groupby([tx["src"], period])["cents"].sum().max() <= NIGHT_CAP

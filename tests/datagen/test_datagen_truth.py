"""Ground truth (rings, members, fraudulent transactions) and the semantics of ``fraudes``."""

from __future__ import annotations

import pandas as pd

from pixring.contract import PAPEL, TIPOLOGIA, TIPO_FRAUDE


def test_truth_references_existing_rows(tables: dict[str, pd.DataFrame], tx_users: pd.DataFrame) -> None:
    ftx = tables["_truth/transacoes_fraudulentas"]
    rings = tables["_truth/rings_resumo"]
    members = tables["_truth/ring_membros"]
    assert ftx["id_transacao"].is_unique
    assert ftx["id_transacao"].isin(tables["transacoes_pix"]["id_transacao"]).all()
    assert set(ftx["id_ring"]) == set(rings["id_ring"]) == set(members["id_ring"])
    assert rings["id_ring"].is_unique
    assert set(rings["tipologia"]) <= set(TIPOLOGIA)
    assert set(members["papel"]) <= set(PAPEL)
    assert set(ftx["papel_origem"]) | set(ftx["papel_destino"]) <= set(PAPEL)
    # every ring member is an existing user, once per ring; the key listed is theirs
    assert members["id_usuario"].isin(tables["usuarios"]["id_usuario"]).all()
    assert not members.duplicated(["id_ring", "id_usuario"]).any()
    keys = tables["chaves_pix"].set_index("chave_pix")
    users = tables["usuarios"].set_index("id_usuario")
    assert (keys.loc[members["chave_pix"], "cpf_cnpj"].values
            == users.loc[members["id_usuario"], "cpf_cnpj"].values).all()
    # nobody is a mule in one ring and a victim (or mule) in another
    assert members["id_usuario"].is_unique
    # ring sizes and roles
    n = members.groupby("id_ring").size()
    assert n.between(3, 30).all()
    assert (rings.set_index("id_ring")["n_membros"].astype(int) == n.reindex(rings["id_ring"]).values).all()
    roles = members.groupby("id_ring")["papel"].agg(set)
    assert all({"vitima", "mula", "coletor"} <= r or {"vitima", "coletor"} <= r for r in roles)
    # each fraudulent transaction goes between members of its ring, with their roles
    t = tx_users.set_index("id_transacao").loc[ftx["id_transacao"]]
    role = {(r, u): p for r, u, p in members[["id_ring", "id_usuario", "papel"]].itertuples(index=False)}
    assert [role[(r, s)] for r, s in zip(ftx["id_ring"], t["src"])] == list(ftx["papel_origem"])
    assert [role[(r, d)] for r, d in zip(ftx["id_ring"], t["dst"])] == list(ftx["papel_destino"])


def test_graph_structure_is_planted(tables: dict[str, pd.DataFrame], tx_users: pd.DataFrame) -> None:
    ftx = tables["_truth/transacoes_fraudulentas"]
    members = tables["_truth/ring_membros"]
    t = tx_users.set_index("id_transacao").loc[ftx["id_transacao"]].assign(ring=ftx["id_ring"].values)
    # fan-in: some mule receives from several victims
    victim_pay = t[(ftx["papel_origem"] == "vitima").values & (ftx["papel_destino"] != "vitima").values]
    assert victim_pay.groupby("dst")["src"].nunique().max() >= 2
    # forwarding: money leaves mules (to mules or collectors)
    assert (ftx["papel_origem"] == "mula").sum() > 0
    assert (ftx["papel_destino"] == "coletor").sum() > 0
    mules = members[members["papel"].isin(["mula", "coletor"])]
    assert len(mules) >= 3


def test_fraudes_semantics(tables: dict[str, pd.DataFrame], tx_users: pd.DataFrame) -> None:
    f = tables["fraudes"]
    fraud_ids = set(tables["_truth/transacoes_fraudulentas"]["id_transacao"])
    tx = tx_users.set_index("id_transacao")
    assert len(f) == 100
    assert f["id_transacao"].is_unique
    assert f["id_transacao"].isin(tx.index).all()  # every claim points at an existing transaction
    assert set(f["tipo_fraude"]) <= set(TIPO_FRAUDE)
    assert set(f["status"]) <= {"confirmada", "em_analise", "improcedente"}
    # claims come after the transaction, for its amount, on money that actually moved
    t = tx.loc[f["id_transacao"]]
    assert (pd.to_datetime(f["data_deteccao"]).values > t["ts"].values).all()
    assert (f["valor_fraude"].values == t["valor"].values).all()
    assert (t["status"] != "rejeitada").all()
    on_fraud = f["id_transacao"].isin(fraud_ids)
    confirmed = f["status"] == "confirmada"
    # confirmed claims are planted fraud; unfounded ones are on legitimate transactions
    assert on_fraud[confirmed].all()
    assert not on_fraud[f["status"] == "improcedente"].any()
    # most, but not all, planted fraudulent transactions end up confirmed
    n_fraud = len(fraud_ids)
    n_conf = int(confirmed.sum())
    assert 0.4 * n_fraud <= n_conf < n_fraud
    # the rest of the file are claims on legitimate transactions
    assert (~on_fraud).sum() >= len(f) - n_fraud


def test_money_is_conserved_along_the_rings(tables: dict[str, pd.DataFrame], tx_users: pd.DataFrame) -> None:
    """Forwards pass on what actually arrived: collectors never get more than the victims lost,
    and most of it reaches them (each hop keeps at most a few percent)."""
    ftx = tables["_truth/transacoes_fraudulentas"]
    t = tx_users.set_index("id_transacao").loc[ftx["id_transacao"]]
    t = t.assign(ring=ftx["id_ring"].values, po=ftx["papel_origem"].values, pd_=ftx["papel_destino"].values)
    t = t[t["status"] != "rejeitada"]
    lost = t[t["po"] == "vitima"].groupby("ring")["cents"].sum()
    cashed = t[t["pd_"] == "coletor"].groupby("ring")["cents"].sum().reindex(lost.index, fill_value=0)
    assert (cashed <= lost + 1_000).all()
    assert (cashed >= 0.6 * lost).mean() > 0.8
    rings = tables["_truth/rings_resumo"].set_index("id_ring")
    assert (rings.loc[lost.index, "valor_total"].astype(float).round(2) == (lost / 100).round(2)).all()

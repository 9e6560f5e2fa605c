"""The typology catalogue (``diverse``): every typology planted, its structure, money conserved along
the trace, hop delays in range, roles consistent with the transactions, ``--typologies`` selection."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from datagen.aml import MAX_HOP, MIN_HOP
from datagen.generator import generate
from datagen.writer import read_table
from pixring.cli import main
from pixring.contract import LOOKALIKES, TIPOLOGIA, TIPOLOGIAS_AML, TIPOLOGIAS_PIX, TRUTH_COLUMNS, TRUTH_DIR
from pixring.errors import PixringError

from .conftest import to_cents


@pytest.fixture(scope="module")
def diverse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """A scale-0.5 ``diverse`` data set (two rounds of the 14 typologies), read back."""
    out = tmp_path_factory.mktemp("diverse") / "d"
    generate(out, scale=0.5, seed=11, difficulty="diverse")
    t = {name: read_table(out, name) for name in ("transacoes_pix", "chaves_pix", "usuarios", "fraudes")}
    for name in TRUTH_COLUMNS:
        t[name] = pd.read_csv(out / TRUTH_DIR / f"{name}.csv", dtype=str, keep_default_na=False)
    tx = t["transacoes_pix"]
    doc_user = dict(zip(t["usuarios"]["cpf_cnpj"], t["usuarios"]["id_usuario"]))
    key_user = {k: doc_user[d] for k, d in zip(t["chaves_pix"]["chave_pix"], t["chaves_pix"]["cpf_cnpj"])}
    tx["src"] = tx["chave_pix_origem"].map(key_user)
    tx["dst"] = tx["chave_pix_destino"].map(key_user)
    tx["cents"] = to_cents(tx["valor"])
    tx["ts"] = pd.to_datetime(tx["timestamp"], format="%Y-%m-%dT%H:%M:%S")
    ring_tx = tx.merge(t["transacoes_fraudulentas"], on="id_transacao")
    t["ring_tx"] = ring_tx
    return t


def _ring_graphs(d: dict[str, pd.DataFrame]) -> dict[str, nx.MultiDiGraph]:
    """Per ring, the transfers between its own accounts (victims left out)."""
    out: dict[str, nx.MultiDiGraph] = {}
    acc = d["ring_tx"][(d["ring_tx"]["papel_origem"] != "vitima")]
    for rid, g in acc.groupby("id_ring"):
        G = nx.MultiDiGraph()
        G.add_edges_from(zip(g["src"], g["dst"]))
        out[rid] = G
    return out


def test_every_typology_is_planted_with_3_to_30_members(diverse: dict[str, pd.DataFrame]) -> None:
    res = diverse["rings_resumo"]
    assert set(res["tipologia"]) == set(TIPOLOGIA)
    assert res["n_membros"].astype(int).between(3, 30).all()
    mem = diverse["ring_membros"]
    assert (mem.groupby("id_ring").size() == res.set_index("id_ring")["n_membros"].astype(int)).all()
    # placements, amount modes and camouflage are drawn per ring, over wide ranges
    aml = res[res["tipologia"].isin(TIPOLOGIAS_AML)]
    assert set(aml["colocacao"]) == {"vitimas", "externa"}
    assert set(aml["modo_valor"]) == {"conservado", "dividido", "estruturado"}
    act = res["atividade_normal"].astype(float)
    assert act.between(0.0, 1.5).all() and act.max() - act.min() > 0.7
    assert (aml["n_vitimas"].astype(int) == 0).eq(aml["colocacao"] == "externa").all()


def test_generic_truth_is_the_ring_accounts(diverse: dict[str, pd.DataFrame]) -> None:
    """``rings.csv`` (ring_id,id_usuario,typology) = the mula and coletor members, with their ring's typology."""
    gen = diverse["rings"]
    assert list(gen.columns) == ["ring_id", "id_usuario", "typology"]
    mem = diverse["ring_membros"]
    acc = mem[mem["papel"] != "vitima"]
    assert set(zip(gen["ring_id"], gen["id_usuario"])) == set(zip(acc["id_ring"], acc["id_usuario"]))
    typ = dict(zip(diverse["rings_resumo"]["id_ring"], diverse["rings_resumo"]["tipologia"]))
    assert (gen["typology"] == gen["ring_id"].map(typ)).all()
    assert not gen.duplicated(["ring_id", "id_usuario"]).any()
    assert not (gen["id_usuario"].isin(mem.loc[mem["papel"] == "vitima", "id_usuario"])).any()


def test_roles_match_the_transactions(diverse: dict[str, pd.DataFrame]) -> None:
    rt = diverse["ring_tx"]
    role = {(r, u): p for r, u, p in diverse["ring_membros"][["id_ring", "id_usuario", "papel"]].itertuples(index=False)}
    # each planted transaction's sender/receiver roles are those of ring_membros
    assert (rt.apply(lambda x: role[(x.id_ring, x.src)], axis=1) == rt["papel_origem"]).all()
    assert (rt.apply(lambda x: role[(x.id_ring, x.dst)], axis=1) == rt["papel_destino"]).all()
    senders = set(zip(rt["id_ring"], rt["src"]))
    receivers = set(zip(rt["id_ring"], rt["dst"]))
    for key, p in role.items():
        assert key in senders | receivers, key  # every member takes part
        if p == "vitima":
            assert key in senders and key not in receivers, key
        elif p == "mula":
            assert key in senders, key
        else:  # coletor: receives, never passes on within the ring
            assert key in receivers and key not in senders, key


def test_money_is_conserved_along_the_trace(diverse: dict[str, pd.DataFrame]) -> None:
    """Each forward moves exactly its share of what its inputs concluded; no input is passed on more
    than once; in ``conservado`` rings at least 95 % of each input goes on."""
    tx = diverse["transacoes_pix"].set_index("id_transacao")
    fl = diverse["fluxos"].copy()
    fl["fracao"] = fl["fracao"].astype(float)
    moved = tx["cents"].where(tx["status"] != "rejeitada", 0)
    fl["in_c"] = moved.loc[fl["id_transacao_entrada"]].to_numpy()
    g = fl.groupby("id_transacao").agg(frac=("fracao", "first"), nfrac=("fracao", "nunique"), total=("in_c", "sum"))
    assert (g["nfrac"] == 1).all()
    expected = np.maximum(100, np.floor(g["total"] * g["frac"] + 1e-6)).astype("int64")
    got = tx.loc[g.index, "cents"]
    assert (np.abs(got.to_numpy() - expected.to_numpy()) <= 1).all()
    share = fl.groupby("id_transacao_entrada")["fracao"].sum()
    assert (share <= 1.0 + 1e-6).all()
    ring_of = dict(zip(diverse["transacoes_fraudulentas"]["id_transacao"], diverse["transacoes_fraudulentas"]["id_ring"]))
    mode = dict(zip(diverse["rings_resumo"]["id_ring"], diverse["rings_resumo"]["modo_valor"]))
    cons = share[[mode[ring_of[i]] == "conservado" for i in share.index]]
    assert len(cons) > 50 and (cons >= 0.95 - 1e-6).all()
    # every forward is a planted transaction of the same ring as its inputs
    assert (fl["id_transacao"].map(ring_of) == fl["id_transacao_entrada"].map(ring_of)).all()


def test_hop_delays_from_minutes_to_two_weeks(diverse: dict[str, pd.DataFrame]) -> None:
    tx = diverse["transacoes_pix"].set_index("id_transacao")["ts"]
    fl = diverse["fluxos"]
    ring_of = dict(zip(diverse["transacoes_fraudulentas"]["id_transacao"], diverse["transacoes_fraudulentas"]["tipologia"]))
    dt = (tx.loc[fl["id_transacao"]].to_numpy() - tx.loc[fl["id_transacao_entrada"]].to_numpy()) / np.timedelta64(1, "s")
    hop = pd.Series(dt).groupby(fl["id_transacao"].to_numpy()).min()  # from the latest input
    aml = hop[[ring_of[i] in TIPOLOGIAS_AML for i in hop.index]]
    assert (aml >= MIN_HOP).all() and (aml <= MAX_HOP).all()
    assert aml.min() < 3600 and aml.max() > 86400  # minutes ... days within one data set
    assert (hop > 0).all()  # a forward never precedes its money


def test_structures_have_their_shape(diverse: dict[str, pd.DataFrame]) -> None:
    typ = dict(zip(diverse["rings_resumo"]["id_ring"], diverse["rings_resumo"]["tipologia"]))
    mem = diverse["ring_membros"]
    role = {(r, u): p for r, u, p in mem[["id_ring", "id_usuario", "papel"]].itertuples(index=False)}
    seen = set()
    for rid, G in _ring_graphs(diverse).items():
        t = typ[rid]
        if t not in TIPOLOGIAS_AML:
            continue
        seen.add(t)
        S = nx.DiGraph(G)
        outd, ind = dict(S.out_degree()), dict(S.in_degree())
        senders = [n for n in S if outd[n] > 0]
        sinks = [n for n in S if outd[n] == 0]
        assert all(role[(rid, n)] == "coletor" for n in sinks), (rid, t)
        if t == "aml_fan_out":
            assert len(senders) == 1 and outd[senders[0]] == len(S) - 1 >= 2, rid
        elif t == "aml_fan_in":
            assert len(sinks) == 1 and ind[sinks[0]] == len(S) - 1 >= 2
        elif t == "aml_cycle":
            mules = [n for n in S if role[(rid, n)] == "mula"]
            assert any(set(mules) <= set(c) for c in nx.simple_cycles(S)), rid
        elif t == "aml_bipartite":
            assert not set(senders) & {n for n in S if ind[n] > 0}, rid
        elif t == "aml_stack":
            assert nx.is_directed_acyclic_graph(S) and nx.dag_longest_path_length(S) >= 2, rid
        elif t == "aml_scatter_gather":
            src = [n for n in S if ind[n] == 0]
            mids = [n for n in S if ind[n] == 1 and outd[n] == 1]
            assert len(src) == 1 and len(sinks) == 1 and len(mids) == len(S) - 2 >= 2, rid
        elif t == "aml_gather_scatter":
            hubs = [n for n in S if ind[n] >= 2 and outd[n] >= 2]
            assert len(hubs) == 1, rid
        elif t == "aml_random_walk":
            assert nx.is_weakly_connected(S) and len(sinks) == 1, rid
            assert nx.has_path(S, [n for n in S if ind[n] == 0 or n == senders[0]][0], sinks[0])
    assert seen == set(TIPOLOGIAS_AML)


def test_structured_amounts_stay_below_the_threshold(diverse: dict[str, pd.DataFrame]) -> None:
    res = diverse["rings_resumo"]
    st = res[res["modo_valor"] == "estruturado"]
    assert len(st) >= 2
    rt = diverse["ring_tx"]
    for rid, lim in zip(st["id_ring"], st["limite_estruturacao"].astype(float)):
        sent = rt[(rt["id_ring"] == rid) & (rt["papel_origem"] != "vitima")]
        assert len(sent) and (sent["cents"] < round(lim * 100)).all(), rid


def test_externally_funded_rings_get_no_claim(diverse: dict[str, pd.DataFrame]) -> None:
    res = diverse["rings_resumo"]
    ext = set(res.loc[res["colocacao"] == "externa", "id_ring"])
    rt = diverse["ring_tx"]
    claimed = set(diverse["fraudes"]["id_transacao"])
    assert ext and not set(rt.loc[rt["id_ring"].isin(ext), "id_transacao"]) & claimed
    fed = set(res.loc[(res["colocacao"] == "vitimas") & res["tipologia"].isin(TIPOLOGIAS_AML), "id_ring"])
    assert set(rt.loc[rt["id_ring"].isin(fed), "id_transacao"]) & claimed  # their victims report


def test_typologies_selects(tmp_path: Path) -> None:
    pick = ("aml_cycle", "falso_parente", "aml_stack")
    report = generate(tmp_path / "sel", scale=0.2, seed=3, typologies=",".join(pick))
    res = pd.read_csv(tmp_path / "sel" / TRUTH_DIR / "rings_resumo.csv")
    assert set(res["tipologia"]) == set(pick) == set(report.typologies)
    counts = res["tipologia"].value_counts()
    assert counts.max() - counts.min() <= 1  # balanced rounds
    with pytest.raises(PixringError, match="unknown typology 'aml_smurf'"):
        generate(tmp_path / "bad", scale=0.1, typologies="aml_cycle,aml_smurf")
    assert main(["datagen", "--scale", "0.1", "--seed", "3", "--out", str(tmp_path / "cli"),
                 "--typologies", "aml_fan_in"]) == 0
    cli = pd.read_csv(tmp_path / "cli" / TRUTH_DIR / "rings.csv")
    assert set(cli["typology"]) == {"aml_fan_in"}
    assert main(["datagen", "--scale", "0.1", "--out", str(tmp_path / "cli2"), "--typologies", "nope"]) == 2


def test_default_mix_is_the_six_pix_typologies(tables: dict[str, pd.DataFrame]) -> None:
    assert set(tables["_truth/rings_resumo"]["tipologia"]) <= set(TIPOLOGIAS_PIX)
    assert set(tables["_truth/rings_resumo"]["colocacao"]) == {"vitimas"}
    assert set(tables["_truth/rings_resumo"]["modo_valor"]) == {"conservado"}


def test_lookalikes_are_legitimate_and_have_their_shape(diverse: dict[str, pd.DataFrame]) -> None:
    la = diverse["lookalikes"]
    assert set(la["tipo"]) == set(LOOKALIKES)
    # never in the truth, never on a planted transaction
    assert not set(la["id_usuario"]) & set(diverse["ring_membros"]["id_usuario"])
    rt = diverse["ring_tx"]
    assert not (rt["src"].isin(la["id_usuario"]) & rt["dst"].isin(la["id_usuario"])).any()
    assert not la.duplicated("id_usuario").any()  # one group each
    tx = diverse["transacoes_pix"]
    tx = tx[~tx["id_transacao"].isin(rt["id_transacao"])]
    for gid, g in la.groupby("id_grupo"):
        kind = g["tipo"].iloc[0]
        who = set(g["id_usuario"])
        inner = tx[tx["src"].isin(who) & tx["dst"].isin(who)]
        G = nx.DiGraph()
        G.add_edges_from(zip(inner["src"], inner["dst"]))
        role = dict(zip(g["id_usuario"], g["papel"]))
        centre = [u for u, p in role.items() if p in ("centro", "empresa", "corretor", "responsavel")]
        if kind == "folha_pagamento":  # one company pays every employee, by b2p
            pay = inner[inner["src"] == centre[0]]
            assert set(pay["dst"]) == who - set(centre) and (pay["tipo_transacao"] == "transferencia_b2p").all()
        elif kind == "comerciante_muitos_pagadores":
            assert G.in_degree(centre[0]) >= 10 and G.out_degree(centre[0]) >= 1, gid
        elif kind == "corretor":  # clients pay the broker, who passes (most of) it on
            ins = inner[inner["dst"] == centre[0]]["cents"].sum()
            outs = inner[inner["src"] == centre[0]]["cents"].sum()
            assert G.in_degree(centre[0]) >= 3 and 0.85 * ins <= outs <= ins, gid
        elif kind == "amigos_ciclo":
            assert len(who) >= 3 and G.number_of_edges() >= 2, gid
        elif kind == "familia_dispositivo":
            assert G.out_degree(centre[0]) == len(who) - 1, gid
    cycles = [g for gid, g in la.groupby("id_grupo") if g["tipo"].iloc[0] == "amigos_ciclo"]
    assert any(list(nx.simple_cycles(nx.DiGraph(list(zip(
        tx.loc[tx["src"].isin(set(g["id_usuario"])) & tx["dst"].isin(set(g["id_usuario"])), "src"],
        tx.loc[tx["src"].isin(set(g["id_usuario"])) & tx["dst"].isin(set(g["id_usuario"])), "dst"])))))
        for g in cycles)  # friends settling round a cycle, like a laundering cycle


def test_default_mix_has_no_lookalikes(tables: dict[str, pd.DataFrame]) -> None:
    assert tables["_truth/lookalikes"].empty

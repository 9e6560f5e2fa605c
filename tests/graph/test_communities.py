"""Community splitting, networkx metrics, the risk score and the evaluation measures (pure, no Spark)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from graph import communities as C
from pixring.settings import GraphSettings
from graph.evaluate import score_candidates


def test_split_uses_label_propagation_only_for_oversized_components() -> None:
    component = {"a": 1, "b": 1, "c": 1, **{f"x{i}": 2 for i in range(6)}}
    label = {"a": 7, "b": 8, "c": 8, **{f"x{i}": 10 + i // 3 for i in range(6)}}
    got = C.split(component, label, max_size=4)
    assert got["c1"] == {"a", "b", "c"}  # small: kept whole whatever the labels say
    assert got["c2-l10"] == {"x0", "x1", "x2"} and got["c2-l11"] == {"x3", "x4", "x5"}


def test_graph_metrics_of_a_triangle_with_a_tail() -> None:
    money = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("z", "a")]  # z is outside
    got = C.graph_metrics(frozenset("abcd"), money, max_len=5, max_nodes=100)
    assert got == {"densidade": pytest.approx(4 / 6), "n_ciclos": 1, "diametro": 2}


def test_score_grows_with_evidence_and_stays_in_0_1() -> None:
    lone = {"n_repassadores": 1, "n_repasses": 1, "n_remetentes": 1, "log_valor_repassado": 0.2}
    ring = {**lone, "n_repassadores": 3, "n_repasses": 4, "n_remetentes": 6, "n_contas_jovens": 3,
            "n_disp_compartilhados": 1, "n_disp_recentes": 1}
    r_lone, c_lone = C.score(lone)
    r_ring, c_ring = C.score(ring)
    assert 0.0 < r_lone < 0.1 < 0.9 < r_ring < 1.0
    assert set(c_ring) > {"n_contas_jovens", "n_disp_compartilhados"} and "n_contas_jovens" not in c_lone


def _tables(**kw: pd.DataFrame) -> C.MotifTables:
    empty = {
        "repasses": pd.DataFrame(columns=["id_usuario", "id_transacao", "destino", "ts", "valor", "valor_in", "n_in",
                                          "remetentes", "transacoes_in", "ts_in_primeiro", "ts_in_ultimo", "razao",
                                          "regra", "idade_conta_h", "idade_chave_h", "n_in_disp_novo"]),
        "cadeias": pd.DataFrame(columns=["a", "b", "c", "id1", "id2", "ts1", "ts2", "v1", "v2"]),
        "ciclos": pd.DataFrame(columns=["usuarios", "transacoes", "ts_inicio", "ts_fim", "comprimento"]),
        "dispositivos": pd.DataFrame(columns=["id_dispositivo", "u1", "u2", "compartilhado_em", "n_usuarios", "n_falhas"]),
        "fan_in": pd.DataFrame(columns=["id_usuario", "n_remetentes", "ts_inicio", "ts_fim", "n_janelas"]),
        "usuarios": pd.DataFrame(columns=["id_usuario", "cadastro_ts", "n_rejeitadas_in", "n_rejeitadas_out"]),
        "money": pd.DataFrame(columns=["src", "dst", "n", "valor_total"]),
    }
    return C.MotifTables(**{**empty, **kw})


def test_describe_explains_a_two_mule_ring() -> None:
    t = 1_790_000_000
    rep = pd.DataFrame([
        ("m1", "t1", "col", t + 600, 990.0, 1000.0, 2, ["v1", "v2"], ["i1", "i2"], t, t + 60, 0.99, "A", 200.0, 100.0, 0),
        ("m2", "t2", "col", t + 900, 495.0, 500.0, 1, ["v3"], ["i3"], t + 100, t + 100, 0.99, "A", 90_000.0, 90_000.0, 0),
    ], columns=_tables().repasses.columns)
    dev = pd.DataFrame([("DX", "m1", "m2", t - 86_400, 2, 0)], columns=_tables().dispositivos.columns)
    users = pd.DataFrame([(u, t - 10 * 86_400 if u == "col" else t - 3000 * 86_400, 0, 0)
                          for u in ("m1", "m2", "col", "v1", "v2", "v3")], columns=_tables().usuarios.columns)
    money = pd.DataFrame([("v1", "m1", 1, 500.0), ("v2", "m1", 1, 500.0), ("v3", "m2", 1, 500.0),
                          ("m1", "col", 1, 990.0), ("m2", "col", 1, 495.0)], columns=_tables().money.columns)
    groups = {"c1": frozenset({"m1", "m2", "col", "v1", "v2", "v3"})}
    (com,) = C.describe(groups, _tables(repasses=rep, dispositivos=dev, usuarios=users, money=money), GraphSettings())
    f = com.features
    assert (f["n_repassadores"], f["n_repasses"], f["n_remetentes"]) == (2, 2, 3)
    assert f["n_contas_jovens"] == 2  # m1 (young account) and the collector (opened 10 days before)
    assert (f["n_disp_compartilhados"], f["n_disp_recentes"]) == (1, 1)
    assert com.nucleo == ["col", "m1", "m2"]
    assert f["valor_em_risco"] == 1500.0 and f["valor_interno"] == 2985.0
    assert com.risco > 0.8
    ev = json.loads(C.evidence_json(com))
    assert set(ev["motivos"]) == {"repasse", "dispositivo_compartilhado"}
    assert ev["motivos"]["repasse"]["repassadores"] == ["m1", "m2"] and ev["razoes"]


def test_evaluation_measures() -> None:
    members = pd.DataFrame([("R1", "v1", "x", "vitima"), ("R1", "m1", "x", "mula"), ("R1", "c1", "x", "coletor"),
                            ("R2", "m2", "x", "mula"), ("R2", "m3", "x", "mula"), ("R2", "c2", "x", "coletor")],
                           columns=["id_ring", "id_usuario", "chave_pix", "papel"])
    rings = pd.DataFrame([("R1", "camadas"), ("R2", "ciclo")], columns=["id_ring", "tipologia"])
    cands = [{"membros": ["v1", "m1", "c1"], "nucleo": ["m1", "c1"]},  # R1 whole
             {"membros": ["m2", "z"], "nucleo": ["m2", "z"]},  # 1 of R2's 3 mules: not enough
             {"membros": ["y", "z"], "nucleo": ["y"]}]  # nothing
    e = score_candidates(members, rings, cands, [{"m2", "m3", "c2"}])
    assert e.ring_recall == 0.5 and e.candidate_precision == pytest.approx(2 / 3)
    assert e.per_typology == {"camadas": (1, 1), "ciclo": (0, 1)}
    assert e.mule_recall == pytest.approx(3 / 5) and e.community_ceiling == 0.5
    assert [m["id_ring"] for m in e.missed] == ["R2"] and "R2" in str(e)


def test_suspicious_links_keep_money_motifs_and_devices_between_flagged_users() -> None:
    rep = pd.DataFrame({"id_usuario": ["m"], "remetentes": [["v1", "v2"]], "destino": ["c"]})
    cad = pd.DataFrame({"a": ["x"], "b": ["y"], "c": ["z"]})
    cyc = pd.DataFrame({"usuarios": [["p", "q", "r"]]})
    dev = pd.DataFrame({"u1": ["m", "c", "h1"], "u2": ["c", "h2", "h2"]})  # h1/h2: a family tablet
    got = C.suspicious_links(rep, cad, cyc, dev)
    links = {(r.u, r.v, r.motivo) for r in got.itertuples()}
    assert links == {("v1", "m", "repasse"), ("v2", "m", "repasse"), ("m", "c", "repasse"),
                     ("x", "y", "cadeia"), ("y", "z", "cadeia"), ("p", "q", "ciclo"), ("q", "r", "ciclo"),
                     ("r", "p", "ciclo"), ("m", "c", "dispositivo_compartilhado")}
    empty = C.suspicious_links(rep.iloc[:0], cad.iloc[:0], cyc.iloc[:0], dev.iloc[:0])
    assert list(empty.columns) == ["u", "v", "motivo"] and empty.empty

"""Communities of the suspicious subgraph: split, measure (networkx), score, explain. Pure functions.

The suspicious subgraph is small (users that take part in a money motif, and the shared-device links
between them), so after Spark/GraphX have found its connected components and label-propagation labels,
everything here runs on the driver over plain Python/pandas structures:

* :func:`split` - a component is a community unless it is larger than ``comunidade_max`` (a legitimate hub
  can glue rings together); then its label-propagation communities are used instead.
* :func:`graph_metrics` - density, simple cycles (bounded length) and diameter of the community's money
  graph with networkx: a ring is dense, cyclic and shallow compared with a chance neighbourhood.
* :func:`score` - the risk (0-1), a logistic function of motif counts, young accounts, shared devices and
  the money passed on; each term is kept as a named contribution so the evidence says *why*.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from pixring.settings import GraphSettings


def suspicious_links(repasses: pd.DataFrame, cadeias: pd.DataFrame, ciclos: pd.DataFrame,
                     dispositivos: pd.DataFrame) -> pd.DataFrame:
    """The suspicious subgraph: user-user links that are part of a money motif (each payer -> the pass-through
    account -> its payee; both hops of a chain; every hop of a cycle), plus shared-device links between two
    users that already take part in one (a device alone is not suspicious: families share tablets).

    Returns ``u, v, motivo`` (distinct, ``u != v``; money links keep their direction).
    """
    parts = [pd.DataFrame(columns=["u", "v", "motivo"])]
    if len(repasses):
        ins = repasses[["id_usuario", "remetentes"]].explode("remetentes").dropna()
        parts += [pd.DataFrame({"u": ins["remetentes"], "v": ins["id_usuario"], "motivo": "repasse"}),
                  pd.DataFrame({"u": repasses["id_usuario"], "v": repasses["destino"], "motivo": "repasse"})]
    if len(cadeias):
        parts += [pd.DataFrame({"u": cadeias["a"], "v": cadeias["b"], "motivo": "cadeia"}),
                  pd.DataFrame({"u": cadeias["b"], "v": cadeias["c"], "motivo": "cadeia"})]
    hops = [(us[i], us[(i + 1) % len(us)]) for us in ciclos["usuarios"] for i in range(len(us))] if len(ciclos) else []
    if hops:
        parts.append(pd.DataFrame({"u": [h[0] for h in hops], "v": [h[1] for h in hops], "motivo": "ciclo"}))
    money = pd.concat(parts, ignore_index=True)
    money = money[money["u"] != money["v"]].drop_duplicates(ignore_index=True)
    flagged = set(money["u"]) | set(money["v"])
    if len(dispositivos):
        d = dispositivos[dispositivos["u1"].isin(flagged) & dispositivos["u2"].isin(flagged)]
        devs = pd.DataFrame({"u": d["u1"], "v": d["u2"], "motivo": "dispositivo_compartilhado"}).drop_duplicates()
        money = pd.concat([money, devs], ignore_index=True)
    return money.astype({"u": "string", "v": "string", "motivo": "string"}).astype(object)


def split(component: Mapping[str, int], label: Mapping[str, int], max_size: int) -> dict[str, frozenset[str]]:
    """Communities (key -> members) from the component and label-propagation label of each user.

    Keys are provisional (``c<component>`` or ``c<component>-l<label>``); stable ids come later.
    """
    comps: dict[int, set[str]] = defaultdict(set)
    for user, comp in component.items():
        comps[comp].add(user)
    out: dict[str, frozenset[str]] = {}
    for comp, users in comps.items():
        if len(users) <= max_size:
            out[f"c{comp}"] = frozenset(users)
            continue
        parts: dict[int, set[str]] = defaultdict(set)
        for u in users:
            parts[label.get(u, comp)].add(u)
        for lab, members in parts.items():
            out[f"c{comp}-l{lab}"] = frozenset(members)
    return out


def content_id(members: Iterable[str], prefix: str = "CM") -> str:
    """A deterministic id for a new community: a hash of its sorted members (the same data -> the same id)."""
    digest = hashlib.sha1(",".join(sorted(members)).encode()).hexdigest()[:10].upper()
    return f"{prefix}-{digest}"


def graph_metrics(members: frozenset[str], money: Iterable[tuple[str, str]], max_len: int, max_nodes: int,
                  max_cycles: int = 1000) -> dict[str, float | int]:
    """``densidade`` (undirected, of the money graph among members), ``n_ciclos`` (directed simple cycles of at
    most ``max_len`` hops, counted up to ``max_cycles``), ``diametro`` (largest over its connected parts)."""
    g = nx.DiGraph()
    g.add_nodes_from(members)
    g.add_edges_from((u, v) for u, v in money if u in members and v in members and u != v)
    ug = g.to_undirected()
    n = ug.number_of_nodes()
    dens = nx.density(ug) if n > 1 else 0.0
    n_cyc = 0
    diam = 0
    if n <= max_nodes:
        for _ in nx.simple_cycles(g, length_bound=max_len):
            n_cyc += 1
            if n_cyc >= max_cycles:
                break
    for part in nx.connected_components(ug):
        if len(part) < 2:
            continue
        sub = ug.subgraph(part)
        d = nx.diameter(sub) if len(part) <= max_nodes else nx.approximation.diameter(sub)
        diam = max(diam, int(d))
    return {"densidade": float(dens), "n_ciclos": int(n_cyc), "diametro": int(diam)}


# ------------------------------------------------------------------------------------------- score
@dataclass(frozen=True)
class Term:
    """One term of the risk: ``weight * min(value - offset, cap)`` (never below 0), and why it matters."""

    feature: str
    weight: float
    cap: float
    offset: float = 0.0
    why: str = ""


#: The risk is ``sigmoid(BIAS + sum(terms))``. A lone pass-through (someone who forwards rent once) stays
#: near 0.05; a ring shows several of these at once.
BIAS = -3.0
TERMS: tuple[Term, ...] = (
    Term("n_repassadores", 0.2, 3, 1, "more than one account passing money on"),
    Term("n_repasses", 0.35, 4, 1, "repeated pass-throughs"),
    Term("n_remetentes", 0.18, 8, 1, "many distinct payers into the pass-through accounts"),
    Term("n_ciclos_temporais", 0.5, 1, 0, "money that went round and came back"),
    Term("n_repasses_encadeados", 0.5, 1, 0, "money passed on twice in a row (layering)"),
    Term("n_contas_jovens", 0.95, 3, 0, "pass-through accounts or their payees opened / keyed recently"),
    Term("n_disp_compartilhados", 0.65, 2, 0, "several members operated from one device"),
    Term("n_disp_recentes", 0.8, 2, 0, "... a device that became shared shortly before the flows"),
    Term("n_rejeitadas", 0.5, 4, 0, "payments by or to members rejected by limits (night bursts)"),
    Term("n_in_disp_novo", 0.4, 1, 0, "payments in sent right after a login from a new device (takeover)"),
    Term("log_valor_repassado", 0.7, 2, 0, "amount passed on (log10 of R$/300)"),
)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def score(features: Mapping[str, float]) -> tuple[float, dict[str, float]]:
    """(risk in 0-1, contribution of each term)."""
    contrib: dict[str, float] = {}
    z = BIAS
    for t in TERMS:
        x = float(features.get(t.feature, 0.0) or 0.0) - t.offset
        c = t.weight * max(0.0, min(x, t.cap))
        if c:
            contrib[t.feature] = round(c, 3)
        z += c
    return sigmoid(z), contrib


# ----------------------------------------------------------------------------------- the evidence
@dataclass
class MotifTables:
    """The motif instances of one build, on the driver (pandas), restricted to the suspicious users."""

    repasses: pd.DataFrame  # id_usuario, id_transacao, destino, ts, valor, valor_in, n_in, remetentes, transacoes_in, idade_conta_h, idade_chave_h, n_in_disp_novo
    cadeias: pd.DataFrame  # a, b, c, id1, id2, ts1, ts2, v1, v2
    ciclos: pd.DataFrame  # usuarios, transacoes, ts_inicio, ts_fim, comprimento
    dispositivos: pd.DataFrame  # id_dispositivo, u1, u2, compartilhado_em (epoch s), n_usuarios, n_falhas
    fan_in: pd.DataFrame  # id_usuario, n_remetentes, ts_inicio, ts_fim, n_janelas
    usuarios: pd.DataFrame  # id_usuario, cadastro_ts (epoch s), n_rejeitadas_in, n_rejeitadas_out
    money: pd.DataFrame  # src, dst, n, valor_total (TRANSFERIU among suspicious users)


@dataclass
class Community:
    key: str
    members: frozenset[str]
    features: dict[str, Any] = field(default_factory=dict)
    risco: float = 0.0
    contrib: dict[str, float] = field(default_factory=dict)
    nucleo: list[str] = field(default_factory=list)
    evidencias: dict[str, Any] = field(default_factory=dict)


def _young(age_h: float | None, limit_h: float) -> bool:
    return age_h is not None and not (isinstance(age_h, float) and math.isnan(age_h)) and age_h < limit_h


def describe(communities: Mapping[str, frozenset[str]], m: MotifTables, p: GraphSettings) -> list[Community]:
    """Features, risk and evidence of every community."""
    of: dict[str, str] = {u: k for k, ms in communities.items() for u in ms}
    conta_h, chave_h = p.conta_jovem_dias * 24, p.chave_jovem_dias * 24
    cadastro = dict(zip(m.usuarios["id_usuario"], m.usuarios["cadastro_ts"]))
    rejeitadas = dict(zip(m.usuarios["id_usuario"], m.usuarios["n_rejeitadas_in"] + m.usuarios["n_rejeitadas_out"]))

    def by(df: pd.DataFrame, col: str) -> dict[str, pd.DataFrame]:
        if df.empty:
            return {}
        keys = df[col].map(of)
        return {k: g for k, g in df.assign(_k=keys).dropna(subset=["_k"]).groupby("_k")}

    rep = by(m.repasses, "id_usuario")
    cad = by(m.cadeias, "b")
    cyc = by(m.ciclos.assign(_first=m.ciclos["usuarios"].map(lambda us: us[0])) if not m.ciclos.empty else m.ciclos,
             "_first")
    dev_df = m.dispositivos
    if not dev_df.empty:
        dev_df = dev_df[dev_df["u1"].map(of) == dev_df["u2"].map(of)]
    dev = by(dev_df, "u1")
    fan = by(m.fan_in, "id_usuario")
    money_of: dict[str, list[tuple[str, str, float]]] = defaultdict(list)  # community -> its internal edges
    for s, d, v in zip(m.money["src"], m.money["dst"], m.money["valor_total"]):
        k = of.get(s)
        if k is not None and k == of.get(d):
            money_of[k].append((s, d, 0.0 if v is None or v != v else float(v)))

    out: list[Community] = []
    for key, members in communities.items():
        r = rep.get(key, pd.DataFrame(columns=m.repasses.columns))
        c = cad.get(key, pd.DataFrame(columns=m.cadeias.columns))
        y = cyc.get(key, pd.DataFrame(columns=m.ciclos.columns))
        d = dev.get(key, pd.DataFrame(columns=m.dispositivos.columns))
        f = fan.get(key, pd.DataFrame(columns=m.fan_in.columns))

        forwarders = set(r["id_usuario"]) | set(c["b"])
        payees = (set(r["destino"]) | set(c["c"])) - forwarders
        cycle_users = {u for us in y["usuarios"] for u in us}
        nucleo = sorted((forwarders | payees | cycle_users) & members)
        senders = {s for rs in r["remetentes"] for s in rs} | set(c["a"])
        t_first = min([*r["ts_in_primeiro"], *c["ts1"]], default=None)
        t_last = max([*r["ts"], *c["ts2"]], default=None)

        young: set[str] = set()
        for row in r.itertuples():
            if _young(row.idade_conta_h, conta_h) or _young(row.idade_chave_h, chave_h):
                young.add(row.id_usuario)
        for u in payees:  # the payees' account age at the first motif
            cad_ts = cadastro.get(u)
            if cad_ts is not None and t_first is not None and (t_first - cad_ts) < conta_h * 3600:
                young.add(u)
        shared = set(d["id_dispositivo"])
        recent = set()
        if t_first is not None and not d.empty:
            recent = set(d.loc[d["compartilhado_em"] >= t_first - p.disp_recente_dias * 86400, "id_dispositivo"])
        valor_rep = float(r["valor"].sum()) + float(c.loc[~c["id2"].isin(set(r["id_transacao"])), "v2"].sum())
        internal = money_of.get(key, [])
        metrics = graph_metrics(members, [(s, t) for s, t, _ in internal], p.ciclo_max_len, p.nx_max_membros)
        core = set(nucleo)
        interno = sum(v for _, _, v in internal)
        victims_in = sum(v for s, t, v in internal if s not in core and t in core)
        chained = int(r["id_transacao"].isin({t for ts in r["transacoes_in"] for t in ts}).sum()) if not r.empty else 0
        feats: dict[str, Any] = {
            "tamanho": len(members),
            "n_repassadores": len(forwarders),
            "n_repasses": int(len(r) + (~c["id2"].isin(set(r["id_transacao"]))).sum()),
            "n_remetentes": len(senders - forwarders),
            "n_cadeias": int(len(c)),
            "n_ciclos_temporais": int(len(y)),
            "n_repasses_encadeados": chained,
            "n_contas_jovens": len(young),
            "n_disp_compartilhados": len(shared),
            "n_disp_recentes": len(recent),
            "n_fan_in_jovem": int(len(f)),
            "n_rejeitadas": int(sum(rejeitadas.get(u, 0) or 0 for u in members)),
            "n_in_disp_novo": int(r["n_in_disp_novo"].sum()) if not r.empty else 0,
            "valor_repassado": round(valor_rep, 2),
            "log_valor_repassado": max(0.0, math.log10(max(valor_rep, 1.0) / 300.0)),
            "valor_interno": round(interno, 2),
            "valor_em_risco": round(victims_in if victims_in > 0 else float(r["valor_in"].max() if not r.empty else 0.0), 2),
            "ts_primeiro": t_first,
            "ts_ultimo": t_last,
            **metrics,
        }
        risco, contrib = score(feats)
        com = Community(key=key, members=members, features=feats, risco=risco, contrib=contrib, nucleo=nucleo)
        com.evidencias = _evidence(com, r, c, y, d, f, young, recent)
        out.append(com)
    return out


def _windows(df: pd.DataFrame) -> dict[str, Any]:
    """``{"janelas_h": {window: instances}}``: how many of a motif's instances fit each time scale."""
    if "janela_h" not in df.columns or df["janela_h"].isna().all():
        return {}
    counts = df["janela_h"].dropna().astype(float).value_counts().sort_index()
    return {"janelas_h": {f"{w:g}": int(n) for w, n in counts.items()}}


def _evidence(com: Community, r: pd.DataFrame, c: pd.DataFrame, y: pd.DataFrame, d: pd.DataFrame,
              f: pd.DataFrame, young: set[str], recent: set[str]) -> dict[str, Any]:
    ft = com.features
    motivos: dict[str, Any] = {}
    if len(r):
        motivos["repasse"] = {
            "n": int(len(r)), "repassadores": sorted(set(r["id_usuario"])),
            "valor": round(float(r["valor"].sum()), 2), "valor_recebido": round(float(r["valor_in"].sum()), 2),
            "atraso_mediano_min": round(float(((r["ts"] - r["ts_in_ultimo"]) / 60).median()), 1),
            "razao_media": round(float(r["razao"].mean()), 3), **_windows(r),
        }
    if len(c):
        motivos["cadeia"] = {"n": int(len(c)), "valor": round(float(c["v2"].sum()), 2),
                             "exemplo": [str(x) for x in c.iloc[0][["a", "b", "c"]]], **_windows(c)}
    if len(y):
        motivos["ciclo"] = {"n": int(len(y)), "comprimentos": sorted({int(x) for x in y["comprimento"]}),
                            "exemplo": [str(u) for u in y.iloc[0]["usuarios"]], **_windows(y)}
    if len(d):
        motivos["dispositivo_compartilhado"] = {
            "n_dispositivos": int(d["id_dispositivo"].nunique()), "dispositivos": sorted(set(d["id_dispositivo"]))[:10],
            "recentes": len(recent), "falhas_login": int(d["n_falhas"].sum()),
        }
    if len(f):
        motivos["fan_in_jovem"] = {"n": int(len(f)), "max_remetentes_24h": int(f["n_remetentes"].max()),
                                   "contas": sorted(set(f["id_usuario"]))[:10]}
    why = {t.feature: t.why for t in TERMS}
    return {
        "motivos": motivos,
        "contas_jovens": sorted(young)[:20],
        "metricas": {k: ft[k] for k in ("densidade", "n_ciclos", "diametro", "n_repasses_encadeados",
                                        "n_rejeitadas", "n_in_disp_novo", "n_disp_recentes", "n_remetentes")},
        "valor_repassado": ft["valor_repassado"],
        "valor_em_risco": ft["valor_em_risco"],
        "contribuicoes": com.contrib,
        "razoes": [why[k] for k, _ in sorted(com.contrib.items(), key=lambda kv: -kv[1])],
        "risco": round(com.risco, 4),
    }


def evidence_json(com: Community) -> str:
    return json.dumps(com.evidencias, sort_keys=True, ensure_ascii=False, default=str)

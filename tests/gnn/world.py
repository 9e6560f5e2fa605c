"""A tiny bank for the GNN tests, as pandas frames shaped like the gold/silver tables the GNN reads.

``make_world(prefix)``: 80 ordinary customers paying each other over 30 days, and 8 planted rings (one every
3 days): 3 victims (ordinary customers) pay 2 fresh mule accounts operated from one shared phone, who pass the
money on within minutes to a fresh collector. MED claims: the victim->mule payments of rings 0-6 are confirmed
two days later (ring 7 never is); a few ordinary payments get unfounded claims. The gold aggregates (edges,
per-user/per-key features, communities, ring candidates) are computed here the simple way.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from gnn.data import BEHAVIOUR, USER_BEHAVIOUR, Frames
from graph.schemas import FEATURE_COLUMNS

T0 = datetime(2026, 9, 1, 9, 0, 0)
N_ORD, N_RINGS, CONFIRMED_RINGS = 80, 8, 7


def key_of(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()


@dataclass
class World:
    frames: Frames
    rings: dict[int, list[str]]  # ring -> mules + collector
    victims: dict[int, list[str]]
    ordinary: list[str]


def make_world(prefix: str = "T", seed: int = 7) -> World:
    rnd = random.Random(seed)
    ordinary = [f"{prefix}U{i:03d}" for i in range(N_ORD)]
    created: dict[str, datetime] = {u: datetime(2021, 1, 1) + timedelta(days=rnd.randint(0, 900)) for u in ordinary}
    pj = {u: rnd.random() < 0.15 for u in ordinary}
    devices: list[tuple[str, str, str]] = [(f"{prefix}D{u}", u, rnd.choice(["android", "ios"])) for u in ordinary]
    tx: list[dict] = []

    def pay(a: str, b: str, when: datetime, valor: float, status: str = "concluida") -> str:
        tid = f"{prefix}TX{len(tx):05d}"
        tx.append({"id_transacao": tid, "timestamp": when, "valor": round(valor, 2), "chave_pix_origem": key_of(a),
                   "chave_pix_destino": key_of(b), "status": status, "id_usuario_origem": a, "id_usuario_destino": b})
        return tid

    for i in range(300):
        a, b = rnd.sample(ordinary, 2)
        pay(a, b, T0 + timedelta(minutes=rnd.randint(0, 30 * 24 * 60)), rnd.lognormvariate(4.5, 1.0))
    rings: dict[int, list[str]] = {}
    victims: dict[int, list[str]] = {}
    cases: list[tuple[str, datetime, str]] = []
    for r in range(N_RINGS):
        start = T0 + timedelta(days=2 + 3 * r, hours=rnd.randint(0, 8))
        m1, m2, col = f"{prefix}M{r}a", f"{prefix}M{r}b", f"{prefix}C{r}"
        rings[r] = [m1, m2, col]
        for u in rings[r]:
            created[u] = start - timedelta(days=rnd.randint(3, 12))
            pj[u] = False
            devices.append((f"{prefix}D{u}", u, "android"))
            devices.append((f"{prefix}DX{r}", u, "android"))
        vs = rnd.sample(ordinary, 3)
        victims[r] = vs
        amounts = []
        for j, v in enumerate(vs):
            mule = m1 if j < 2 else m2
            amt = rnd.uniform(300, 900)
            amounts.append((mule, amt))
            tid = pay(v, mule, start + timedelta(minutes=10 * j), amt)
            cases.append((tid, start + timedelta(days=2, hours=j), "confirmada" if r < CONFIRMED_RINGS else "none"))
        for mule in (m1, m2):
            got = sum(a for m, a in amounts if m == mule)
            pay(mule, col, start + timedelta(minutes=45), got * 0.97)
    for t in rnd.sample(tx[:300], 10):
        cases.append((t["id_transacao"], t["timestamp"] + timedelta(days=3), "improcedente"))
    cases = [c for c in cases if c[2] != "none"]
    fraudes = pd.DataFrame([{"id_fraude": f"{prefix}F{i:04d}", "id_transacao": t, "data_deteccao": d, "status": s}
                            for i, (t, d, s) in enumerate(cases)])
    txdf = pd.DataFrame(tx)
    users = list(created)
    txdf["idade_chave_destino_h"] = [(row.timestamp - created[row.id_usuario_destino]).total_seconds() / 3600
                                     for row in txdf.itertuples()]

    # ---- gold graph
    vert = [{"id": u, "tipo": "usuario", "tipo_pessoa": "PJ" if pj[u] else "PF", "tipo_chave": None,
             "tipo_dispositivo": None, "data_cadastro": created[u], "id_comunidade": None} for u in users]
    ring_of = {u: f"{prefix}CM{r}" for r, ms in rings.items() for u in ms + victims[r]}
    for v in vert:
        v["id_comunidade"] = ring_of.get(v["id"])
    vert += [{"id": key_of(u), "tipo": "chave", "tipo_pessoa": "PF", "tipo_chave": "aleatoria", "tipo_dispositivo": None,
              "data_cadastro": created[u] + timedelta(minutes=5), "id_comunidade": None} for u in users]
    dev_ids = sorted({d for d, _, _ in devices})
    dev_type = {d: t for d, _, t in devices}
    vert += [{"id": d, "tipo": "dispositivo", "tipo_pessoa": None, "tipo_chave": None, "tipo_dispositivo": dev_type[d],
              "data_cadastro": T0 - timedelta(days=30), "id_comunidade": None} for d in dev_ids]
    vdf = pd.DataFrame(vert)
    deg_in = txdf.groupby("id_usuario_destino").size()
    deg_out = txdf.groupby("id_usuario_origem").size()
    vdf["pagerank"] = 1.0 + vdf["id"].map(deg_in).fillna(0) * 0.1
    vdf["grau_in"] = vdf["id"].map(deg_in).fillna(0).astype("int64")
    vdf["grau_out"] = vdf["id"].map(deg_out).fillna(0).astype("int64")

    def agg(df: pd.DataFrame, s: str, d: str, tipo: str) -> pd.DataFrame:
        g = df.groupby([s, d]).agg(n=("valor", "size"), valor_total=("valor", "sum"), primeiro=("timestamp", "min"),
                                   ultimo=("timestamp", "max")).reset_index()
        return g.rename(columns={s: "src", d: "dst"}).assign(tipo=tipo, n_rejeitadas=0)

    edges = [agg(txdf, "chave_pix_origem", "chave_pix_destino", "PAGOU"),
             agg(txdf, "id_usuario_origem", "id_usuario_destino", "TRANSFERIU"),
             pd.DataFrame([{"src": u, "dst": key_of(u), "tipo": "POSSUI", "n": 1, "valor_total": None,
                            "primeiro": created[u], "ultimo": created[u], "n_rejeitadas": 0} for u in users]),
             pd.DataFrame([{"src": u, "dst": d, "tipo": "USA", "n": 3, "valor_total": None, "primeiro": T0,
                            "ultimo": T0, "n_rejeitadas": 0} for d, u, _ in devices])]
    edf = pd.concat(edges, ignore_index=True)[["src", "dst", "tipo", "n", "valor_total", "primeiro", "ultimo", "n_rejeitadas"]]

    # ---- per-user features (simple but honest: in/out counts and values, pass-through share)
    v_in = txdf.groupby("id_usuario_destino")["valor"].sum()
    v_out = txdf.groupby("id_usuario_origem")["valor"].sum()
    fu = pd.DataFrame({"id_usuario": users})
    for c in USER_BEHAVIOUR:
        fu[c] = 0.0
    fu["n_tx_in"] = fu["id_usuario"].map(deg_in).fillna(0)
    fu["n_tx_out"] = fu["id_usuario"].map(deg_out).fillna(0)
    fu["valor_in"] = fu["id_usuario"].map(v_in).fillna(0)
    fu["valor_out"] = fu["id_usuario"].map(v_out).fillna(0)
    fu["pct_repasse_1h"] = (fu["valor_out"] / fu["valor_in"].where(fu["valor_in"] > 0)).fillna(0).clip(upper=1)
    fu["n_chaves"], fu["n_dispositivos"] = 1, fu["id_usuario"].map(pd.Series([u for _, u, _ in devices]).value_counts())
    fu["idade_na_primeira_tx_h"] = None
    fc = fu.rename(columns={"id_usuario": "chave_pix"})[["chave_pix", *BEHAVIOUR]].copy()
    fc["chave_pix"] = fc["chave_pix"].map(key_of)
    gf = pd.DataFrame({"id_usuario": users})
    for c in FEATURE_COLUMNS:
        gf[c] = 0.0
    gf["grau_in"] = gf["id_usuario"].map(deg_in).fillna(0)
    gf["grau_out"] = gf["id_usuario"].map(deg_out).fillna(0)
    gf["fracao_repassada"] = fu["pct_repasse_1h"].to_numpy()
    gf["id_comunidade"] = gf["id_usuario"].map(ring_of)
    gf["em_anel"] = gf["id_comunidade"].notna().astype(int)
    cand = pd.DataFrame([{"id_anel": f"{prefix}CM{r}", "membros": sorted(rings[r] + victims[r]), "nucleo": sorted(rings[r]),
                          "risco": 0.6 + 0.05 * r} for r in range(0, N_RINGS, 2)])
    frames = Frames(graph_vertices=vdf, graph_edges=edf, graph_features=gf, features_usuario=fu[["id_usuario", *USER_BEHAVIOUR]],
                    features_chave=fc, ring_candidates=cand, fraudes=fraudes,
                    transacoes_pix=txdf)
    return World(frames=frames, rings=rings, victims=victims, ordinary=ordinary)


# ------------------------------------------------------------------------------------- as Delta tables

def write_delta(spark, settings, frames: Frames) -> None:
    """Write the frames as gold/silver Delta tables with the contract's column types (Decimals included)."""
    from gnn.data import GOLD_COLUMNS, SILVER_COLUMNS
    from graph.schemas import GOLD_GRAPH
    from lakehouse.paths import table_path
    from lakehouse.schemas import GOLD, SILVER
    from pyspark.sql.types import DecimalType, StructType

    schemas = {**GOLD_GRAPH, **GOLD, **SILVER}
    for layer, spec in (("gold", GOLD_COLUMNS), ("silver", SILVER_COLUMNS)):
        for name, cols in spec.items():
            full = schemas[name]
            schema = StructType([full[c] for c in cols])
            pdf = getattr(frames, name)[cols]
            rows = []
            for rec in pdf.to_dict("records"):
                row = []
                for f in schema.fields:
                    v = rec[f.name]
                    if isinstance(v, float) and pd.isna(v):
                        v = None
                    if v is pd.NaT:
                        v = None
                    if isinstance(f.dataType, DecimalType) and v is not None:
                        v = Decimal(f"{float(v):.2f}")
                    elif isinstance(v, pd.Timestamp):
                        v = v.to_pydatetime()
                    elif hasattr(v, "item") and not isinstance(v, (list, str)):
                        v = v.item()
                    if v is None and not f.nullable:
                        v = 0 if f.dataType.typeName() in ("long", "integer") else 0.0 if f.dataType.typeName() == "double" else v
                    if f.dataType.typeName() in ("long", "integer") and v is not None:
                        v = int(v)
                    if f.dataType.typeName() == "double" and v is not None:
                        v = float(v)
                    row.append(v)
                rows.append(tuple(row))
            (spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite")
             .save(table_path(settings, layer, name)))

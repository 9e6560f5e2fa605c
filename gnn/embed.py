"""``pixring gnn embed``: the registered GNN over the current gold graph -> gold node_scores, node_embeddings,
ring_scores, node_explanations (schemas in :mod:`gnn.schemas`), and the users' scores onto Neo4j.

:func:`embed_tables` is pure (checkpoint + frames -> pandas tables); :func:`run_embed` reads, writes and pushes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from gnn.checkpoint import Checkpoint
from gnn.data import NODE_TYPES, USER, Frames
from gnn.explain import METHOD, explain_users, to_json
from gnn.schemas import GOLD_GNN
from gnn.train import score_graph
from pixring.contract import NODE_LABELS

log = logging.getLogger(__name__)

NEO4J_CYPHER = (
    f"UNWIND $rows AS row MATCH (u:{NODE_LABELS['usuario']} {{id: row.id}}) "
    "SET u.score_gnn = row.score, u.sinalizado_gnn = row.sinalizado, u.modelo_versao = row.versao "
    "RETURN count(u) AS written"
)


@dataclass
class EmbedReport:
    version: str
    rows: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    nodes_per_s: float = 0.0
    neo4j_updated: int | None = None

    def __str__(self) -> str:
        rows = ", ".join(f"{k} {v:,}" for k, v in self.rows.items())
        neo = "skipped" if self.neo4j_updated is None else f"{self.neo4j_updated:,} Usuario nodes updated"
        return (f"gnn embed: model version {self.version}; {self.flagged:,} users flagged\n"
                f"  gold rows: {rows}\n  inference {self.nodes_per_s:,.0f} nodes/s; stages "
                + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()) + f"\n  neo4j: {neo}")


def ring_scores(users: pd.DataFrame) -> pd.DataFrame:
    """Per community: mean of the top half of its members' scores, members, flagged members."""
    rows = []
    for cid, g in users.dropna(subset=["id_comunidade"]).groupby("id_comunidade"):
        s = np.sort(g["score"].to_numpy())[::-1]
        top = s[: max(1, (len(s) + 1) // 2)]
        rows.append({"id_comunidade": str(cid), "score": float(top.mean()), "n_membros": int(len(g)),
                     "n_sinalizados": int(g["sinalizado"].sum())})
    return pd.DataFrame(rows, columns=["id_comunidade", "score", "n_membros", "n_sinalizados"])


def embed_tables(ckpt: Checkpoint, frames: Frames, version: str, now: datetime | None = None,
                 max_explain: int = 500, top: int = 10) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """The four gold tables as pandas frames (columns in schema order) and the stage timings."""
    now = now or datetime.now().replace(microsecond=0)
    t0 = time.monotonic()
    bundle, scores, emb, model = score_graph(ckpt, frames)
    t_inf = time.monotonic() - t0
    ids = bundle.ids
    flagged = (scores >= ckpt.threshold).astype(int)
    users = pd.DataFrame({"id": ids[USER].astype(str), "tipo": USER, "score": scores.astype(float),
                          "sinalizado": flagged.astype("int32"),
                          "id_comunidade": bundle.community.to_numpy(dtype=object)})
    users["id_comunidade"] = users["id_comunidade"].where(users["id_comunidade"].notna(), None)
    node_scores = users.assign(modelo_versao=version, gerado_em=now)
    embeddings = pd.concat([
        pd.DataFrame({"id": ids[t].astype(str), "tipo": t,
                      "embedding": list(emb[t].numpy().astype(np.float32))})
        for t in NODE_TYPES if len(ids[t])
    ], ignore_index=True).assign(modelo_versao=version, gerado_em=now)
    rings = ring_scores(users).assign(modelo_versao=version, gerado_em=now)
    t1 = time.monotonic()
    order = np.argsort(-scores)
    chosen = [int(i) for i in order if flagged[i]][:max_explain]
    expl = explain_users(model, bundle.data, ids, chosen, top=top)
    explanations = pd.DataFrame([
        {"id": str(ids[USER][i]), "tipo": USER, "score": float(scores[i]), "explicacao": to_json(expl[i]),
         "metodo": METHOD} for i in chosen
    ], columns=["id", "tipo", "score", "explicacao", "metodo"]).assign(modelo_versao=version, gerado_em=now)
    t_exp = time.monotonic() - t1
    tables = {"node_scores": node_scores, "node_embeddings": embeddings, "ring_scores": rings,
              "node_explanations": explanations}
    tables = {k: v[[f.name for f in GOLD_GNN[k].fields]] for k, v in tables.items()}
    n_nodes = sum(len(ids[t]) for t in NODE_TYPES)
    return tables, {"inference": t_inf, "explanations": t_exp, "nodes": float(n_nodes)}


def write_tables(spark, settings, tables: dict[str, pd.DataFrame], version: str) -> None:
    """Overwrite the gold tables (Delta), each commit tagged with the model version."""
    from lakehouse.delta import commit_metadata
    from lakehouse.paths import table_path

    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    with commit_metadata(spark, {"gnn_modelo_versao": version}):
        for name, pdf in tables.items():
            schema = GOLD_GNN[name]
            if name == "node_embeddings" and len(pdf):
                df = _embeddings_frame(spark, pdf)
            elif len(pdf):
                df = spark.createDataFrame(pdf.assign(gerado_em=pd.to_datetime(pdf["gerado_em"])), schema)
            else:
                df = spark.createDataFrame([], schema)
            (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
             .save(table_path(settings, "gold", name)))


def _embeddings_frame(spark, pdf: pd.DataFrame):
    """The embeddings through an Arrow table (list<float32>): pandas' own Arrow path cannot convert that column
    and would fall back to row-by-row Python (minutes at scale 1)."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    tbl = pa.table({
        "id": pa.array(pdf["id"].tolist(), type=pa.string()),
        "tipo": pa.array(pdf["tipo"].tolist(), type=pa.string()),
        "embedding": pa.array(list(pdf["embedding"]), type=pa.list_(pa.float32())),
        "modelo_versao": pa.array(pdf["modelo_versao"].astype(str).tolist(), type=pa.string()),
    })
    ts = pd.Timestamp(pdf["gerado_em"].iloc[0]).to_pydatetime()
    return spark.createDataFrame(tbl).withColumn("gerado_em", F.lit(ts).cast("timestamp"))


def push_neo4j(settings, node_scores: pd.DataFrame, batch_size: int = 5000) -> int:
    """``SET score_gnn, sinalizado_gnn, modelo_versao`` on the ``Usuario`` nodes (batched UNWIND, parameters)."""
    from graph.neo4j_load import connect

    n = settings.neo4j
    rows = [{"id": r.id, "score": float(r.score), "sinalizado": int(r.sinalizado), "versao": r.modelo_versao}
            for r in node_scores.itertuples()]
    total = 0
    with connect(n) as driver:
        with driver.session(database=n.database) as session:
            for i in range(0, len(rows), batch_size):
                batch = rows[i:i + batch_size]
                rec = session.execute_write(lambda tx, b=batch: tx.run(NEO4J_CYPHER, rows=b).single())
                total += rec["written"] if rec else 0
    return total


def run_embed(spark, settings, model_name: str | None = None, version: str | None = None, neo4j: bool = True,
              max_explain: int = 500, frames: Frames | None = None) -> EmbedReport:
    """Load the champion (or ``version``), score the current gold graph, write gold, push to Neo4j."""
    from gnn import tracking
    from gnn.data import read_frames

    t0 = time.monotonic()
    name = model_name or settings.mlflow.model_name
    version, ckpt = tracking.load_checkpoint(settings, name, version)
    frames = frames or read_frames(spark, settings, with_labels=False)
    t_read = time.monotonic() - t0
    tables, timing = embed_tables(ckpt, frames, version, max_explain=max_explain)
    t1 = time.monotonic()
    write_tables(spark, settings, tables, version)
    report = EmbedReport(version=version, rows={k: len(v) for k, v in tables.items()},
                         flagged=int(tables["node_scores"]["sinalizado"].sum()))
    report.seconds = {"load": t_read, "inference": timing["inference"], "explanations": timing["explanations"],
                      "write": time.monotonic() - t1}
    report.nodes_per_s = timing["nodes"] / max(timing["inference"], 1e-9)
    if neo4j:
        t2 = time.monotonic()
        report.neo4j_updated = push_neo4j(settings, tables["node_scores"])
        report.seconds["neo4j"] = time.monotonic() - t2
    log.info("%s", report)
    return report

"""``pixring graph build``: silver Delta tables -> the property graph, ring motifs, communities, ring
candidates and per-user graph features in gold. ``pixring graph rebuild --every 15m`` repeats it.

The job only reads, calls the pure transforms (:mod:`graph.transforms`, :mod:`graph.motifs`,
:mod:`graph.communities`, :mod:`graph.stable_ids`) and the GraphX algorithms (:mod:`graph.graphx`), and
writes. Steps:

1. pin the silver inputs to their current Delta versions (or to given ones: any build can be reproduced);
   when they equal the last build's, nothing is done (a rebuild of unchanged data is a no-op);
2. vertices (users, keys, devices) and aggregated edges (POSSUI, USA, PAGOU, TRANSFERIU);
3. motifs (repasse, cadeia, ciclo, dispositivo_compartilhado, fan_in_jovem) -> the suspicious subgraph;
4. GraphX connected components and label propagation on it -> communities; networkx metrics, risk and
   evidence per community; ids matched to the previous build's (stable ring ids, merges, splits);
5. GraphX PageRank over the money graph, degrees, per-user features;
6. write gold: ``graph_vertices, graph_edges, communities, ring_candidates, graph_features, graph_motifs``
   (overwritten), ``ring_lineage`` and ``graph_builds`` (appended; the build row is written last).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from graph import communities as C
from graph import motifs as M
from graph import transforms as T
from pixring.settings import GraphSettings
from graph.graphx import connected_components, label_propagation, page_rank
from graph.schemas import GOLD_GRAPH, SILVER_INPUTS
from graph.stable_ids import match
from lakehouse import delta
from lakehouse.paths import table_path
from pixring import ledger
from pixring.errors import PixringError
from pixring.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    build_id: str
    built_at: datetime
    silver_versions: dict[str, int]
    skipped: bool = False
    base_build_id: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return round(sum(self.stages.values()), 1)

    def __str__(self) -> str:
        versions = ", ".join(f"{k}@{v}" for k, v in self.silver_versions.items())
        if self.skipped:
            return (f"graph build: silver unchanged since build {self.build_id} ({versions}); nothing to do "
                    f"(use --force to rebuild)")
        c = self.counts
        lines = [
            f"graph build {self.build_id}: silver {versions}"
            + (f"; ids matched to build {self.base_build_id}" if self.base_build_id else ""),
            "  vertices: " + ", ".join(f"{k} {v:,}" for k, v in c.get("vertices", {}).items()),
            "  edges:    " + ", ".join(f"{k} {v:,}" for k, v in c.get("edges", {}).items()),
            "  motifs:   " + ", ".join(f"{k} {v:,}" for k, v in c.get("motifs", {}).items()),
            f"  suspicious subgraph: {c.get('suspeitos', 0):,} users, {c.get('arestas_suspeitas', 0):,} links; "
            f"{c.get('communities', 0):,} communities ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.status_counts.items())) + ")",
            f"  ring candidates (risk >= {c.get('risco_min', 0):.2f}): {c.get('ring_candidates', 0):,}",
        ]
        for r in self.candidates[:10]:
            lines.append(f"    {r['id_anel']}  risk {r['risco']:.3f}  {r['tamanho']:>3} members  "
                         f"R$ {r['valor_em_risco']:>12,.2f}  {r['status']:9s} {r['motivos']}")
        if len(self.candidates) > 10:
            lines.append(f"    ... {len(self.candidates) - 10} more (gold ring_candidates)")
        lines.append("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.stages.items())
                     + f"; total {self.seconds:.1f} s")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ helpers
def gold_path(settings: Settings, name: str) -> str:
    return table_path(settings, "gold", name)


def current_silver_versions(spark: SparkSession, settings: Settings) -> dict[str, int]:
    out = {}
    for name in SILVER_INPUTS:
        version = delta.latest_version(spark, table_path(settings, "silver", name))
        if version < 0:
            raise PixringError(f"silver table {name} does not exist yet: run `pixring ingest` and `pixring refine`")
        out[name] = version
    return out


def last_build(spark: SparkSession, settings: Settings) -> dict[str, Any] | None:
    path = gold_path(settings, "graph_builds")
    if delta.latest_version(spark, path) < 0:
        return None
    row = spark.read.format("delta").load(path).orderBy(F.col("built_at").desc()).limit(1).collect()
    return row[0].asDict() if row else None


def find_build(spark: SparkSession, settings: Settings, build_id: str) -> dict[str, Any]:
    path = gold_path(settings, "graph_builds")
    rows = [] if not delta.is_table(spark, path) else (
        spark.read.format("delta").load(path).where(F.col("build_id") == build_id).collect())
    if not rows:
        raise PixringError(f"no graph build {build_id!r} in {path}")
    return rows[0].asDict()


def _conform(df: DataFrame, schema: StructType) -> DataFrame:
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _overwrite(df: DataFrame, path: str) -> None:
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)


def _append(df: DataFrame, path: str) -> None:
    df.write.format("delta").mode("append").option("mergeSchema", "true").save(path)


def _parallel(jobs: Mapping[str, Callable[[], Any]], workers: int = 4) -> dict[str, Any]:
    """Independent Spark actions from a few driver threads (:func:`lakehouse.delta.run_parallel`): on a small
    cluster most of a Delta read or write is driver-side latency (log replay, commit), which overlaps well."""
    return delta.run_parallel(jobs, workers)


def _build_id(versions: Mapping[str, int], now: datetime) -> str:
    h = hashlib.sha1(json.dumps(dict(versions), sort_keys=True).encode()).hexdigest()[:6]
    return f"gb-{now:%Y%m%d%H%M%S}-{h}"


class _Timer:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(self.stages.get(name, 0.0) + now - self._t, 2)
        log.info("graph build: %s done in %.1f s", name, now - self._t)
        self._t = now


def _pdf(spark: SparkSession, rows: list[dict], schema: str) -> DataFrame:
    return spark.createDataFrame(rows, schema) if rows else spark.createDataFrame([], schema)


# -------------------------------------------------------------------------------------------- build
@dataclass
class GraphInputs:
    """The silver frames a build reads (any frames with the silver columns, e.g. hand-made in tests)."""

    usuarios: DataFrame
    chaves_pix: DataFrame
    dispositivos: DataFrame
    log_autenticacao: DataFrame
    transacoes_pix: DataFrame


@dataclass
class GraphResult:
    """What :func:`compute_graph` produces: the gold frames (lazy where possible) and a driver-side summary."""

    build_id: str
    gold: dict[str, DataFrame]
    communities: list[C.Community]
    ids: dict[str, str]  # community key -> stable id
    status: dict[str, str]  # community key -> nova|estavel|fundida|dividida
    lineage: list[dict[str, Any]]
    ring_rows: list[dict[str, Any]]
    counts: dict[str, Any]
    persisted: list[DataFrame] = field(default_factory=list)

    def ring_of(self, user: str) -> str | None:
        """The stable id of the ring candidate ``user`` belongs to (None when in none)."""
        return next((r["id_anel"] for r in self.ring_rows if user in r["membros"]), None)

    def release(self) -> None:
        for df in self.persisted:
            df.unpersist()


def compute_graph(
    spark: SparkSession,
    inputs: GraphInputs,
    previous: Mapping[str, frozenset[str]],
    p: GraphSettings,
    build_id: str,
    timer: _Timer | None = None,
) -> GraphResult:
    """Graph, motifs, communities (ids matched to ``previous``: id -> members), risk, features. No I/O."""
    timer = timer or _Timer()
    keep: list[DataFrame] = []

    def persist(df: DataFrame) -> DataFrame:
        keep.append(df.persist())
        return df

    tx_raw = persist(inputs.transacoes_pix.select(
        "id_transacao", "timestamp", "valor", "status", "chave_pix_origem", "chave_pix_destino",
        "id_usuario_origem", "id_usuario_destino", "idade_conta_destino_h", "idade_chave_destino_h",
        "dispositivo_novo",
    ))
    bindings = persist(T.device_bindings(inputs.dispositivos, inputs.log_autenticacao))
    edges = persist(T.edges(inputs.chaves_pix, bindings, tx_raw))
    base_vertices = persist(T.vertices(inputs.usuarios, inputs.chaves_pix, inputs.dispositivos, bindings))

    def by_type(df: DataFrame) -> Callable[[], dict[str, int]]:
        return lambda: {r["tipo"]: int(r["n"]) for r in df.groupBy("tipo").agg(F.count(F.lit(1)).alias("n")).collect()}

    counts: dict[str, Any] = _parallel({"edges": by_type(edges), "vertices": by_type(base_vertices)})
    timer.lap("graph")

    # --- motifs (Spark joins); their instances are few: coalesced and collected ------------------------
    def small(df: DataFrame) -> DataFrame:
        return persist(df.coalesce(1))

    tx = persist(T.transfers(tx_raw))
    rep_all = small(M.repasses(tx, p))
    pairs_all = small(M.cadeias(tx, p))
    frac = small(M.fracao_repassada(tx, rep_all, pairs_all))
    rep, pairs = (small(df) for df in M.only_pass_through_accounts(rep_all, pairs_all, frac, p))
    cyc = small(M.ciclos(pairs, p))
    dev = small(M.dispositivos_compartilhados(bindings, p))
    fan = small(M.fan_in_jovem(tx, p))
    got = _parallel({
        "repasses": lambda: rep.drop("valor_dec", "timestamp").toPandas(),
        "cadeias": lambda: pairs.toPandas(),
        "ciclos": lambda: cyc.toPandas(),
        "dispositivos": lambda: dev.withColumn("compartilhado_em", F.unix_timestamp("compartilhado_em")).toPandas(),
        "fan_in": lambda: fan.toPandas(),
    })
    sus_pd = C.suspicious_links(got["repasses"], got["cadeias"], got["ciclos"], got["dispositivos"])
    timer.lap("motifs")

    # --- GraphX on the (small) suspicious subgraph: connected components, label propagation ----------
    users_pd = pd.DataFrame({"id_usuario": sorted(set(sus_pd["u"]) | set(sus_pd["v"]))})
    sus_users = small(spark.createDataFrame(users_pd, "id_usuario string")
                      .withColumn("vid", T.vid("usuario", "id_usuario")))
    sus_edges = spark.createDataFrame(sus_pd[["u", "v"]], "u string, v string").coalesce(1).select(
        T.vid("usuario", "u").alias("src"), T.vid("usuario", "v").alias("dst"))
    algo = _parallel({
        "cc": lambda: connected_components(sus_users, sus_edges).toPandas(),
        "lpa": lambda: label_propagation(sus_users, sus_edges, max_steps=p.lpa_passos).toPandas(),
        "vid": lambda: sus_users.toPandas(),
    })
    assign = algo["vid"].merge(algo["cc"], on="vid").merge(algo["lpa"], on="vid")[["id_usuario", "component", "label"]]
    timer.lap("components")

    mt = _motif_tables(spark, sus_users, got, inputs.usuarios, edges)
    timer.lap("collect")
    groups = C.split(dict(zip(assign["id_usuario"], assign["component"])),
                     dict(zip(assign["id_usuario"], assign["label"])), p.comunidade_max)
    described = C.describe(groups, mt, p)
    m = match(previous, {c.key: c.members for c in described}, p.overlap_min)
    timer.lap("communities")

    # --- frames to write ----------------------------------------------------------------------------
    com_rows, ring_rows, member_rows = [], [], []
    comp_size = assign.groupby("component")["id_usuario"].transform("size")
    comp_size_of = dict(zip(assign["id_usuario"], comp_size))
    for c in sorted(described, key=lambda c: -c.risco):
        cid, status, ft = m.ids[c.key], m.status[c.key], c.features
        is_ring = c.risco >= p.risco_min_anel
        ev = C.evidence_json(c)
        com_rows.append({
            "id_comunidade": cid, "membros": sorted(c.members), "tamanho": len(c.members),
            "densidade": float(ft["densidade"]), "n_ciclos": int(ft["n_ciclos"]), "diametro": int(ft["diametro"]),
            "valor_interno": float(ft["valor_interno"]), "risco": float(c.risco), "status": status,
            "n_repassadores": int(ft["n_repassadores"]), "n_repasses": int(ft["n_repasses"]),
            "n_cadeias": int(ft["n_cadeias"]), "n_ciclos_temporais": int(ft["n_ciclos_temporais"]),
            "n_disp_compartilhados": int(ft["n_disp_compartilhados"]), "n_contas_jovens": int(ft["n_contas_jovens"]),
            "n_fan_in_jovem": int(ft["n_fan_in_jovem"]), "valor_repassado": float(ft["valor_repassado"]),
            "ts_primeiro": ft["ts_primeiro"], "ts_ultimo": ft["ts_ultimo"], "evidencias": ev,
        })
        if is_ring:
            ring_rows.append({
                "id_anel": cid, "membros": sorted(c.members), "evidencias": ev, "risco": float(c.risco),
                "tamanho": len(c.members), "valor_em_risco": float(ft["valor_em_risco"]), "status": status,
                "nucleo": list(c.nucleo),
            })
        for u in c.members:
            member_rows.append({"id_usuario": u, "id_comunidade": cid, "tamanho_componente": int(comp_size_of[u]),
                                "risco_comunidade": float(c.risco), "em_anel": int(is_ring)})
    com_schema = ("id_comunidade string, membros array<string>, tamanho int, densidade double, n_ciclos int, "
                  "diametro int, valor_interno double, risco double, status string, n_repassadores int, "
                  "n_repasses int, n_cadeias int, n_ciclos_temporais int, n_disp_compartilhados int, "
                  "n_contas_jovens int, n_fan_in_jovem int, valor_repassado double, ts_primeiro long, "
                  "ts_ultimo long, evidencias string")
    communities_df = (
        _pdf(spark, com_rows, com_schema)
        .withColumn("primeiro", F.timestamp_seconds("ts_primeiro")).withColumn("ultimo", F.timestamp_seconds("ts_ultimo"))
        .withColumn("build_id", F.lit(build_id))
    )
    rings_df = _pdf(spark, ring_rows, "id_anel string, membros array<string>, evidencias string, risco double, "
                    "tamanho int, valor_em_risco double, status string, nucleo array<string>").withColumn(
        "build_id", F.lit(build_id))
    membership = _pdf(spark, member_rows, "id_usuario string, id_comunidade string, tamanho_componente long, "
                      "risco_comunidade double, em_anel int")
    lineage_df = _pdf(spark, m.lineage, "id_antigo string, id_novo string, relacao string, overlap double, "
                      "jaccard double, n_comuns int").withColumn("build_id", F.lit(build_id))
    motifs_df = _motif_rows(spark, mt, {u: m.ids[c.key] for c in described for u in c.members}, build_id)
    motif_counts = _motif_counts(spark, mt).join(
        frac.select("id_usuario", "fracao_repassada"), "id_usuario", "full")
    timer.lap("frames")

    # --- PageRank, degrees, vertices, features ------------------------------------------------------
    pr = page_rank(base_vertices.select("vid").coalesce(2), T.money_graph(edges).coalesce(2),
                   num_iter=p.pagerank_iter, reset_prob=p.pagerank_reset)
    vertices_df = persist(T.final_vertices(
        base_vertices, pr, T.degrees(edges), membership.select(F.col("id_usuario").alias("id"), "id_comunidade"),
        build_id,
    ))
    features_df = T.user_features(vertices_df, edges, bindings, motif_counts, membership, build_id, p.disp_max_usuarios)
    timer.lap("pagerank")

    counts.update({
        "motifs": {k: int(v) for k, v in mt.counts.items()},
        "suspeitos": int(len(assign)), "arestas_suspeitas": int(len(sus_pd)),
        "communities": len(com_rows), "ring_candidates": len(ring_rows), "risco_min": p.risco_min_anel,
    })
    gold = {
        "graph_vertices": vertices_df,
        "graph_edges": edges.withColumn("build_id", F.lit(build_id)),
        "communities": communities_df,
        "ring_candidates": rings_df,
        "graph_features": features_df,
        "graph_motifs": motifs_df,
        "ring_lineage": lineage_df,
    }
    return GraphResult(
        build_id=build_id, gold={k: _conform(v, GOLD_GRAPH[k]) for k, v in gold.items()}, communities=described,
        ids=m.ids, status=m.status, lineage=m.lineage, ring_rows=ring_rows, counts=counts, persisted=keep,
    )


def build_graph(
    spark: SparkSession,
    settings: Settings,
    *,
    silver_versions: Mapping[str, int] | None = None,
    force: bool = False,
    params: GraphSettings | None = None,
) -> BuildReport:
    """Build the graph and its gold tables from silver (at ``silver_versions``, default: the current ones).

    Returns without writing anything when the inputs equal the last build's and ``force`` is False.
    """
    p = params or settings.graph
    timer = _Timer()
    versions = dict(silver_versions) if silver_versions else current_silver_versions(spark, settings)
    prev = last_build(spark, settings)
    if prev and not force and not silver_versions and json.loads(prev["silver_versions"]) == versions:
        return BuildReport(build_id=prev["build_id"], built_at=prev["built_at"], silver_versions=versions, skipped=True)
    now = datetime.now().replace(microsecond=0)
    build_id = _build_id(versions, now)
    log.info("graph build %s from silver %s", build_id, versions)

    def silver(name: str) -> DataFrame:
        return (spark.read.format("delta").option("versionAsOf", versions[name])
                .load(table_path(settings, "silver", name)))

    frames = _parallel({name: (lambda n=name: silver(n)) for name in SILVER_INPUTS}
                       | {"_old": lambda: _previous_communities(spark, settings)}, workers=6)
    erased = ledger.load(settings)  # the erasure ledger: an erased person is no vertex, edge or ring member
    inputs = GraphInputs(**{name: ledger.without_erased(frames[name], erased) for name in SILVER_INPUTS})
    res = compute_graph(spark, inputs, frames["_old"], p, build_id, timer)

    meta = {"graph_build_id": build_id, "silver_versions": versions}
    with delta.commit_metadata(spark, meta):
        jobs: dict[str, Callable[[], Any]] = {
            name: (lambda n=name, df=df: _overwrite(df, gold_path(settings, n)))
            for name, df in res.gold.items() if name != "ring_lineage"
        }
        lineage_path = gold_path(settings, "ring_lineage")
        if res.lineage:
            jobs["ring_lineage"] = lambda: _append(res.gold["ring_lineage"], lineage_path)
        elif delta.latest_version(spark, lineage_path) < 0:  # the table exists from the first build on
            jobs["ring_lineage"] = lambda: delta.ensure_table(spark, lineage_path, GOLD_GRAPH["ring_lineage"])
        _parallel(jobs)
        timer.lap("write")
        build_row = [{
            "build_id": build_id, "built_at": now, "silver_versions": json.dumps(versions, sort_keys=True),
            "counts": json.dumps(res.counts, sort_keys=True), "params": p.model_dump_json(),
            "segundos": float(sum(timer.stages.values())), "base_build_id": prev["build_id"] if prev else None,
        }]
        # the build row last: a build is complete (and the next rebuild a no-op) only once it is there
        _append(spark.createDataFrame(build_row, GOLD_GRAPH["graph_builds"]), gold_path(settings, "graph_builds"))
    timer.lap("write")
    res.release()

    status_counts: dict[str, int] = {}
    for s in res.status.values():
        status_counts[s] = status_counts.get(s, 0) + 1
    return BuildReport(
        build_id=build_id, built_at=now, silver_versions=versions, base_build_id=prev["build_id"] if prev else None,
        counts=res.counts, stages=timer.stages, status_counts=status_counts,
        candidates=[{**{k: r[k] for k in ("id_anel", "risco", "tamanho", "valor_em_risco", "status")},
                     "motivos": ",".join(sorted(json.loads(r["evidencias"])["motivos"]))} for r in res.ring_rows],
    )


def _previous_communities(spark: SparkSession, settings: Settings) -> dict[str, frozenset[str]]:
    path = gold_path(settings, "communities")
    if delta.latest_version(spark, path) < 0:
        return {}
    rows = spark.read.format("delta").load(path).select("id_comunidade", "membros").collect()
    return {r["id_comunidade"]: frozenset(r["membros"]) for r in rows}


@dataclass
class _Motifs(C.MotifTables):
    counts: dict[str, int] = field(default_factory=dict)


def _motif_tables(spark: SparkSession, sus_users: DataFrame, got: dict[str, pd.DataFrame], usuarios: DataFrame,
                  edges: DataFrame) -> _Motifs:
    """The motif instances restricted to the suspicious users, plus what the scores need about them."""
    su = F.broadcast(sus_users.select("id_usuario"))
    tr = edges.where(F.col("tipo") == "TRANSFERIU")
    rej = (tr.groupBy(F.col("dst").alias("id_usuario")).agg(F.sum("n_rejeitadas").alias("n_rejeitadas_in"))
           .join(tr.groupBy(F.col("src").alias("id_usuario")).agg(F.sum("n_rejeitadas").alias("n_rejeitadas_out")),
                 "id_usuario", "full"))
    more = _parallel({
        "usuarios": lambda: (
            usuarios.select("id_usuario", F.unix_timestamp("data_cadastro").alias("cadastro_ts")).join(su, "id_usuario")
            .join(rej, "id_usuario", "left").fillna({"n_rejeitadas_in": 0, "n_rejeitadas_out": 0}).toPandas()),
        "money": lambda: (
            tr.join(su.withColumnRenamed("id_usuario", "src"), "src").join(su.withColumnRenamed("id_usuario", "dst"), "dst")
            .select("src", "dst", "n", F.col("valor_total").cast("double").alias("valor_total")).toPandas()),
    })
    users = set(more["usuarios"]["id_usuario"])
    dev, fan = got["dispositivos"], got["fan_in"]
    dev = dev[dev["u1"].isin(users) & dev["u2"].isin(users)].reset_index(drop=True)
    return _Motifs(
        repasses=got["repasses"], cadeias=got["cadeias"], ciclos=got["ciclos"], dispositivos=dev,
        fan_in=fan[fan["id_usuario"].isin(users)].reset_index(drop=True), usuarios=more["usuarios"],
        money=more["money"],
        counts={"repasse": len(got["repasses"]), "cadeia": len(got["cadeias"]), "ciclo": len(got["ciclos"]),
                "dispositivo_compartilhado": len(got["dispositivos"]), "fan_in_jovem": len(fan)},
    )


def _window(row: Any) -> float | None:
    """A motif instance's time-scale class (``janela_h``; None when the frame has no such column)."""
    w = getattr(row, "janela_h", None)
    return None if w is None or w != w else float(w)


def _motif_rows(spark: SparkSession, mt: C.MotifTables, community: dict[str, str], build_id: str) -> DataFrame:
    rows: list[dict[str, Any]] = []
    for r in mt.repasses.itertuples():
        rows.append({"motivo": "repasse", "usuarios": [r.id_usuario, r.destino, *r.remetentes],
                     "transacoes": [r.id_transacao, *r.transacoes_in], "valor": float(r.valor),
                     "inicio": int(r.ts_in_primeiro), "fim": int(r.ts),
                     "detalhe": json.dumps({"valor_recebido": round(float(r.valor_in), 2), "n_in": int(r.n_in),
                                            "razao": round(float(r.razao), 4), "regra": r.regra,
                                            "janela_h": _window(r)}),
                     "id_comunidade": community.get(r.id_usuario)})
    for r in mt.cadeias.itertuples():
        rows.append({"motivo": "cadeia", "usuarios": [r.a, r.b, r.c], "transacoes": [r.id1, r.id2],
                     "valor": float(r.v2), "inicio": int(r.ts1), "fim": int(r.ts2),
                     "detalhe": json.dumps({"valor_1": float(r.v1), "atraso_min": round((r.ts2 - r.ts1) / 60, 1),
                                            "janela_h": _window(r)}),
                     "id_comunidade": community.get(r.b)})
    for r in mt.ciclos.itertuples():
        rows.append({"motivo": "ciclo", "usuarios": list(r.usuarios), "transacoes": list(r.transacoes), "valor": None,
                     "inicio": int(r.ts_inicio), "fim": int(r.ts_fim),
                     "detalhe": json.dumps({"comprimento": int(r.comprimento), "janela_h": _window(r)}),
                     "id_comunidade": community.get(r.usuarios[0])})
    for r in mt.dispositivos.itertuples():
        rows.append({"motivo": "dispositivo_compartilhado", "usuarios": [r.u1, r.u2], "transacoes": None, "valor": None,
                     "inicio": int(r.compartilhado_em), "fim": None,
                     "detalhe": json.dumps({"id_dispositivo": r.id_dispositivo, "n_usuarios": int(r.n_usuarios),
                                            "n_falhas": int(r.n_falhas)}),
                     "id_comunidade": community.get(r.u1) if community.get(r.u1) == community.get(r.u2) else None})
    for r in mt.fan_in.itertuples():
        rows.append({"motivo": "fan_in_jovem", "usuarios": [r.id_usuario], "transacoes": None, "valor": None,
                     "inicio": int(r.ts_inicio), "fim": int(r.ts_fim),
                     "detalhe": json.dumps({"max_remetentes": int(r.n_remetentes), "n_transferencias": int(r.n_janelas)}),
                     "id_comunidade": community.get(r.id_usuario)})
    schema = ("motivo string, usuarios array<string>, transacoes array<string>, valor double, inicio long, "
              "fim long, detalhe string, id_comunidade string")
    return (
        _pdf(spark, rows, schema)
        .withColumn("inicio", F.timestamp_seconds("inicio")).withColumn("fim", F.timestamp_seconds("fim"))
        .withColumn("build_id", F.lit(build_id))
    )


def _motif_counts(spark: SparkSession, mt: C.MotifTables) -> DataFrame:
    """Per user: ``n_repasses, valor_repassado, n_cadeias, n_ciclos, n_fan_in_jovem`` (as the forwarder /
    middle of a chain / member of a cycle / young receiver)."""
    acc: dict[str, dict[str, float]] = {}

    def add(u: str, k: str, v: float = 1.0) -> None:
        acc.setdefault(u, {}).setdefault(k, 0.0)
        acc[u][k] += v

    for r in mt.repasses.itertuples():
        add(r.id_usuario, "n_repasses")
        add(r.id_usuario, "valor_repassado", float(r.valor))
    for b in mt.cadeias["b"] if not mt.cadeias.empty else []:
        add(b, "n_cadeias")
    for us in mt.ciclos["usuarios"] if not mt.ciclos.empty else []:
        for u in set(us):
            add(u, "n_ciclos")
    for r in mt.fan_in.itertuples():
        add(r.id_usuario, "n_fan_in_jovem", float(r.n_janelas))
    rows = [{"id_usuario": u, "n_repasses": int(d.get("n_repasses", 0)), "valor_repassado": d.get("valor_repassado", 0.0),
             "n_cadeias": int(d.get("n_cadeias", 0)), "n_ciclos": int(d.get("n_ciclos", 0)),
             "n_fan_in_jovem": int(d.get("n_fan_in_jovem", 0))} for u, d in acc.items()]
    return _pdf(spark, rows, "id_usuario string, n_repasses long, valor_repassado double, n_cadeias long, "
                "n_ciclos long, n_fan_in_jovem long")


# ------------------------------------------------------------------------------------------ rebuild
def rebuild_every(spark: SparkSession, settings: Settings, every: float, *, max_runs: int | None = None,
                  force: bool = False, sleep=time.sleep) -> int:
    """Run :func:`build_graph` every ``every`` seconds (a build of unchanged silver is a no-op); returns the
    number of builds that wrote something. ``max_runs`` bounds the loop (None = forever)."""
    runs = built = 0
    while True:
        started = time.monotonic()
        report = build_graph(spark, settings, force=force and runs == 0)
        print(report, flush=True)
        built += 0 if report.skipped else 1
        runs += 1
        if max_runs is not None and runs >= max_runs:
            return built
        sleep(max(0.0, every - (time.monotonic() - started)))


def reproduce(spark: SparkSession, settings: Settings, build_id: str) -> BuildReport:
    """Rebuild from exactly the silver versions a past build used."""
    row = find_build(spark, settings, build_id)
    return build_graph(spark, settings, silver_versions=json.loads(row["silver_versions"]), force=True)


def summary(report: BuildReport) -> pd.DataFrame:  # pragma: no cover - convenience for notebooks
    return pd.DataFrame(report.candidates)

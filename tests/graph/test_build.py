"""The build job end to end on a planted toy ring: silver Delta tables in a scratch home -> gold; a no-op
rebuild of unchanged silver; then a second build after the ring grew, matched against the first (same id)."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from graph.build import build_graph, compute_graph
from pixring.settings import GraphSettings
from graph.schemas import GOLD_GRAPH
from lakehouse.paths import table_path
from pixring.settings import Settings

pytestmark = pytest.mark.spark


def _write_silver(spark, settings: Settings, world, only: tuple[str, ...] | None = None) -> None:
    frames = world.frames(spark)
    for name in ("usuarios", "chaves_pix", "dispositivos", "log_autenticacao", "transacoes_pix"):
        if only is None or name in only:
            getattr(frames, name).write.format("delta").mode("overwrite").save(table_path(settings, "silver", name))


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory, toy):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIXRING_HOME", str(tmp_path_factory.mktemp("graph-home")))
        settings = Settings()
    world = toy.World()
    _write_silver(spark, settings, world)
    first = build_graph(spark, settings)
    again = build_graph(spark, settings)

    def gold(name: str):
        return [r.asDict() for r in spark.read.format("delta").load(table_path(settings, "gold", name)).collect()]

    return {"settings": settings, "world": world, "first": first, "again": again, "gold": gold}


def test_first_build_counts_and_contract_columns(run, spark) -> None:
    r = run["first"]
    assert not r.skipped
    assert r.counts["vertices"] == {"usuario": 29, "chave": 29, "dispositivo": 31}
    assert r.counts["edges"]["POSSUI"] == 29 and r.counts["edges"]["USA"] == 34
    assert r.counts["edges"]["TRANSFERIU"] == r.counts["edges"]["PAGOU"]  # one key per user here
    for name, schema in GOLD_GRAPH.items():
        df = spark.read.format("delta").load(table_path(run["settings"], "gold", name))
        assert [f.name for f in df.schema.fields] == [f.name for f in schema.fields], name
    v = spark.read.format("delta").load(table_path(run["settings"], "gold", "graph_vertices"))
    assert v.where(F.col("vid") != F.xxhash64("tipo", "id")).count() == 0


def test_components_and_communities_find_the_planted_ring(run, toy) -> None:
    rings = run["gold"]("ring_candidates")
    assert len(rings) == 1, [(r["membros"], r["risco"]) for r in rings]
    (ring,) = rings
    assert set(toy.RING_CORE) | set(toy.VICTIMS) == set(ring["membros"])
    assert ring["nucleo"] == sorted(toy.RING_CORE)
    ev = json.loads(ring["evidencias"])
    assert {"repasse", "dispositivo_compartilhado"} <= set(ev["motivos"])
    assert sorted(ev["motivos"]["repasse"]["repassadores"]) == toy.MULES
    # the rent pass-through (U02 -> U01 -> U03) is a community, not a ring
    rent = next(c for c in run["gold"]("communities") if "U01" in c["membros"])
    assert rent["risco"] < 0.5 and set(rent["membros"]) == {"U01", "U02", "U03"}
    assert run["first"].status_counts == {"nova": 2}


def test_unchanged_silver_is_a_no_op(run) -> None:
    assert run["again"].skipped and run["again"].build_id == run["first"].build_id


def test_ring_id_is_stable_across_builds(run, spark, toy) -> None:
    """Build 2 (the ring grew by a victim) matched against build 1's gold communities: same ring id."""
    (old,) = run["gold"]("ring_candidates")
    previous = {c["id_comunidade"]: frozenset(c["membros"]) for c in run["gold"]("communities")}
    world = run["world"]
    world.more_ring_activity()
    res = compute_graph(spark, world.frames(spark), previous, GraphSettings(), "gb-test-2")
    try:
        assert res.ring_of("U29") == old["id_anel"]
        (ring,) = res.ring_rows
        assert ring["status"] == "estavel" and set(ring["membros"]) == set(old["membros"]) | {"U29"}
        assert {"id_antigo": old["id_anel"], "id_novo": old["id_anel"], "relacao": "mesmo", "overlap": 1.0}.items() \
            <= next(r for r in res.lineage if r["id_antigo"] == old["id_anel"]).items()
        assert set(res.status.values()) == {"estavel"}
        features = {r["id_usuario"]: r for r in res.gold["graph_features"].where(
            F.col("id_usuario").isin(toy.MULES[0], toy.COLLECTOR, "U10")).collect()}
        assert features[toy.MULES[0]]["n_repasses"] == 2 and features[toy.MULES[0]]["em_anel"] == 1
        assert features[toy.COLLECTOR]["n_disp_compartilhados"] == 1 and features["U10"]["em_anel"] == 0
    finally:
        res.release()

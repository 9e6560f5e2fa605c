"""Training end to end against the real MLflow server (unique model name), the champion rule, the served pyfunc,
and ``gnn embed`` writing the gold tables (Delta) and pushing scores onto Neo4j nodes."""

from __future__ import annotations

import json
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest

from gnn import tracking
from gnn.embed import run_embed
from gnn.schemas import GOLD_GNN
from gnn.serving import TX_FEATURES, model_uri
from gnn.train import TrainConfig, run_training
from lakehouse.paths import table_path
from tests.gnn.world import make_world

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def registered(gnn_settings, mlflow_uri):
    unique = uuid.uuid4().hex[:10]
    world = make_world(f"R{unique}")
    name = f"pixring-test-{unique}"
    good = run_training(None, gnn_settings, TrainConfig(epochs=40, hidden=32, threads=1), model_name=name,
                        frames=world.frames)
    worse = run_training(None, gnn_settings, TrainConfig(epochs=1, hidden=4, lr=1e-4, threads=1, seed=3),
                         model_name=name, frames=world.frames)
    yield {"name": name, "good": good, "worse": worse, "world": world}
    tracking.delete_model(gnn_settings, name)


def test_training_registers_and_champion_rule(registered, gnn_settings) -> None:
    good, worse, name = registered["good"], registered["worse"], registered["name"]
    assert good.version == "1" and good.champion
    assert worse.version == "2" and not worse.champion
    assert worse.metrics["gnn_pr_auc"] < good.metrics["gnn_pr_auc"]
    assert tracking.alias_version(gnn_settings, name, "champion") == "1"
    assert tracking.alias_version(gnn_settings, name, "challenger") == "2"
    run = mlflow.get_run(good.run_id)
    for k in ("gnn_pr_auc", "gnn_roc_auc", "gnn_recall_at_p90", "gnn_ring_recall", "gbm_pr_auc", "rules_pr_auc",
              "ring_candidates_pr_auc", "tx_pr_auc"):
        assert k in run.data.metrics
    hist = mlflow.MlflowClient().get_metric_history(good.run_id, "epoch_loss")
    assert len(hist) >= 5 and hist[-1].value < hist[0].value
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(good.run_id)}
    assert {"model_card.md", "pr_curve.png"} <= arts


def test_pyfunc_predicts_tx_features(registered, gnn_settings) -> None:
    model = mlflow.pyfunc.load_model(model_uri(registered["name"], "champion"))
    df = pd.DataFrame([{**{c: 0.0 for c in TX_FEATURES}, "valor": 500.0, "score_destino": s} for s in (0.0, 0.99)])
    p = np.asarray(model.predict(df[list(TX_FEATURES)]))
    assert p.shape == (2,) and ((p >= 0) & (p <= 1)).all()
    assert model.metadata.signature is not None
    assert [c.name for c in model.metadata.signature.inputs.inputs] == list(TX_FEATURES)
    # the training distribution travels with the model (the stream's PSI reference)
    ref = model.unwrap_python_model().reference
    assert set(ref["features"]) == set(TX_FEATURES) and ref["rows"] > 0
    assert len(ref["score"]["expected"]) == len(ref["score"]["edges"]) + 1 >= 2


def test_the_api_rows_path_gives_what_the_pyfunc_gives(registered, gnn_settings) -> None:
    """``POST /v1/score`` calls ``TxModel.predict_rows`` (no DataFrame, concurrent requests in one call);
    it must agree with the pyfunc, row by row and batched."""
    from api.scoring import ModelHolder

    holder = ModelHolder(gnn_settings.mlflow.uri, registered["name"])
    assert holder.refresh() and holder.predict_rows is not None
    pyfunc = mlflow.pyfunc.load_model(model_uri(registered["name"], "champion"))
    rng = np.random.default_rng(7)
    rows = [{c: float(rng.uniform(0, 2)) for c in TX_FEATURES} for _ in range(20)]
    rows += [{**rows[0], "score_destino": 0.99, "valor": 9000.0}, {**rows[1], "idade_chave_destino_h": float("nan")}]
    want = np.asarray(pyfunc.predict(pd.DataFrame(rows)[list(TX_FEATURES)]))
    got = [holder.predict(r) for r in rows]
    assert [v for _, v in got] == ["1"] * len(rows)
    assert np.allclose([p for p, _ in got], want, rtol=0, atol=1e-12)
    assert len({round(p, 9) for p, _ in got}) > 1  # the rows do not all score alike
    batched, version = holder.predict_many(rows)
    assert version == "1" and np.allclose(batched, want, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="expected"):
        holder.predict_rows([[0.0]])


@pytest.mark.spark
@pytest.mark.neo4j
def test_embed_writes_gold_and_neo4j(registered, gnn_settings, spark, neo4j_driver) -> None:
    world = registered["world"]
    users = list(world.frames.graph_vertices.query("tipo == 'usuario'")["id"])
    db = gnn_settings.neo4j.database
    with neo4j_driver.session(database=db) as s:
        s.run("UNWIND $ids AS id MERGE (:Usuario {id: id})", ids=users).consume()
    try:
        report = run_embed(spark, gnn_settings, model_name=registered["name"], frames=world.frames)
        assert report.version == "1" and report.neo4j_updated == len(users)
        for name, schema in GOLD_GNN.items():
            df = spark.read.format("delta").load(table_path(gnn_settings, "gold", name))
            assert [f.name for f in df.schema.fields] == [f.name for f in schema.fields]
            assert [f.dataType.simpleString() for f in df.schema.fields] == [f.dataType.simpleString() for f in schema.fields]
        scores = spark.read.format("delta").load(table_path(gnn_settings, "gold", "node_scores")).toPandas()
        assert len(scores) == len(users) and set(scores["modelo_versao"]) == {"1"}
        emb = spark.read.format("delta").load(table_path(gnn_settings, "gold", "node_embeddings")).limit(1).collect()[0]
        assert len(emb["embedding"]) == 32
        expl = spark.read.format("delta").load(table_path(gnn_settings, "gold", "node_explanations")).toPandas()
        assert len(expl) == int(scores["sinalizado"].sum()) > 0
        items = json.loads(expl.iloc[0]["explicacao"])
        assert items and {"id", "tipo", "relacao", "peso"} <= set(items[0])
        rings = spark.read.format("delta").load(table_path(gnn_settings, "gold", "ring_scores")).toPandas()
        assert len(rings) == world.frames.graph_vertices["id_comunidade"].nunique()
        top = scores.sort_values("score", ascending=False).iloc[0]
        with neo4j_driver.session(database=db) as s:
            got = s.run("MATCH (u:Usuario {id: $id}) RETURN u.score_gnn AS s, u.modelo_versao AS v",
                        id=top["id"]).single()
        assert got["v"] == "1" and got["s"] == pytest.approx(float(top["score"]))
    finally:
        with neo4j_driver.session(database=db) as s:
            s.run("UNWIND $ids AS id MATCH (u:Usuario {id: id}) DETACH DELETE u", ids=users).consume()

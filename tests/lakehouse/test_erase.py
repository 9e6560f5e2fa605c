"""Erasure that leaves nothing, on the real parts: Spark + Delta, Kafka, Neo4j over Bolt, the MLflow server and
the API served by uvicorn.

Two small worlds, each erased and then rebuilt the way the pipeline would rebuild it:

* the mini lakehouse (``minilake``: files and Kafka -> bronze -> silver -> gold -> graph): Eva is erased by
  CPF, then refine runs again on the latest bronze *and* ``--as-of-version`` on the bronze written before the
  erasure (still readable: retention 168 h), and the graph is rebuilt; every Delta table's current version is
  scanned for her clear values, tokens and ids. (Neo4j and MLflow are left out here: the mini lakehouse's ids
  are datagen-shaped and the shared services may hold the demo's.)
* the GNN toy world (``tests/gnn/world.py``, unique ids) as gold/silver Delta tables: loaded into Neo4j, a
  model trained and registered in MLflow, embedded; one mule is erased, then Neo4j is loaded, the model
  trained and the graph embedded again; Delta, Neo4j, every MLflow artifact of the experiment's runs and
  models, and the API are scanned.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

import minilake as ml

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.neo4j, pytest.mark.mlflow, pytest.mark.slow]


def _traces(spark, lake_root: Path, needles: set[str]) -> list[tuple[str, str]]:
    """(table, value) for every string or array<string> value of every Delta table's current version that
    holds one of ``needles``."""
    from pyspark.sql import functions as F

    found: list[tuple[str, str]] = []
    for table_dir in sorted(p.parent for p in lake_root.glob("*/*/_delta_log")):
        df = spark.read.format("delta").load(str(table_dir))
        cols = [F.col(f.name) if f.dataType.simpleString() == "string" else F.concat_ws("\x1f", f.name)
                for f in df.schema.fields if f.dataType.simpleString() in ("string", "array<string>")]
        if not cols:
            continue
        for row in df.select(*cols).collect():
            for value in row:
                if value and any(n in value for n in needles):
                    found.append((f"{table_dir.parent.name}/{table_dir.name}", value[:120]))
    return found


# ------------------------------------------------------------------------------- the mini lakehouse
@pytest.fixture(scope="module")
def lake(spark, make_settings, kafka_bootstrap, tmp_path_factory):
    from confluent_kafka import Producer

    from graph.build import build_graph
    from lakehouse import delta
    from lakehouse.ingest import ingest_files, ingest_stream
    from lakehouse.paths import table_path
    from lakehouse.producer import produce
    from lakehouse.refine import refine
    from lakehouse.schemas import INGEST_LOG_TABLE

    root = tmp_path_factory.mktemp("erase-lake")
    topic = f"test.erase.{uuid.uuid4().hex[:10]}"
    settings = make_settings(root / "home", PIXRING_KAFKA_TOPIC_TRANSACTIONS=topic,
                             PIXRING_LAKEHOUSE_VACUUM_RETENTION_HOURS="168")
    ingest_files(spark, settings, ml.write_csv(root / "batch1", ml.batch1()))
    stream_src = root / "stream"
    ml.write_csv(stream_src, ml.Dataset(rows={"transacoes_pix": [list(t) for t in ml.STREAM_VALID]}))
    produce(settings, stream_src, rate=500.0, limit=None)
    raw = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    for value, _ in ml.STREAM_BROKEN:
        raw.produce(topic, key=b"x", value=value.encode())
    assert raw.flush(10) == 0
    ingest_stream(spark, settings, available_now=True)
    refine(spark, settings)
    build_graph(spark, settings, force=True)
    before = delta.latest_version(spark, table_path(settings, "bronze", INGEST_LOG_TABLE))
    return dict(settings=settings, before=before)


def _eva(settings) -> tuple[str, set[str]]:
    from lakehouse.transforms.tokenise import token

    eva = ml.USERS[ml.ERASED]
    secret = settings.security.pii_secret
    clear = {eva["doc"], eva["email"], eva["tel"], "eva.melo@example.com", "Eva Melo", ml.ERASED,
             "TX0000000005", "TX0000000006"}
    tokens = {token(v, secret) for v in (eva["doc"], "eva.melo@example.com", eva["tel"])}
    return f"{eva['doc'][:3]}.{eva['doc'][3:6]}.{eva['doc'][6:9]}-{eva['doc'][9:]}", clear | tokens


def test_erase_then_refine_and_graph_rebuild_leave_no_trace(spark, lake) -> None:
    from graph.build import build_graph
    from lakehouse import erase_stores
    from lakehouse.erase import erase, lakehouse_tables, verify
    from lakehouse.paths import table_path
    from lakehouse.refine import refine
    from pixring import ledger

    s = lake["settings"]
    doc, needles = _eva(s)
    assert _traces(spark, s.paths.lakehouse, needles), "the fixture must hold Eva before the erasure"
    users = table_path(s, "silver", "usuarios")
    n_users = spark.read.format("delta").load(users).count()
    first = verify(spark, s, doc, other_stores=False)
    assert first.present and "no erasure recorded" in first.ledger, str(first)

    report = erase(spark, s, cpf_cnpj=doc, by="dpo@test", reason="test request", other_stores=False)
    text = str(report)
    assert report.accounts == 1 and report.transactions == 2 and not report.errors, text
    assert report.deleted["gold/graph_vertices"] >= 1 and report.deleted["gold/graph_edges"] >= 1, text
    assert ml.USERS[ml.ERASED]["doc"] not in text
    assert _traces(spark, s.paths.lakehouse, needles) == []

    # the ledger: ids and tokens, when, by whom, why; never the clear document, e-mail or phone
    [row] = ledger.entries(s)
    assert ml.ERASED in row["ids"] and row["erased_by"] == "dpo@test" and row["reason"] == "test request"
    assert {"TX0000000005", "TX0000000006"} <= set(row["transactions"])
    eva = ml.USERS[ml.ERASED]
    for f in ledger.ledger_path(s).rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert eva["doc"].encode() not in data and b"eva.melo" not in data and eva["tel"].encode() not in data, f

    # rebuild: refine from the latest bronze, from bronze as it was before the erasure, and the graph
    refine(spark, s)
    assert _traces(spark, s.paths.lakehouse, needles) == []
    refine(spark, s, as_of_version=lake["before"])
    assert spark.read.format("delta").load(users).count() == n_users - 1  # the others are back, Eva is not
    assert _traces(spark, s.paths.lakehouse, needles) == []
    build_graph(spark, s, force=True)
    assert _traces(spark, s.paths.lakehouse, needles) == []

    after = verify(spark, s, doc, other_stores=False)
    assert not after.present, str(after)
    assert {name for name, _, _ in after.stores} == {f"delta {layer}/{t}" for layer, t in lakehouse_tables(s)}
    assert "erasure" in after.ledger and "dpo@test" in after.ledger
    # Kafka: the test topic has the default delete policy: the report gives the retention deadline
    kafka = erase_stores.kafka_erase(s, {ml.ERASED}, ledger.Entry(document_token="x"))
    assert "delete policy" in kafka[f"kafka {s.kafka.topic_transactions}"], kafka


# ---------------------------------------------------------------------------------- the GNN world
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _to_delta(spark, pdf, path: str) -> None:
    pdf = pdf.copy()
    for c in pdf.columns:
        if pdf[c].isna().all():
            pdf[c] = pdf[c].astype("float64")
    spark.createDataFrame(pdf).write.format("delta").mode("overwrite").save(path)


@pytest.fixture(scope="module")
def gworld(spark, make_settings, tmp_path_factory, neo4j_driver, mlflow_uri):
    from datetime import datetime

    import pandas as pd

    from lakehouse.paths import table_path
    from tests.gnn.world import make_world

    unique = uuid.uuid4().hex[:8]
    prefix = f"ER{unique}"
    port = _free_port()
    s = make_settings(tmp_path_factory.mktemp("erase-gnn") / "home", PIXRING_MLFLOW_EXPERIMENT=f"pixring-erase-{unique}",
                      PIXRING_MLFLOW_MODEL_NAME=f"pixring-erase-{unique}", PIXRING_API_PORT=str(port),
                      PIXRING_API_GRAPH_PROJECTION="false",  # subgraphs from Neo4j: the shared one may be large
                      PIXRING_LAKEHOUSE_VACUUM_RETENTION_HOURS="0")
    w = make_world(prefix)
    f = w.frames
    for name in ("graph_vertices", "graph_edges", "graph_features", "features_usuario", "features_chave",
                 "ring_candidates"):
        _to_delta(spark, getattr(f, name), table_path(s, "gold", name))
    for name in ("fraudes", "transacoes_pix"):
        _to_delta(spark, getattr(f, name), table_path(s, "silver", name))
    _to_delta(spark, pd.DataFrame([{"build_id": f"b{unique}", "built_at": datetime.now()}]),
              table_path(s, "gold", "graph_builds"))
    mule = w.rings[0][0]
    tx = f.transacoes_pix
    txs = set(tx.loc[(tx.id_usuario_origem == mule) | (tx.id_usuario_destino == mule), "id_transacao"])
    yield dict(settings=s, world=w, mule=mule, collector=w.rings[0][2], txs=txs, prefix=prefix, port=port)
    from gnn import tracking

    neo4j_driver.execute_query("MATCH (n) WHERE n.id STARTS WITH $p DETACH DELETE n", p=prefix)
    from mlflow.tracking import MlflowClient

    tracking.delete_model(s, s.mlflow.model_name)
    client = MlflowClient(s.mlflow.uri)
    exp = client.get_experiment_by_name(s.mlflow.experiment)
    if exp is not None:
        client.delete_experiment(exp.experiment_id)


def _build(spark, s) -> None:
    from gnn.embed import run_embed
    from gnn.train import TrainConfig, run_training
    from graph.neo4j_load import load_neo4j

    load_neo4j(spark, s, force=True)
    run_training(spark, s, TrainConfig(epochs=8, hidden=16, threads=1))
    run_embed(spark, s, neo4j=True, max_explain=50)


def _mlflow_mentions(s, needles: set[str]) -> list[str]:
    """Every artifact of the experiment's runs and logged models (read back through the server) that holds a
    needle (parquet read as rows, any other file as bytes)."""
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(s.mlflow.uri)
    client = MlflowClient(s.mlflow.uri)
    exp = client.get_experiment_by_name(s.mlflow.experiment)
    assert exp is not None
    roots = [r.info.artifact_uri for r in client.search_runs([exp.experiment_id])]
    roots += [m.artifact_location for m in client.search_logged_models(experiment_ids=[exp.experiment_id])]
    assert roots
    hits = []
    for root in roots:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=root))
        for p in local.rglob("*"):
            if not p.is_file():
                continue
            if p.suffix == ".parquet":
                text = pd.read_parquet(p).astype(str).to_csv()
            else:
                text = p.read_bytes().decode("latin-1")
            if any(n in text for n in needles):
                hits.append(f"{root}/{p.relative_to(local)}")
    return hits


def test_erase_then_neo4j_gnn_and_api_rebuild_leave_no_trace(spark, gworld, neo4j_driver) -> None:
    import httpx
    import uvicorn

    from api.app import create_app
    from lakehouse.erase import Identity, erase_identity, verify
    from tests.gnn.world import key_of

    s, mule, txs = gworld["settings"], gworld["mule"], gworld["txs"]
    needles = {mule, key_of(mule), *txs}
    _build(spark, s)
    # before: the mule is in gold (GNN tables too), Neo4j and the run's user_scores.parquet
    assert _traces(spark, s.paths.lakehouse, {mule})
    assert neo4j_driver.execute_query("MATCH (n {id: $id}) RETURN count(n) AS n", id=mule).records[0]["n"] == 1
    assert _mlflow_mentions(s, {mule})
    assert verify(spark, s, mule).present

    ident = Identity(document="00000000191", ids={mule}, tokens={key_of(mule)}, transactions=set(txs))
    report = erase_identity(spark, s, ident, by="dpo@test")
    assert not report.errors, str(report)
    assert report.deleted["gold/node_scores"] >= 1 and report.deleted["gold/node_embeddings"] >= 1, str(report)
    assert "node(s) deleted" in report.stores["neo4j"] and "rewritten" in report.stores["mlflow"], str(report)
    assert _mlflow_mentions(s, needles) == []  # the existing runs' artifacts were rewritten

    _build(spark, s)  # Neo4j load, a new training run and registered version, embed: all consult the ledger
    assert _traces(spark, s.paths.lakehouse, needles) == []
    n = neo4j_driver.execute_query(
        "MATCH (n) WHERE n.id IN $ids OR any(m IN coalesce(n.membros, []) WHERE m IN $ids) RETURN count(n) AS n",
        ids=sorted(needles)).records[0]["n"]
    assert n == 0
    assert _mlflow_mentions(s, needles) == []

    app = create_app(s, background=False)  # the API over this home's lakehouse, Neo4j and champion
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=gworld["port"], access_log=False,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "API did not start"
            time.sleep(0.05)
        auth = {"Authorization": f"Bearer {s.api.token_investigator.get_secret_value()}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{gworld['port']}", headers=auth, timeout=30) as c:
            assert c.get(f"/v1/graph/usuario/{mule}").status_code == 410
            assert c.get(f"/v1/users/{mule}").status_code == 410
            assert c.get(f"/v1/transactions/{sorted(txs)[0]}").status_code == 410
            assert c.get(f"/v1/graph/chave/{key_of(mule)}").status_code == 410
            near = c.get(f"/v1/graph/usuario/{gworld['collector']}", params={"hops": 2})
            assert near.status_code == 200 and near.json()["nodes"], near.text
            rings = c.get("/v1/rings", params={"limit": 100})
            for body in (near.text, rings.text):
                assert not any(x in body for x in needles)
        found = verify(spark, s, mule)
        assert not found.present, str(found)
        stores = {name: present for name, present, _ in found.stores}
        assert stores["neo4j"] is False and stores["mlflow artifacts"] is False and stores["api"] is False, str(found)
    finally:
        server.should_exit = True
        thread.join(timeout=15)

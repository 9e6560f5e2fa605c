"""The whole pipeline on a bank-shaped extract (issue 23): ingest through the bank's mapping -> refine -> graph
build -> Neo4j load -> GNN train (few epochs) + embed -> the stream scores bank-shaped transactions (real
Pix end-to-end ids, 32 characters) from the real Kafka broker -> the API answers for an account with the
bank's own opaque customer id (``123456789012-3``) and for a scored E2E id.

The extract is datagen's tiny world (scale 0.05) turned into the bank's shape by ``bankshape.convert``
(as ``tests/lakehouse/test_bank_extract.py`` builds it). Isolation and the services the run starts (a
private Neo4j, the stream, the API; unique topics and model name) are ``test_demo``'s: its
``demo_settings`` fixture and :class:`pixring.demo.Demo`'s ``services`` / ``serve`` stages.
"""

from __future__ import annotations

import csv
import json
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import consume, wait_for
from tests.pixring.test_demo import demo_settings  # noqa: F401 - the fixture, reused

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lakehouse"))
import bankshape as bank  # tests/lakehouse is not a package

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.neo4j, pytest.mark.mlflow, pytest.mark.slow]

SCALE, SEED = 0.05, 42
#: bank-shaped transactions sent through Kafka
N_STREAM = 6


def _get(url: str, token: str) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _stream_rows(raw: Path, out: Path) -> list[dict[str, str]]:
    """``N_STREAM`` new transactions in the contract's form with bank ids: the keys of datagen's last
    transactions, minutes after them, each with a fresh E2E id (never seen in the batch data)."""
    with (raw / "transacoes_pix.csv").open(newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["timestamp"])[-N_STREAM:]
    last = datetime.fromisoformat(rows[-1]["timestamp"])
    new = []
    for i, r in enumerate(rows):
        ts = (last + timedelta(minutes=i + 1)).strftime("%Y-%m-%dT%H:%M:%S")
        new.append({**r, "id_transacao": bank.e2e_id(f"stream-{i}", ts), "timestamp": ts, "status": "concluida"})
    out.mkdir(parents=True, exist_ok=True)
    with (out / "transacoes_pix.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(new)
    return new


@pytest.fixture(scope="module")
def bank_run(demo_settings, spark, tmp_path_factory) -> dict:  # noqa: F811 - the imported fixture
    from api.security import Role, mint_token
    from gnn.embed import run_embed
    from gnn.train import TrainConfig, run_training
    from graph.build import build_graph
    from graph.neo4j_load import load_neo4j
    from lakehouse.ingest import ingest_files
    from lakehouse.mapping import load_mapping
    from lakehouse.producer import produce
    from lakehouse.refine import refine
    from pixring.demo import Demo

    settings = demo_settings
    root = tmp_path_factory.mktemp("bank-pipeline")
    from datagen.generator import generate

    raw = root / "raw"
    generate(out=raw, scale=SCALE, seed=SEED, fmt="csv", difficulty="normal", overwrite=True)
    extract = root / "banco-x"
    mapping_file = bank.convert(raw, extract)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIXRING_API_REFRESH_SECONDS", "2")  # the API subprocess reads it at start
        demo = Demo(settings, scale=SCALE, seed=SEED, spark=spark)
        demo.stage("services up", demo.services)
        ingested = ingest_files(spark, settings, extract, load_mapping(mapping_file))
        refined = refine(spark, settings)
        built = build_graph(spark, settings)
        loaded = load_neo4j(spark, settings)
        trained = run_training(spark, settings, TrainConfig(epochs=5, log_every=1))
        embedded = run_embed(spark, settings)
        demo.stage("start stream + api", demo.serve)
        sent = _stream_rows(raw, root / "stream")
        produced = produce(settings, root / "stream", rate=50.0, limit=None)
    token = mint_token(settings.api, "bank-pipeline-test", Role.INVESTIGATOR, 1.0)
    return dict(settings=settings, raw=raw, extract=extract, ingested=ingested, refined=refined, built=built,
                loaded=loaded, trained=trained, embedded=embedded, sent=sent, produced=produced, token=token)


def test_the_bank_extract_runs_through_graph_gnn_stream_and_api(bank_run, spark) -> None:
    from pyspark.sql import functions as F

    from lakehouse.paths import table_path
    from pixring.contract import is_e2e_id

    s, run = bank_run["settings"], bank_run
    assert run["refined"].ok
    tx = spark.read.format("delta").load(table_path(s, "silver", "transacoes_pix"))
    assert tx.filter(~F.col("id_transacao").startswith("E")).count() == 0 and tx.count() > 0
    assert sum(run["loaded"].rels_written.values()) > 0

    # the GNN scored the bank's customers under their own ids
    scores = spark.read.format("delta").load(table_path(s, "gold", "node_scores"))
    users = {r.id for r in scores.filter(F.col("tipo") == "usuario").select("id").collect()}
    raw_users = [r["id_usuario"] for r in csv.DictReader((run["raw"] / "usuarios.csv").open(encoding="utf-8"))]
    bank_users = {bank.customer_id(u) for u in raw_users}
    assert users and users <= bank_users

    # the stream scored every bank-shaped transaction (E2E ids) from Kafka
    assert run["produced"].delivered == N_STREAM
    ids = {r["id_transacao"] for r in run["sent"]}
    assert all(is_e2e_id(i) and len(i) == 32 for i in ids)
    scored = consume(s.kafka.bootstrap, s.kafka.topic_scored, N_STREAM, timeout=240)
    got = {json.loads(m.value())["id_transacao"] for m in scored}
    assert ids <= got, (ids - got)

    # the API: the subgraph of an account by its opaque bank id, with its GNN score; a scored E2E id
    token, api = run["token"], s.api.url
    account = sorted(users)[0]
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        _get(f"{api}/v1/graph/usuario/{account}?hops=1", token)), timeout=120, what="the account's subgraph")
    assert account in body["center"]
    centre = [n for n in body["nodes"] if n["id"] == account]
    assert centre and "score_gnn" in centre[0]["props"]
    e2e = sorted(ids)[0]
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        _get(f"{api}/v1/transactions/{e2e}", token)), timeout=180, what="the scored E2E transaction")
    assert body["id_transacao"] == e2e and 0 <= body["score"] <= 1

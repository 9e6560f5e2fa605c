"""The real local stack: Kafka, Neo4j and MLflow round trips (started by `pixring up`)."""

from __future__ import annotations

import time

import pytest


@pytest.mark.kafka
def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, unique: str) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"test.roundtrip.{unique}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(10)

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"})
    sent = {f"k{i}": f"v{i}" for i in range(20)}
    for k, v in sent.items():
        producer.produce(topic, key=k, value=v)
    assert producer.flush(10) == 0

    consumer = Consumer({
        "bootstrap.servers": kafka_bootstrap, "group.id": f"g-{unique}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    got: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(got) < len(sent) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        got[msg.key().decode()] = msg.value().decode()
    consumer.close()
    assert got == sent


@pytest.mark.neo4j
def test_neo4j_cypher_round_trip(neo4j_driver, unique: str) -> None:
    records, _, _ = neo4j_driver.execute_query(
        "CREATE (n:SmokeTest {id: $id, valor: $v}) RETURN n.id AS id, n.valor AS valor", id=unique, v=12.5
    )
    assert records[0]["id"] == unique and records[0]["valor"] == 12.5
    records, _, _ = neo4j_driver.execute_query("MATCH (n:SmokeTest {id: $id}) RETURN count(n) AS c", id=unique)
    assert records[0]["c"] == 1
    neo4j_driver.execute_query("MATCH (n:SmokeTest {id: $id}) DELETE n", id=unique)


@pytest.mark.neo4j
def test_neo4j_refuses_a_wrong_password(settings, neo4j_driver) -> None:
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    n = settings.neo4j
    with GraphDatabase.driver(n.bolt_uri, auth=(n.user, "definitely-not-the-password")) as bad:
        with pytest.raises(AuthError):
            bad.verify_connectivity()


@pytest.mark.mlflow
def test_mlflow_run_registry_alias_and_load(mlflow_uri: str, unique: str) -> None:
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input * 2

    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment(f"test-{unique}")
    name = f"test-model-{unique}"
    x = np.array([[1.0], [2.0]])
    with mlflow.start_run() as run:
        mlflow.log_param("kind", "smoke")
        mlflow.log_metric("score", 0.5)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Doubler(), signature=infer_signature(x, x * 2),
            registered_model_name=name,
        )
    client = MlflowClient(mlflow_uri)
    assert client.get_run(run.info.run_id).data.metrics["score"] == 0.5
    version = str(info.registered_model_version)
    assert version == "1"
    client.set_registered_model_alias(name, "champion", version)
    assert client.get_model_version_by_alias(name, "champion").version == version
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(loaded.predict(x), x * 2)

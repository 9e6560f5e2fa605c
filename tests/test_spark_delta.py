"""Spark with Delta Lake and the Kafka source, as wired by get_spark()."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.spark


def test_delta_write_update_and_time_travel(spark, tmp_path) -> None:
    from delta.tables import DeltaTable

    path = str(tmp_path / "t")
    spark.createDataFrame([(1, "a"), (2, "b")], "id INT, v STRING").write.format("delta").save(path)
    DeltaTable.forPath(spark, path).update("id = 1", {"v": "'changed'"})

    current = {r.id: r.v for r in spark.read.format("delta").load(path).collect()}
    v0 = {r.id: r.v for r in spark.read.format("delta").option("versionAsOf", 0).load(path).collect()}
    assert current == {1: "changed", 2: "b"}
    assert v0 == {1: "a", 2: "b"}
    assert DeltaTable.forPath(spark, path).history().count() == 2


@pytest.mark.kafka
def test_kafka_readstream_available_now_into_delta(spark, kafka_bootstrap, tmp_path, unique) -> None:
    from confluent_kafka import Producer
    from pyspark.sql import functions as F

    topic = f"test.stream.{unique}"
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(10):
        producer.produce(topic, key=str(i), value=json.dumps({"i": i}))
    assert producer.flush(10) == 0

    out, chk = str(tmp_path / "bronze"), str(tmp_path / "chk")
    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .select(F.col("key").cast("string"), F.get_json_object(F.col("value").cast("string"), "$.i").cast("int").alias("i"))
    )
    q = stream.writeStream.format("delta").option("checkpointLocation", chk).trigger(availableNow=True).start(out)
    q.awaitTermination(120)
    assert q.exception() is None
    rows = spark.read.format("delta").load(out).collect()
    assert sorted(r.i for r in rows) == list(range(10))

"""pixring.kafka on the real local broker: topic creation, paced idempotent sending, consuming back."""

from __future__ import annotations

import time
import uuid

import pytest

from pixring import kafka
from pixring.errors import PixringError
from pixring.settings import KafkaSettings


def test_client_config_carries_security_only_when_set() -> None:
    plain = KafkaSettings(bootstrap_servers="b1:9092,b2:9092")
    # log_level 3: librdkafka's own stderr lines are errors only (the test runs without -v)
    assert kafka.client_config(plain) == {"bootstrap.servers": "b1:9092,b2:9092", "log_level": 3}
    secure = KafkaSettings(bootstrap_servers="b:9093", security_protocol="SASL_SSL", ssl_ca_location="/ca.pem",
                           sasl_mechanism="SCRAM-SHA-512", sasl_username="pix", sasl_password="s3cret-pass")
    conf = kafka.client_config(secure, **{"linger.ms": 7})
    assert conf == {"bootstrap.servers": "b:9093", "log_level": 3, "security.protocol": "SASL_SSL", "ssl.ca.location": "/ca.pem",
                    "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "pix", "sasl.password": "s3cret-pass",
                    "linger.ms": 7}


def test_pacer_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(PixringError, match="rate must be > 0"):
        kafka.Pacer(0)


def test_unreachable_broker_is_a_clear_error() -> None:
    k = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    with pytest.raises(PixringError, match=r"Kafka not reachable at 127\.0\.0\.1:1"):
        kafka.check_reachable(k, timeout=1)


@pytest.mark.kafka
def test_topic_paced_send_and_consume_on_the_broker(settings, kafka_bootstrap) -> None:
    k = settings.kafka
    topic = f"test.pixring.kafka.{uuid.uuid4().hex[:8]}"
    assert kafka.ensure_topic(k, topic, partitions=2) is True
    assert kafka.ensure_topic(k, topic) is False  # already there
    p = kafka.producer(k, **{"queue.buffering.max.messages": 10})  # a tiny queue: send() must wait for room
    delivered: list[bytes] = []
    pacer = kafka.Pacer(2000, p)
    for i in range(400):
        kafka.send(p, topic, f"v{i}".encode(), f"k{i % 7}".encode(),
                   on_delivery=lambda err, msg: delivered.append(msg.value()) if err is None else None)
        pacer.tick()
    assert p.flush(30) == 0
    assert pacer.elapsed() >= 400 / 2000 * 0.9  # paced, not sent at once
    assert sorted(delivered) == sorted(f"v{i}".encode() for i in range(400))
    c = kafka.consumer(k, f"g-{uuid.uuid4().hex[:8]}")
    c.subscribe([topic])
    got, deadline = [], time.monotonic() + 30
    while len(got) < 400 and time.monotonic() < deadline:
        got += [m.value() for m in c.consume(500, 0.5) if not m.error()]
    c.close()
    admin = kafka.admin(k)  # kept alive until the future resolves
    admin.delete_topics([topic])[topic].result(30)
    assert sorted(got) == sorted(delivered)


def test_spark_options_mirror_the_client_config() -> None:
    assert kafka.spark_options(KafkaSettings(bootstrap_servers="b:9092")) == {"kafka.bootstrap.servers": "b:9092"}
    secure = KafkaSettings(bootstrap_servers="b:9093", security_protocol="SASL_SSL", ssl_ca_location="/ca.pem",
                           sasl_mechanism="SCRAM-SHA-256", sasl_username="pix", sasl_password='p"w\\d')
    assert kafka.spark_options(secure) == {
        "kafka.bootstrap.servers": "b:9093", "kafka.security.protocol": "SASL_SSL",
        "kafka.ssl.truststore.type": "PEM", "kafka.ssl.truststore.location": "/ca.pem",
        "kafka.sasl.mechanism": "SCRAM-SHA-256",
        "kafka.sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                                  'username="pix" password="p\\"w\\\\d";',
    }

"""The TLS listener of the broker ``pixring up`` starts (``PIXRING_KAFKA_TLS``), on a private broker with free
ports (the shared one is never restarted): certificates from the local CA (owner-only files), a client with
``security_protocol=SSL`` produces and consumes on it, a client trusting another CA cannot connect, the plaintext
loopback listener stays, and Spark's Kafka source reads over TLS with the same settings."""

from __future__ import annotations

import stat
import time
import uuid

import pytest

from tests.helpers import free_port, running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    from infra.services import KafkaService
    from pixring.security import harden_files
    from pixring.settings import KafkaSettings, PathSettings, PrometheusSettings, Settings

    s = Settings()
    s.paths = PathSettings(home=tmp_path_factory.mktemp("kafkatls"))
    s.kafka = KafkaSettings(port=free_port(), controller_port=free_port(), ssl_port=free_port(), tls=True,
                            heap="256m")
    s.prometheus = PrometheusSettings(kafka_exporter_port=free_port())
    harden_files(s.paths.home)
    with running(KafkaService(s)) as svc:
        yield s, svc


def _client(s, **kw):
    from pixring.settings import KafkaSettings

    k = s.kafka
    return KafkaSettings(host=k.host, port=k.port, ssl_port=k.ssl_port, tls=True, **kw)


def _roundtrip(k, topic: str, n: int = 5, timeout_s: float = 60.0) -> list[bytes]:
    from pixring import kafka

    kafka.ensure_topic(k, topic, partitions=1)
    p = kafka.producer(k)
    for i in range(n):
        kafka.send(p, topic, f"v{i}".encode(), key=f"k{i}".encode())
    assert p.flush(30) == 0
    c = kafka.consumer(k, f"g-{uuid.uuid4().hex[:8]}", **{"enable.auto.commit": False})
    c.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            got.append(msg.value())
    c.close()
    return got


def test_a_tls_client_produces_and_consumes_and_a_wrong_ca_fails(tls_broker, tmp_path) -> None:
    from infra.tls import ensure_server_tls
    from pixring import kafka
    from pixring.errors import PixringError

    s, svc = tls_broker
    ca = s.paths.home / "kafka" / "tls" / "ca.pem"
    for f in (svc.home / "tls").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f  # the keys, the keystore and its password
    assert stat.S_IMODE(svc.config_file.stat().st_mode) == 0o600  # it holds the keystore password

    k = _client(s, security_protocol="SSL", ssl_ca_location=str(ca))
    assert k.bootstrap == f"127.0.0.1:{s.kafka.ssl_port}"
    assert kafka.client_config(k)["security.protocol"] == "SSL"
    assert _roundtrip(k, "tls.roundtrip") == [f"v{i}".encode() for i in range(5)]

    other = ensure_server_tls(tmp_path / "other", "someone-else")  # a CA that did not sign the broker's
    wrong = _client(s, security_protocol="SSL", ssl_ca_location=str(other.ca))
    with pytest.raises(PixringError, match="not reachable"):
        kafka.check_reachable(wrong, timeout=8)
    # plaintext spoken to the TLS port gets nothing either; the loopback plaintext listener still works
    plain_to_tls = _client(s, bootstrap_servers=f"127.0.0.1:{s.kafka.ssl_port}")
    with pytest.raises(PixringError):
        kafka.check_reachable(plain_to_tls, timeout=5)
    assert _roundtrip(_client(s), "plain.roundtrip", n=2) == [b"v0", b"v1"]


def test_the_local_settings_default_to_the_local_ca(monkeypatch, tmp_path) -> None:
    from pixring.settings import Settings

    monkeypatch.setenv("PIXRING_HOME", str(tmp_path))
    monkeypatch.setenv("PIXRING_KAFKA_TLS", "true")
    monkeypatch.setenv("PIXRING_KAFKA_SECURITY_PROTOCOL", "SSL")
    s = Settings()
    assert s.kafka.ssl_ca_location == str(tmp_path.resolve() / "kafka" / "tls" / "ca.pem")
    assert s.kafka.bootstrap == "127.0.0.1:9094"


@pytest.mark.spark
def test_spark_reads_the_tls_listener(tls_broker, spark) -> None:
    from pixring import kafka

    s, _ = tls_broker
    k = _client(s, security_protocol="SSL", ssl_ca_location=str(s.paths.home / "kafka" / "tls" / "ca.pem"))
    _roundtrip(k, "tls.spark", n=3)
    opts = kafka.spark_options(k)
    assert opts["kafka.ssl.truststore.type"] == "PEM"
    rows = (spark.read.format("kafka").options(**opts).option("subscribe", "tls.spark")
            .option("startingOffsets", "earliest").load().selectExpr("CAST(value AS STRING) AS v").collect())
    assert sorted(r.v for r in rows) == ["v0", "v1", "v2"]

"""Every Kafka client of pixring, from one configuration (:class:`pixring.settings.KafkaSettings`).

* :func:`client_config` – the bootstrap servers and the security settings (TLS, SASL) every client shares;
  :func:`spark_options` – the same for Spark's Kafka source (the Java client);
* :func:`producer` – idempotent, ``acks=all`` (no duplicates or reordering on retries), ``linger.ms=5``;
  a caller adds what its workload needs (compression, queue size, timeouts);
* :func:`consumer`, :func:`admin`;
* :func:`send` – ``produce`` that waits for room when librdkafka's local queue is full (``BufferError``);
* :class:`Pacer` – paced sending by schedule: message *i* is not sent before ``start + i / rate``;
* :func:`ensure_topic` – create a topic the broker does not have (a clear error when Kafka is unreachable).

The clients are ``confluent_kafka``'s, imported on first use (the package imports nothing heavy).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pixring.errors import PixringError

if TYPE_CHECKING:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    from pixring.settings import KafkaSettings

#: producer defaults (a caller's keyword arguments override them)
PRODUCER_DEFAULTS: dict[str, Any] = {"enable.idempotence": True, "acks": "all", "linger.ms": 5}


def client_config(k: KafkaSettings, **extra: Any) -> dict[str, Any]:
    """The configuration every client shares: bootstrap servers and security; ``extra`` added as given
    (Python names with ``_`` for ``.`` are not translated: pass ``**{"linger.ms": 5}``)."""
    # librdkafka writes its own log lines to stderr: errors only unless the command runs with -v
    quiet = not logging.getLogger().isEnabledFor(logging.DEBUG)
    conf: dict[str, Any] = {"bootstrap.servers": k.bootstrap, **({"log_level": 3} if quiet else {})}
    if k.security_protocol != "PLAINTEXT":
        conf["security.protocol"] = k.security_protocol
    if k.ssl_ca_location:
        conf["ssl.ca.location"] = k.ssl_ca_location
    if k.sasl_mechanism:
        conf["sasl.mechanism"] = k.sasl_mechanism
        conf["sasl.username"] = k.sasl_username or ""
        conf["sasl.password"] = k.sasl_password.get_secret_value() if k.sasl_password else ""
    conf.update(extra)
    return conf


_JAAS_MODULE = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


def _jaas_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def spark_options(k: KafkaSettings) -> dict[str, str]:
    """The same configuration for Spark's Kafka source and sink (the Java client, options prefixed ``kafka.``):
    the CA file as a PEM trust store, SASL through a JAAS line."""
    opts = {"kafka.bootstrap.servers": k.bootstrap}
    if k.security_protocol != "PLAINTEXT":
        opts["kafka.security.protocol"] = k.security_protocol
    if k.ssl_ca_location:
        opts["kafka.ssl.truststore.type"] = "PEM"
        opts["kafka.ssl.truststore.location"] = k.ssl_ca_location
    if k.sasl_mechanism:
        password = k.sasl_password.get_secret_value() if k.sasl_password else ""
        opts["kafka.sasl.mechanism"] = k.sasl_mechanism
        opts["kafka.sasl.jaas.config"] = (f'{_JAAS_MODULE[k.sasl_mechanism]} required '
                                          f'username="{_jaas_quote(k.sasl_username or "")}" password="{_jaas_quote(password)}";')
    return opts


def producer(k: KafkaSettings, **conf: Any) -> Producer:
    """An idempotent ``acks=all`` producer (:data:`PRODUCER_DEFAULTS`, then ``conf``)."""
    from confluent_kafka import Producer

    return Producer(client_config(k, **{**PRODUCER_DEFAULTS, **conf}))


def consumer(k: KafkaSettings, group_id: str, **conf: Any) -> Consumer:
    """A consumer of group ``group_id``, from the earliest offset unless ``conf`` says otherwise."""
    from confluent_kafka import Consumer

    return Consumer(client_config(k, **{"group.id": group_id, "auto.offset.reset": "earliest", **conf}))


def admin(k: KafkaSettings, **conf: Any) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient(client_config(k, **conf))


def send(p: Producer, topic: str, value: bytes | None, key: bytes | None = None, *, headers=None,
         on_delivery=None, wait_s: float = 0.05) -> None:
    """``p.produce``; while the local queue is full (``BufferError``), serve delivery reports for ``wait_s``
    and try again, so nothing is dropped."""
    while True:
        try:
            p.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
            return
        except BufferError:
            p.poll(wait_s)


class Pacer:
    """Send at ``rate`` messages per second by schedule: after the *i*-th message, :meth:`tick` sleeps until
    ``start + i / rate`` (checking the clock every ``check_every`` messages, about every 5 ms), so the
    achieved rate is the requested one unless the broker or the process cannot keep up."""

    def __init__(self, rate: float, p: Producer | None = None) -> None:
        if rate <= 0:
            raise PixringError(f"rate must be > 0, got {rate}")
        self.rate = rate
        self.producer = p
        self.check_every = max(1, min(1000, int(rate / 200)))
        self.start = time.monotonic()
        self.sent = 0

    def tick(self) -> None:
        self.sent += 1
        if self.sent % self.check_every == 0:
            if self.producer is not None:
                self.producer.poll(0)
            delay = self.start + self.sent / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def elapsed(self) -> float:
        """Seconds since the pacer started."""
        return time.monotonic() - self.start


def check_reachable(k: KafkaSettings, client=None, timeout: float = 10):
    """The broker's topic metadata, or a :class:`PixringError` naming the bootstrap servers."""
    from confluent_kafka import KafkaException

    client = client if client is not None else admin(k)
    try:
        return client.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise PixringError(f"Kafka not reachable at {k.bootstrap}: {exc}") from exc


def ensure_topic(k: KafkaSettings, topic: str, partitions: int = -1, timeout: float = 15) -> bool:
    """Create ``topic`` if the broker does not have it (``partitions=-1``: the broker's default); True when
    this call created it. Another client creating it at the same time is fine."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    client = admin(k)
    if topic in check_reachable(k, client):
        return False
    futures = client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1)])
    try:
        futures[topic].result(timeout)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise PixringError(f"cannot create Kafka topic {topic}: {exc}") from exc
        return False
    return True

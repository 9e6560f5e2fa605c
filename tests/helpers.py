"""Helpers shared by the tests of every package (and the benchmarks' harnesses)."""

from __future__ import annotations

import socket
import time
import uuid


def free_port() -> int:
    """A TCP port nobody listens on right now (bound to 127.0.0.1 and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def consume(bootstrap: str, topic: str, n: int, timeout: float = 60) -> list:
    """At least ``n`` messages from the start of ``topic`` (or all there are by ``timeout``)."""
    from pixring import kafka
    from pixring.settings import KafkaSettings

    c = kafka.consumer(KafkaSettings(bootstrap_servers=bootstrap), f"g-{uuid.uuid4().hex[:8]}",
                       **{"enable.auto.commit": False})
    c.subscribe([topic])
    got: list = []
    deadline = time.monotonic() + timeout
    idle_until = None
    while time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            got.append(msg)
            idle_until = None
        elif len(got) >= n:
            idle_until = idle_until or time.monotonic() + 2  # drain a little past n
            if time.monotonic() > idle_until:
                break
    c.close()
    return got

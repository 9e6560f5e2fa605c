"""Helpers shared by the tests of every package (and the benchmarks' harnesses)."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

TOY_MODEL_CODE = Path(__file__).with_name("toy_model.py")


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


def register_toy_model(settings, name: str, alias: str = "champion") -> str:
    """Log :mod:`tests.toy_model` (models from code) in ``settings``' MLflow, register it as ``name``, sign the
    version as pixring's registration does (loaders accept only signed versions) and point ``alias`` at it;
    returns the version."""
    import mlflow
    from mlflow import MlflowClient

    from pixring.modelsign import sign_version

    uri = settings.mlflow.uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(f"{settings.mlflow.experiment}-tests")
    with mlflow.start_run(run_name=f"toy-{name}"):
        info = mlflow.pyfunc.log_model(name="model", python_model=str(TOY_MODEL_CODE), registered_model_name=name,
                                       pip_requirements=["mlflow", "numpy"])
    version = str(info.registered_model_version)
    sign_version(settings, name, version)
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(name, alias, version)
    return version


class FakeListState:
    """A ``transformWithStateInPandas`` list state in memory (pure-logic tests of a StatefulProcessor)."""

    def __init__(self) -> None:
        self.values: list[tuple] | None = None

    def exists(self) -> bool:
        return self.values is not None

    def get(self):
        return iter(self.values or [])

    def put(self, values) -> None:
        self.values = list(values)

    def clear(self) -> None:
        self.values = None


class FakeStateHandle:
    """A ``StatefulProcessorHandle`` for one key: its list states and event-time timers, in memory."""

    def __init__(self) -> None:
        self.lists: dict[str, FakeListState] = {}
        self.timers: set[int] = set()

    def getListState(self, name: str, schema) -> FakeListState:
        return self.lists.setdefault(name, FakeListState())

    def listTimers(self):
        return iter(sorted(self.timers))

    def deleteTimer(self, ms: int) -> None:
        self.timers.discard(ms)

    def registerTimer(self, ms: int) -> None:
        self.timers.add(ms)


class FakeTimerValues:
    def __init__(self, watermark_ms: int = -1) -> None:
        self.watermark_ms = watermark_ms

    def getCurrentWatermarkInMs(self) -> int:
        return self.watermark_ms

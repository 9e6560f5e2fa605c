"""Helpers shared by the tests of every package (and the benchmarks' harnesses)."""

from __future__ import annotations

import contextlib
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


class RedisProc:
    """A real ``redis-server`` of the tests on a free port, configured as ``pixring up`` configures it
    (:func:`infra.services.write_redis_config`: loopback, password, AOF in ``home``); stop and start again on
    the same port and files (persistence is what brings the data back)."""

    def __init__(self, home, password: str = "pixring-test-redis-password-0123456789") -> None:
        from pixring.settings import RedisSettings

        self.home = home
        self.port = free_port()
        self.settings = RedisSettings(enabled=True, port=self.port, password=password, maxmemory="64mb")
        self.proc = None

    def start(self) -> RedisProc:
        import subprocess

        import redis

        from infra.services import write_redis_config

        class _S:  # write_redis_config reads settings.redis
            redis = self.settings

        conf = write_redis_config(_S, self.home)
        self.proc = subprocess.Popen(["/usr/bin/redis-server", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.home)
        cli = redis.Redis(port=self.port, password=self.settings.password.get_secret_value(), socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if cli.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        # the AOF is loaded before PING answers; wait until it is not loading
        while cli.info("persistence").get("loading"):
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """SIGTERM (redis fsyncs its AOF on shutdown) and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: what a crash loses is at most the last second of AOF (``appendfsync everysec``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.proc = None


def chromium(width: int = 1400, height: int = 900):
    """Headless Chromium (Debian ``chromium`` + ``chromium-driver``) driven by selenium; the caller quits it."""
    import shutil

    import pytest
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if not driver_path or not shutil.which("chromium"):
        pytest.fail("headless Chromium missing: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    """The first truthy value of ``predicate()`` within ``timeout`` seconds (polled every 0.1 s), else a failure."""
    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def keep_artifact(path, name: str | None = None):
    """Copy a test artefact (a screenshot) to ``$PIXRING_TEST_ARTIFACTS`` (default ``$PIXRING_HOME/test-artifacts``);
    returns the kept copy."""
    import os
    import shutil
    from pathlib import Path

    from pixring.settings import get_settings

    keep = Path(os.environ.get("PIXRING_TEST_ARTIFACTS") or Path(get_settings().paths.home) / "test-artifacts")
    keep.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(path, keep / (name or Path(path).name)))


@contextlib.contextmanager
def running(service, timeout_s: float = 180.0):
    """A private ``infra.services`` service started (allowing ``timeout_s`` under load) and stopped afterwards."""
    service.start_timeout_s = timeout_s
    service.start()
    try:
        yield service
    finally:
        service.stop()

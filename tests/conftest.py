"""Shared fixtures: one Spark session per test run, and handles on the real local services.

The services are started by ``make test`` (``pixring up``) before pytest runs; a fixture that finds
its service down FAILS with the command to run, it never skips.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pixring.settings import Settings, get_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def spark(settings: Settings) -> Iterator:
    from pixring.spark import get_spark

    session = get_spark(
        settings,
        **{
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.databricks.delta.snapshotPartitions": "2",
        },
    )
    yield session
    session.stop()


def _require(service: str, settings: Settings) -> None:
    from infra.services import SERVICES

    svc = SERVICES[service](settings)
    if not svc.probe_ready():
        pytest.fail(f"{service} is not reachable at {svc.endpoint}: start it with `pixring up {service}`")


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> str:
    _require("kafka", settings)
    return settings.kafka.bootstrap


@pytest.fixture(scope="session")
def neo4j_driver(settings: Settings) -> Iterator:
    from neo4j import GraphDatabase

    _require("neo4j", settings)
    n = settings.neo4j
    with GraphDatabase.driver(n.bolt_uri, auth=(n.user, n.password.get_secret_value())) as driver:
        yield driver


@pytest.fixture(scope="session")
def mlflow_uri(settings: Settings) -> str:
    _require("mlflow", settings)
    return settings.mlflow.uri


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topics, tables and model names so tests never collide."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def make_settings(settings: Settings) -> Callable[..., Settings]:
    """``make_settings(home, **env)``: a :class:`Settings` rooted at ``home`` (the jars come from the shared
    ``PIXRING_CACHE``, so a subprocess can start Spark there too), built with extra ``PIXRING_*`` values."""

    def make(home: Path, **env: str) -> Settings:
        home.mkdir(parents=True, exist_ok=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PIXRING_HOME", str(home))
            for key, value in env.items():
                mp.setenv(key, value)
            return Settings()  # every sub-settings object reads the environment above now

    return make

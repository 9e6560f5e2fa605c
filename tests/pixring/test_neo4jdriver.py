"""The one Neo4j driver factory: TLS keywords from the settings (pure), and a real connection to the local Neo4j
through it; production accepts a remote Neo4j only encrypted."""

from __future__ import annotations

import secrets

import pytest

from pixring.neo4jdriver import driver, driver_args
from pixring.security import production_problems
from pixring.settings import Neo4jSettings, Settings


def test_a_ca_file_encrypts_whatever_the_scheme_and_trusts_only_it() -> None:
    assert driver_args(Neo4jSettings(uri="bolt://127.0.0.1:7687")) == ("bolt://127.0.0.1:7687", {})
    assert driver_args(Neo4jSettings(uri="neo4j+s://db.bank:7687")) == ("neo4j+s://db.bank:7687", {})
    for uri, plain in (("bolt+s://db.bank:7687", "bolt://db.bank:7687"), ("neo4j+ssc://db.bank", "neo4j://db.bank"),
                       ("bolt://db.bank:7687", "bolt://db.bank:7687")):
        got = driver_args(Neo4jSettings(uri=uri, tls_ca="/etc/pixring/neo4j-ca.pem"))
        assert got == (plain, {"encrypted": True, "trusted_certificates": ("custom", "/etc/pixring/neo4j-ca.pem")})


def test_the_driver_builds_with_a_ca_file(tmp_path) -> None:
    from infra.tls import ensure_server_tls

    ca = ensure_server_tls(tmp_path / "tls", "neo4j-test").ca
    with driver(Neo4jSettings(uri="bolt+s://db.bank.internal:7687", tls_ca=ca)) as d:
        assert d.encrypted  # nothing is sent until a query: the settings are accepted as given


@pytest.mark.neo4j
def test_the_local_neo4j_through_the_factory(settings) -> None:
    with driver(settings.neo4j, connection_timeout=5) as d:
        d.verify_connectivity()
        assert not d.encrypted  # the local one listens on loopback, plaintext


def test_production_wants_tls_to_a_remote_neo4j(monkeypatch) -> None:
    for var in ("PIXRING_PII_SECRET", "PIXRING_MODEL_SIGNING_KEY", "PIXRING_NEO4J_PASSWORD",
                "PIXRING_API_TOKEN_SERVICE", "PIXRING_API_JWT_SECRET", "PIXRING_REDIS_PASSWORD"):
        monkeypatch.setenv(var, secrets.token_urlsafe(40))
    monkeypatch.setenv("PIXRING_ENV", "production")
    monkeypatch.setenv("PIXRING_MLFLOW_TRACKING_URI", "https://mlflow.bank.internal")
    monkeypatch.setenv("PIXRING_NEO4J_URI", "bolt://db.bank.internal:7687")
    (problem,) = production_problems(Settings(), environ={})
    assert problem.startswith("PIXRING_NEO4J_URI reaches a remote Neo4j without TLS")
    monkeypatch.setenv("PIXRING_NEO4J_TLS_CA", "/etc/pixring/neo4j-ca.pem")
    assert production_problems(Settings(), environ={}) == []

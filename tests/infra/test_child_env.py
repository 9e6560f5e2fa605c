"""Children get only the variables they need; Prometheus runs without its lifecycle API; a service started
after pixring's start-up writes owner-only files (a private Prometheus on free ports)."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request

import pytest
from tests.helpers import free_port

HOSTILE = {
    "PIXRING_PII_SECRET": "pii-secret-value-0123456789abcdef0123",
    "PIXRING_API_JWT_SECRET_FILE": "",  # a file of the test's (the fixture)
    "PIXRING_NEO4J_PASSWORD": "neo4j-password-value-0123456789abcd",
    "PIXRING_MODEL_SIGNING_KEY": "model-signing-key-0123456789abcdef",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-password",
    "PIXRING_KAFKA_PORT": "9092",
    "AWS_SECRET_ACCESS_KEY": "not-ours",
    "OMP_NUM_THREADS": "1",
}


@pytest.fixture
def env_settings(tmp_path, monkeypatch):
    from pixring.settings import Settings

    jwt_file = tmp_path / "jwt"
    jwt_file.write_text("jwt-secret-from-a-file-0123456789abcdef")
    HOSTILE["PIXRING_API_JWT_SECRET_FILE"] = str(jwt_file)
    for k, v in HOSTILE.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "home"))
    return Settings()


def test_each_child_gets_only_what_it_needs(env_settings) -> None:
    from infra.services import SERVICES

    envs = {name: cls(env_settings).env() for name, cls in SERVICES.items()}
    for name, env in envs.items():
        assert env["PATH"] == os.environ["PATH"], name
        assert "AWS_SECRET_ACCESS_KEY" not in env, name  # nothing unlisted
    for name in ("kafka", "prometheus", "mlflow"):
        assert not [k for k in envs[name] if k.startswith("PIXRING_")], name
        assert "MLFLOW_TRACKING_PASSWORD" not in envs[name]
    assert [k for k in envs["neo4j"] if k.startswith("PIXRING_")] == ["PIXRING_NEO4J_PASSWORD"]
    assert envs["mlflow"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    # the Neo4j Browser's static server: non-secret settings only (the user types the password in the Browser)
    from pixring.settings import FOREIGN_SECRET_VARS, SECRET_VARS

    secret = {*SECRET_VARS, *(f"{v}_FILE" for v in SECRET_VARS), *FOREIGN_SECRET_VARS}
    assert not set(envs["browser"]) & secret and "PIXRING_HOME" in envs["browser"]
    stream, api = envs["stream"], envs["api"]
    assert stream["PIXRING_PII_SECRET"] == HOSTILE["PIXRING_PII_SECRET"]  # it tokenises keys
    assert stream["PIXRING_KAFKA_PORT"] == "9092" and stream["OMP_NUM_THREADS"] == "1"
    assert "PIXRING_NEO4J_PASSWORD" not in stream and "PIXRING_API_JWT_SECRET_FILE" not in stream
    for var in ("PIXRING_PII_SECRET", "PIXRING_API_JWT_SECRET_FILE", "PIXRING_NEO4J_PASSWORD",
                "PIXRING_MODEL_SIGNING_KEY", "MLFLOW_TRACKING_PASSWORD"):
        assert api[var] == HOSTILE[var], var


def test_prometheus_command_has_no_lifecycle_api(env_settings) -> None:
    from infra.services import PrometheusService

    cmd = PrometheusService(env_settings).command()
    assert not [a for a in cmd if "lifecycle" in a]
    assert f"--web.listen-address=127.0.0.1:{env_settings.prometheus.port}" in cmd


@pytest.fixture
def owner_umask():
    old = os.umask(0o077)
    yield
    os.umask(old)


def test_a_started_prometheus_refuses_lifecycle_calls_and_holds_no_secret(env_settings, owner_umask) -> None:
    from infra.services import PrometheusService
    from pixring.security import harden_files
    from pixring.settings import PrometheusSettings

    s = env_settings
    s.prometheus = PrometheusSettings(port=free_port(), kafka_exporter_port=free_port())
    s.paths.home.mkdir(parents=True)
    harden_files(s.paths.home)
    svc = PrometheusService(s)
    svc.start()
    try:
        pid = svc.pid()
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read().split(b"\0")
        assert not [e for e in environ if e.startswith((b"PIXRING_", b"MLFLOW_", b"AWS_"))]
        for path in ("/-/reload", "/-/quit"):
            req = urllib.request.Request(f"{s.prometheus.url}{path}", method="POST")
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=5)
            assert err.value.code == 403, path  # "Lifecycle API is not enabled"
        assert svc.status().state == "ready"
        files = [p for p in svc.home.rglob("*") if p.is_file()]
        assert files
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p
        assert stat.S_IMODE(s.paths.home.stat().st_mode) == 0o700
    finally:
        svc.stop()

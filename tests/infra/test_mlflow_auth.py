"""MLflow behind its ``basic-auth`` app (``PIXRING_MLFLOW_AUTH``): a private server on a free port refuses an
unauthenticated or wrongly authenticated request (401) and serves pixring's client, whose credentials
:func:`pixring.security.mlflow_client_env` puts in the environment."""

from __future__ import annotations

import base64
import json
import stat
import urllib.error
import urllib.request

import pytest

from tests.helpers import free_port, running

PASSWORD = "mlflow-test-password-0123456789abcdef"


def _get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def private_mlflow(tmp_path, monkeypatch):
    from infra.services import MLflowService
    from pixring.security import harden_files
    from pixring.settings import Settings

    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIXRING_MLFLOW_PORT", str(free_port()))
    monkeypatch.setenv("PIXRING_MLFLOW_AUTH", "true")
    monkeypatch.setenv("PIXRING_MLFLOW_PASSWORD", PASSWORD)
    s = Settings()
    s.paths.home.mkdir(parents=True)
    harden_files(s.paths.home)
    with running(MLflowService(s)) as svc:
        yield s, svc


@pytest.mark.slow
def test_mlflow_refuses_the_unauthenticated_and_serves_pixring(private_mlflow, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    from pixring.security import mlflow_client_env

    s, svc = private_mlflow
    url = f"{s.mlflow.uri}/api/2.0/mlflow/experiments/search?max_results=5"
    assert _get(url)[0] == 401
    assert _get(url, ("pixring", "not-the-password"))[0] == 401
    assert _get(url, ("someone", PASSWORD))[0] == 401
    status, body = _get(url, ("pixring", PASSWORD))
    assert status == 200 and isinstance(json.loads(body), dict)
    assert _get(f"{s.mlflow.uri}/health")[0] == 200  # the readiness probe needs no credentials

    # the client pixring's commands use: credentials from the environment start_up prepares
    client = MlflowClient(tracking_uri=s.mlflow.uri)
    with pytest.raises(Exception, match="401|Unauthorized|credentials"):
        client.search_experiments()
    env: dict[str, str] = {}
    mlflow_client_env(s, env)
    assert env == {"MLFLOW_TRACKING_USERNAME": "pixring", "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    exp = client.create_experiment("auth-test")
    assert client.get_experiment(exp).name == "auth-test"

    # the server's secrets: owner-only files, and only the server's environment has the admin password
    for name in ("flask-secret", "basic_auth.db", "basic_auth.ini"):
        assert stat.S_IMODE((svc.home / name).stat().st_mode) & 0o077 == 0, name
    with open(f"/proc/{svc.pid()}/environ", "rb") as fh:
        environ = fh.read().split(b"\0")
    assert f"MLFLOW_AUTH_ADMIN_PASSWORD={PASSWORD}".encode() in environ
    assert not [e for e in environ if e.startswith((b"PIXRING_", b"MLFLOW_TRACKING_PASSWORD"))]

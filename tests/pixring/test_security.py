"""Start-up hardening (``pixring.security``): production refuses public or short secrets and plaintext binds
with one line (the real CLI in a subprocess), secrets from files, owner-only files under the data root."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pixring.security import is_loopback, production_problems
from pixring.settings import DEV_SECRETS, SECRET_VARS, Settings

STRONG = ("PIXRING_PII_SECRET", "PIXRING_MODEL_SIGNING_KEY", "PIXRING_NEO4J_PASSWORD", "PIXRING_API_TOKEN_SERVICE",
          "PIXRING_API_JWT_SECRET", "PIXRING_REDIS_PASSWORD", "PIXRING_MLFLOW_PASSWORD")


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The test runner's environment without any PIXRING_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXRING_")}
    return {**env, "PIXRING_HOME": str(home), **extra}


def _pixring(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pixring.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _strong_files(tmp_path: Path, mode: int = 0o600) -> dict[str, str]:
    out = {}
    for var in STRONG:
        path = tmp_path / "secrets" / var.lower()
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(40) + "\n")
        path.chmod(mode)
        out[f"{var}_FILE"] = str(path)
    out["PIXRING_MLFLOW_AUTH"] = "true"  # production: MLflow behind its basic-auth app
    return out


def test_production_with_a_default_secret_refuses_to_start_with_one_line(tmp_path) -> None:
    env = _clean_env(tmp_path / "home", PIXRING_ENV="production", **_strong_files(tmp_path))
    del env["PIXRING_PII_SECRET_FILE"]  # the HMAC key left at its public default
    r = _pixring(env, "status")
    assert r.returncode == 2
    assert r.stdout == ""  # the command itself never ran
    lines = r.stderr.strip().splitlines()
    assert lines == ["pixring status: error: refusing to start with PIXRING_ENV=production: "
                     "PIXRING_PII_SECRET is the public development default"]


def test_production_with_strong_secret_files_starts_and_local_accepts_defaults(tmp_path) -> None:
    env = _clean_env(tmp_path / "home", PIXRING_ENV="production", **_strong_files(tmp_path))
    r = _pixring(env, "token", "--subject", "ana@banco", "--role", "investigator", "--ttl-hours", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(".") == 2  # a JWT
    r = _pixring(_clean_env(tmp_path / "home"), "token", "--subject", "ana", "--role", "service")
    assert r.returncode == 0, r.stderr  # PIXRING_ENV unset: local, dev defaults


def test_short_secrets_readable_files_and_plain_binds_are_each_named(tmp_path) -> None:
    files = _strong_files(tmp_path)
    Path(files["PIXRING_API_JWT_SECRET_FILE"]).chmod(0o644)
    env = _clean_env(tmp_path / "home", PIXRING_ENV="production", **files)
    del env["PIXRING_NEO4J_PASSWORD_FILE"]
    env.update(PIXRING_NEO4J_PASSWORD="only-sixteen-chr", PIXRING_API_HOST="0.0.0.0",
               PIXRING_STREAMING_METRICS_HOST="0.0.0.0", PIXRING_NEO4J_URI="bolt://neo4j.bank.internal:7687")
    r = _pixring(env, "token", "--subject", "ana", "--role", "investigator")
    assert r.returncode == 2 and r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    for expected in ("PIXRING_NEO4J_PASSWORD is shorter than 32 bytes",
                     f"PIXRING_API_JWT_SECRET_FILE={files['PIXRING_API_JWT_SECRET_FILE']} is readable by others",
                     "PIXRING_API_HOST=0.0.0.0 is not loopback and the API has no TLS",
                     "PIXRING_STREAMING_METRICS_HOST=0.0.0.0 is not loopback",
                     "PIXRING_NEO4J_URI reaches a remote Neo4j without TLS"):
        assert expected in line, (expected, line)
    assert "PIXRING_PII_SECRET" not in line  # strong ones are not named


def test_a_secret_and_its_file_together_or_an_unreadable_file_are_clear_errors(tmp_path) -> None:
    env = _clean_env(tmp_path / "home", PIXRING_PII_SECRET="x" * 40,
                     PIXRING_PII_SECRET_FILE=str(tmp_path / "missing"))
    r = _pixring(env, "status")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "pixring status: error: invalid settings (SecuritySettings): Value error, both PIXRING_PII_SECRET and "
        "PIXRING_PII_SECRET_FILE are set: give one"]
    del env["PIXRING_PII_SECRET"]
    r = _pixring(env, "status")
    assert r.returncode == 2 and "cannot read the secret file (FileNotFoundError)" in r.stderr


def test_secret_file_value_is_used(tmp_path, monkeypatch) -> None:
    path = tmp_path / "pii"
    path.write_text("  a-key-from-a-file-that-is-long-enough-for-hmac \n")
    monkeypatch.setenv("PIXRING_PII_SECRET_FILE", str(path))
    assert Settings().security.pii_secret.get_secret_value() == "a-key-from-a-file-that-is-long-enough-for-hmac"


def test_api_bind_with_tls_is_accepted_in_production(monkeypatch) -> None:
    for var in STRONG:
        monkeypatch.setenv(var, secrets.token_urlsafe(40))
    monkeypatch.setenv("PIXRING_ENV", "production")
    monkeypatch.setenv("PIXRING_MLFLOW_AUTH", "true")
    monkeypatch.setenv("PIXRING_API_HOST", "0.0.0.0")
    assert production_problems(Settings(), environ={}) == [
        "PIXRING_API_HOST=0.0.0.0 is not loopback and the API has no TLS "
        "(set PIXRING_API_TLS_CERT and PIXRING_API_TLS_KEY)"]
    monkeypatch.setenv("PIXRING_API_TLS_CERT", "/etc/pixring/api.crt")
    assert production_problems(Settings(), environ={})[0] == "PIXRING_API_TLS_CERT and PIXRING_API_TLS_KEY go together"
    monkeypatch.setenv("PIXRING_API_TLS_KEY", "/etc/pixring/api.key")
    assert production_problems(Settings(), environ={}) == []


def test_production_refuses_plaintext_kafka_to_a_remote_broker_and_an_open_mlflow(monkeypatch) -> None:
    for var in STRONG:
        monkeypatch.setenv(var, secrets.token_urlsafe(40))
    monkeypatch.setenv("PIXRING_ENV", "production")
    monkeypatch.setenv("PIXRING_KAFKA_BOOTSTRAP_SERVERS", "kafka1.bank.internal:9093,127.0.0.1:9092")
    assert production_problems(Settings(), environ={}) == [
        "PIXRING_MLFLOW_AUTH is off: the local MLflow would take anyone's runs and models (set PIXRING_MLFLOW_AUTH=true)",
        "PIXRING_KAFKA_BOOTSTRAP_SERVERS is remote and PIXRING_KAFKA_SECURITY_PROTOCOL is PLAINTEXT (use SSL or SASL_SSL)"]
    monkeypatch.setenv("PIXRING_MLFLOW_AUTH", "true")
    for protocol in ("SSL", "SASL_SSL"):
        monkeypatch.setenv("PIXRING_KAFKA_SECURITY_PROTOCOL", protocol)
        assert production_problems(Settings(), environ={}) == [], protocol
    monkeypatch.setenv("PIXRING_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    assert len(production_problems(Settings(), environ={})) == 1
    monkeypatch.setenv("PIXRING_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")  # a laptop's broker: plaintext is fine
    assert production_problems(Settings(), environ={}) == []
    monkeypatch.delenv("PIXRING_MLFLOW_AUTH")
    monkeypatch.setenv("PIXRING_MLFLOW_TRACKING_URI", "https://mlflow.bank.internal")  # a managed MLflow: its own auth
    assert production_problems(Settings(), environ={}) == []
    monkeypatch.setenv("PIXRING_MLFLOW_PASSWORD", DEV_SECRETS["PIXRING_MLFLOW_PASSWORD"])
    assert production_problems(Settings(), environ={}) == []  # not used: pixring does not log in
    monkeypatch.setenv("PIXRING_MLFLOW_AUTH", "true")
    assert production_problems(Settings(), environ={}) == ["PIXRING_MLFLOW_PASSWORD is the public development default"]


def test_every_secret_has_a_public_default_listed() -> None:
    s = Settings()
    assert set(SECRET_VARS) == set(DEV_SECRETS) >= set(STRONG)
    assert s.security.pii_secret.get_secret_value() == DEV_SECRETS["PIXRING_PII_SECRET"]
    assert s.api.jwt_secret.get_secret_value() == DEV_SECRETS["PIXRING_API_JWT_SECRET"]


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True),
                                                ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                                ("10.0.0.5", False), ("::", False), ("api.bank", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


WRITER = """
import sys
from pathlib import Path
import pyarrow as pa
from deltalake import write_deltalake
from pixring.cli import _start_up
_start_up()
home = Path(sys.argv[1])
write_deltalake(str(home / "lakehouse" / "bronze" / "usuarios"), pa.table({"cpf_cnpj": ["00000000191"]}))
(home / "logs").mkdir()
(home / "logs" / "api-audit.log").write_text("{}")
"""


def test_files_under_the_data_root_are_owner_only(tmp_path) -> None:
    """A pixring process (the CLI's start-up) makes the data root 0700 and writes 0600 files, 0700 folders."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    r = subprocess.run([sys.executable, "-c", WRITER, str(home)], env=_clean_env(home), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    seen = 0
    for path in home.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        seen += 1
    assert seen >= 6

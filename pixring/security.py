"""What every pixring process does first (:func:`start_up`, called by the CLI before any command runs).

1. ``umask 077`` and the data root (``PIXRING_HOME``) ``0700``: every file pixring or a service it starts
   writes there (bronze with clear PII, the MLflow database, the audit log, logs) is readable by its owner
   only. Spark's Hadoop file system applies its own umask: :mod:`pixring.spark` sets it to the same value.
2. Outside ``PIXRING_ENV=local`` (:func:`production_problems`): a secret that is a public development default
   or shorter than :data:`MIN_SECRET_BYTES`, a secret file others can read, a non-loopback bind without TLS,
   or a plaintext connection to a remote store, is refused with one line and exit code 2.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from pixring.errors import PixringError
from pixring.settings import DEV_SECRETS, Settings

#: the umask of every pixring process (inherited by the services ``pixring up`` starts)
UMASK = 0o077
#: the shortest secret accepted outside local (an HMAC-SHA256 key wants at least its output size)
MIN_SECRET_BYTES = 32


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); False for 0.0.0.0, names, others."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _secrets(settings: Settings) -> dict[str, str]:
    """The secrets a production deployment must set, by variable. The static investigator tokens are not
    among them: outside local the API accepts only signed JWTs for investigators (``api.security``)."""
    a = settings.api
    return {
        "PIXRING_PII_SECRET": settings.security.pii_secret.get_secret_value(),
        "PIXRING_MODEL_SIGNING_KEY": settings.security.model_signing_key.get_secret_value(),
        "PIXRING_NEO4J_PASSWORD": settings.neo4j.password.get_secret_value(),
        "PIXRING_API_TOKEN_SERVICE": a.token_service.get_secret_value(),
        "PIXRING_API_JWT_SECRET": a.jwt_secret.get_secret_value(),
        "PIXRING_REDIS_PASSWORD": settings.redis.password.get_secret_value(),
        # pixring's MLflow login, when it logs in (a managed MLflow may take the operator's own credentials)
        **({"PIXRING_MLFLOW_PASSWORD": settings.mlflow.password.get_secret_value()} if settings.mlflow.auth else {}),
    }


def production_problems(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """Why these settings may not run outside local (empty in local, or when all is well)."""
    if settings.security.env == "local":
        return []
    env = os.environ if environ is None else environ
    problems: list[str] = []
    for var, value in _secrets(settings).items():
        if value == DEV_SECRETS[var]:
            problems.append(f"{var} is the public development default")
        elif len(value.encode("utf-8")) < MIN_SECRET_BYTES:
            problems.append(f"{var} is shorter than {MIN_SECRET_BYTES} bytes")
        path = env.get(f"{var}_FILE")
        if path and Path(path).exists() and Path(path).stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"{var}_FILE={path} is readable by others (chmod 600)")
    a = settings.api
    if (a.tls_cert is None) != (a.tls_key is None):
        problems.append("PIXRING_API_TLS_CERT and PIXRING_API_TLS_KEY go together")
    if not is_loopback(a.host) and not a.tls:
        problems.append(f"PIXRING_API_HOST={a.host} is not loopback and the API has no TLS "
                        "(set PIXRING_API_TLS_CERT and PIXRING_API_TLS_KEY)")
    # plain-HTTP or plaintext listeners: loopback only
    for var, host in (("PIXRING_STREAMING_METRICS_HOST", settings.streaming.metrics_host),
                      ("PIXRING_PROMETHEUS_HOST", settings.prometheus.host),
                      ("PIXRING_MLFLOW_HOST", settings.mlflow.host),
                      ("PIXRING_NEO4J_HOST", settings.neo4j.host),
                      ("PIXRING_KAFKA_HOST", settings.kafka.host),
                      *((("PIXRING_REDIS_HOST", settings.redis.host),) if not settings.redis.tls else ())):
        if not is_loopback(host):
            problems.append(f"{var}={host} is not loopback and that listener has no TLS")
    # connections to remote stores: encrypted only
    if settings.neo4j.uri and not is_loopback(urlsplit(settings.neo4j.uri).hostname or ""):
        if not urlsplit(settings.neo4j.uri).scheme.endswith("+s") and settings.neo4j.tls_ca is None:
            problems.append("PIXRING_NEO4J_URI reaches a remote Neo4j without TLS (use bolt+s:// or neo4j+s://, or "
                            "PIXRING_NEO4J_TLS_CA)")
    if not settings.mlflow.auth and not settings.mlflow.tracking_uri:
        problems.append("PIXRING_MLFLOW_AUTH is off: the local MLflow would take anyone's runs and models "
                        "(set PIXRING_MLFLOW_AUTH=true)")
    if settings.mlflow.tracking_uri:
        parts = urlsplit(settings.mlflow.tracking_uri)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            problems.append("PIXRING_MLFLOW_TRACKING_URI reaches a remote MLflow over plain HTTP (use https://)")
    r = settings.redis
    if r.url and not is_loopback(urlsplit(r.url).hostname or "") and urlsplit(r.url).scheme != "rediss":
        problems.append("PIXRING_REDIS_URL reaches a remote Redis without TLS (use rediss://)")
    k = settings.kafka
    if (k.bootstrap_servers and k.security_protocol not in ("SSL", "SASL_SSL")
            and not all(is_loopback(b.rsplit(":", 1)[0]) for b in k.bootstrap_servers.split(",") if b.strip())):
        problems.append(f"PIXRING_KAFKA_BOOTSTRAP_SERVERS is remote and PIXRING_KAFKA_SECURITY_PROTOCOL is "
                        f"{k.security_protocol} (use SSL or SASL_SSL)")
    return problems


def harden_files(home: Path) -> None:
    """``umask 077`` for this process (and its children); the data root ``0700`` when it is ours."""
    os.umask(UMASK)
    try:
        st = home.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        home.chmod(stat.S_IMODE(st.st_mode) & 0o700)


def mlflow_client_env(settings: Settings, environ: dict[str, str] | None = None) -> None:
    """With ``PIXRING_MLFLOW_AUTH`` on, the MLflow client of this process (and of the children that get the
    ``MLFLOW_TRACKING_*`` variables: the stream, the API) authenticates as ``PIXRING_MLFLOW_USER``; credentials
    already in the environment win (an operator's own MLflow login)."""
    env = os.environ if environ is None else environ
    m = settings.mlflow
    if m.auth and "MLFLOW_TRACKING_TOKEN" not in env:
        env.setdefault("MLFLOW_TRACKING_USERNAME", m.user)
        env.setdefault("MLFLOW_TRACKING_PASSWORD", m.password.get_secret_value())


def start_up(settings: Settings) -> None:
    """The checks and process settings every pixring command starts with; PixringError when refused."""
    harden_files(settings.paths.home)
    problems = production_problems(settings)
    if problems:
        raise PixringError(f"refusing to start with PIXRING_ENV={settings.security.env}: " + "; ".join(problems))
    mlflow_client_env(settings)


def laptop_default(settings: Settings, var: str, value: str) -> bool:
    """True when ``value`` (the setting of secret ``var``) is its public development default on a laptop
    (``PIXRING_ENV`` not production): only then may a hint print it."""
    return settings.security.env != "production" and value == DEV_SECRETS[var]


def neo4j_login_hint(settings: Settings) -> str:
    """How to log in to Neo4j (Browser, cypher-shell): the laptop default password, or where it comes from."""
    n = settings.neo4j
    if laptop_default(settings, "PIXRING_NEO4J_PASSWORD", n.password.get_secret_value()):
        return f"user {n.user}, password {DEV_SECRETS['PIXRING_NEO4J_PASSWORD']} (the laptop default)"
    return f"user {n.user}, password from PIXRING_NEO4J_PASSWORD"


def api_token_hint(settings: Settings) -> dict[str, str | bool]:
    """The investigator's bearer token for ``/ui`` and ``/docs``: the laptop default, or how to get one."""
    var = "PIXRING_API_TOKEN_INVESTIGATOR"
    if laptop_default(settings, var, settings.api.token_investigator.get_secret_value()):
        return {"laptop": True, "token": DEV_SECRETS[var], "variavel": var,
                "texto": f"investigator token {DEV_SECRETS[var]} (the laptop default of {var})"}
    return {"laptop": False, "variavel": var,
            "texto": "a bearer token from `pixring token` (per person, signed) or the operator"}

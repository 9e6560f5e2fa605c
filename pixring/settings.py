"""Typed settings, one object per service, read from the environment with a ``PIXRING_`` prefix.

Every endpoint (Kafka bootstrap, Spark master, Neo4j URI, MLflow URI, storage root) comes from here so
that the same code runs on a laptop and on a cluster. ``get_settings()`` validates at start-up.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _cfg(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", env_file=None)


#: The public development defaults of every secret: accepted only with ``PIXRING_ENV=local``
#: (:mod:`pixring.security` refuses them elsewhere).
DEV_SECRETS: dict[str, str] = {
    "PIXRING_NEO4J_PASSWORD": "pixring-local-dev",
    "PIXRING_PII_SECRET": "pixring-local-dev-pii-secret-change-me",
    "PIXRING_MODEL_SIGNING_KEY": "pixring-local-dev-model-signing-key-change-me",
    "PIXRING_API_TOKEN_SERVICE": "pixring-dev-service-token",
    "PIXRING_API_TOKEN_INVESTIGATOR": "pixring-dev-investigator-token",
    "PIXRING_API_TOKEN_INVESTIGATOR_PII": "pixring-dev-investigator-pii-token",
    "PIXRING_API_JWT_SECRET": "pixring-local-dev-jwt-secret-change-me",
    "PIXRING_REDIS_PASSWORD": "pixring-local-dev-redis-password-change-me",
    "PIXRING_MLFLOW_PASSWORD": "pixring-local-dev-mlflow-password",
}
#: Every secret variable (each may instead name a file: ``<VAR>_FILE``). Child processes get only the ones
#: they need (``infra.services``).
SECRET_VARS: tuple[str, ...] = tuple(DEV_SECRETS)
#: Secrets of third-party clients pixring never passes to a child that does not need them.
#: ``MLFLOW_CLIENT_SECRET_VARS`` go to the commands that read MLflow (stream, API), the others only to the server.
MLFLOW_CLIENT_SECRET_VARS: tuple[str, ...] = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
FOREIGN_SECRET_VARS: tuple[str, ...] = (*MLFLOW_CLIENT_SECRET_VARS, "MLFLOW_AUTH_ADMIN_PASSWORD",
                                        "MLFLOW_FLASK_SERVER_SECRET_KEY")


def _dev(var: str) -> SecretStr:
    return SecretStr(DEV_SECRETS[var])


def read_secret_file(var: str, path: str) -> str:
    """The secret in the file named by ``var`` (surrounding whitespace stripped); a clear error otherwise."""
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{var}={path}: cannot read the secret file ({type(exc).__name__})") from None
    if not value:
        raise ValueError(f"{var}={path}: the secret file is empty")
    return value


class _SecretFiles(BaseSettings):
    """Every ``SecretStr`` field ``x`` may come from a file named by ``<PREFIX>X_FILE`` (not both)."""

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data):
        if not isinstance(data, dict):
            return data
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, info in cls.model_fields.items():
            if info.annotation is not SecretStr:
                continue
            var = f"{prefix}{name}".upper()
            path = os.environ.get(f"{var}_FILE")
            if not path:
                continue
            if data.get(name) is not None:
                raise ValueError(f"both {var} and {var}_FILE are set: give one")
            data[name] = read_secret_file(f"{var}_FILE", path)
        return data


class LogSettings(BaseSettings):
    """How the process logs (:mod:`pixring.logs`): ``text`` lines or ``json`` objects, both with ``corr``."""

    model_config = _cfg("PIXRING_LOG_")

    format: Literal["text", "json"] = "text"


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pixring"


class PathSettings(BaseSettings):
    """Where all state lives: ``PIXRING_HOME`` (default ``./var``); what is downloaded or built once and shared
    by every data root (the resolved jars of Spark, Kafka, Neo4j, the JMX agent, the GraphX bridge):
    ``PIXRING_CACHE`` (default ``$XDG_CACHE_HOME/pixring``, i.e. ``~/.cache/pixring``)."""

    model_config = _cfg("PIXRING_")

    home: Path = Path("var")
    cache: Path = Field(default_factory=_default_cache)

    @field_validator("home", "cache")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def jars(self) -> Path:
        return self.cache / "jars"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def lakehouse(self) -> Path:
        return self.home / "lakehouse"

    @property
    def checkpoints(self) -> Path:
        return self.home / "checkpoints"


class KafkaSettings(BaseSettings):
    """Kafka: a single-node KRaft broker locally, any bootstrap list on a cluster."""

    model_config = _cfg("PIXRING_KAFKA_")

    host: str = "127.0.0.1"
    port: int = Field(9092, ge=1, le=65535)
    controller_port: int = Field(9093, ge=1, le=65535)
    bootstrap_servers: str | None = None
    heap: str = "512m"
    version: str = "4.1.1"
    topic_transactions: str = "pix.transacoes"
    topic_scored: str = "pix.transacoes.scored"
    topic_alerts: str = "pix.alertas"
    topic_dlq: str = "pix.transacoes.dlq"
    #: client security (:mod:`pixring.kafka` passes them to every producer, consumer and admin client):
    #: ``PLAINTEXT`` locally; ``SSL`` / ``SASL_SSL`` with a CA file and a SASL mechanism on a cluster
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_ca_location: str | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    #: the broker ``pixring up`` starts also listens with TLS on ``ssl_port`` (certificates from a local CA,
    #: ``$PIXRING_HOME/kafka/tls``); the plaintext listener stays, on loopback. Local clients use the TLS one
    #: when ``security_protocol`` is ``SSL`` (the CA file defaults to the local CA's)
    tls: bool = False
    ssl_port: int = Field(9094, ge=1, le=65535)

    @property
    def bootstrap(self) -> str:
        if self.bootstrap_servers:
            return self.bootstrap_servers
        return f"{self.host}:{self.ssl_port if self.security_protocol == 'SSL' else self.port}"


class Neo4jSettings(_SecretFiles):
    """Neo4j DBMS reached over Bolt, authentication always on."""

    model_config = _cfg("PIXRING_NEO4J_")

    host: str = "127.0.0.1"
    bolt_port: int = Field(7687, ge=1, le=65535)
    uri: str | None = None
    #: PEM of the CA that signed the server's Bolt certificate: the driver encrypts and trusts only it
    #: (:mod:`pixring.neo4jdriver`)
    tls_ca: Path | None = None
    user: str = "neo4j"
    password: SecretStr = _dev("PIXRING_NEO4J_PASSWORD")
    database: str = "neo4j"
    heap: str = "768m"
    pagecache: str = "256m"
    version: str = "5.26.17"

    @field_validator("password")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 8:
            raise ValueError("Neo4j requires a password of at least 8 characters")
        return v

    @property
    def bolt_uri(self) -> str:
        return self.uri or f"bolt://{self.host}:{self.bolt_port}"


class MLflowSettings(_SecretFiles):
    """MLflow tracking server (SQLite backend and local artifacts when run by ``pixring up``)."""

    model_config = _cfg("PIXRING_MLFLOW_")

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    tracking_uri: str | None = None
    experiment: str = "pixring"
    model_name: str = "pixring-mule-gnn"
    #: MLflow's ``basic-auth`` app: ``pixring up`` starts the server with it (``user`` its admin) and every
    #: pixring client sends ``user`` / ``password`` (MLFLOW_TRACKING_USERNAME / _PASSWORD); off on a laptop
    auth: bool = False
    user: str = "pixring"
    password: SecretStr = _dev("PIXRING_MLFLOW_PASSWORD")

    @property
    def uri(self) -> str:
        return self.tracking_uri or f"http://{self.host}:{self.port}"


class SparkSettings(BaseSettings):
    """Spark: ``local[*]`` in-process by default, any master on a cluster."""

    model_config = _cfg("PIXRING_SPARK_")

    master: str = "local[*]"
    app_name: str = "pixring"
    driver_memory: str = "4g"
    shuffle_partitions: int = Field(8, ge=1)
    delta_snapshot_partitions: int = Field(4, ge=1)
    ui_enabled: bool = False
    log_level: str = "WARN"


class SecuritySettings(_SecretFiles):
    """Where pixring runs (``PIXRING_ENV``) and the keys that tokenise PII and sign models; never logged.

    Outside ``local`` the start-up of every pixring command (:mod:`pixring.security`) refuses a default or
    short secret and a non-loopback bind without TLS.
    """

    model_config = _cfg("PIXRING_")

    env: Literal["local", "production"] = "local"
    #: HMAC-SHA256 key of the PII tokens (silver, gold, Neo4j, topics); >= 32 bytes outside local
    pii_secret: SecretStr = _dev("PIXRING_PII_SECRET")
    #: HMAC-SHA256 key with which pixring's own registration signs a model version's artifact digest; the
    #: stream and the API load only versions whose signature verifies (:mod:`pixring.modelsign`)
    model_signing_key: SecretStr = _dev("PIXRING_MODEL_SIGNING_KEY")


class LakehouseSettings(BaseSettings):
    """Retention, validation limits and the streaming trigger of the lakehouse jobs."""

    model_config = _cfg("PIXRING_LAKEHOUSE_")

    #: VACUUM retention used by ``pixring erase``. Delta's safe default is 168 h (7 days, time travel
    #: keeps working for that long); 0 removes the erased person's old data files at once (and ends time
    #: travel to versions before the erasure).
    vacuum_retention_hours: float = Field(168.0, ge=0)
    #: A string field longer than this is quarantined (``too_long:<column>``).
    max_field_chars: int = Field(512, ge=16)
    #: ``pixring ingest --stream`` (not available-now): micro-batch trigger interval.
    stream_trigger_seconds: float = Field(5.0, gt=0)
    #: Upper bound of Kafka records per micro-batch.
    stream_max_offsets_per_trigger: int = Field(200_000, ge=1)
    #: Independent Spark jobs (one table's write, one file's append) run this many at a time: on a small
    #: machine much of a Delta write is driver-side overhead that overlaps well.
    parallelism: int = Field(3, ge=1, le=16)
    #: A login device counts as new for a transfer when first seen at most this many hours before it.
    new_device_hours: float = Field(24.0, gt=0)


class GraphSettings(BaseSettings):
    """Motif windows, score weights and the community/ring-id rules of ``pixring graph build``."""

    model_config = _cfg("PIXRING_GRAPH_")

    # --- the time scales of the money motifs (repasse, cadeia, ciclo) ------------------------------
    #: hop-delay windows, hours, 15 min to 14 days: a repasse / cadeia hop may take up to the largest, a
    #: ciclo's round trip too; each instance records the smallest window its delay fits (``janela_h``), so
    #: instant mule forwarding and layering spread over days are both found and told apart. Environment:
    #: a JSON list, e.g. ``PIXRING_GRAPH_MOTIF_JANELAS_H='[0.25, 1, 24]'``
    motif_janelas_h: tuple[float, ...] = (0.25, 1.0, 6.0, 24.0, 72.0, 168.0, 336.0)

    # --- repasse / cadeia: a mule passes on what it received, nearly whole ----------------------------
    #: the money passed on may have come in over at most this many hours (batched fake-sale payments)
    repasse_acumulo_h: float = Field(96.0, gt=0)
    #: out / in must fall in [min, max]: a mule keeps a small cut (or nothing)
    repasse_razao_min: float = Field(0.90, gt=0)
    repasse_razao_max: float = Field(1.02, gt=0)
    #: a pass-through counts only for an account that passed on at least this share of all the money it
    #: received in the data (the AML "flow-through ratio"): a mule exists to move money, so nearly all of
    #: its inflow goes out again; a shop or a person whose one payment happens to match keeps most of it
    repasse_fracao_min: float = Field(0.25, ge=0, le=1)
    #: the a->b->c chain motif (single transfer in, single out): amount band (window: motif_janelas_h)
    cadeia_razao_min: float = Field(0.90, gt=0)
    cadeia_razao_max: float = Field(1.02, gt=0)

    # --- ciclo: money that comes back to where it started, hop after hop --------------------------
    ciclo_max_len: int = Field(5, ge=3, le=6)

    # --- fan-in to a young account -----------------------------------------------------------------
    fan_in_min_remetentes: int = Field(3, ge=2)
    fan_in_janela_h: float = Field(24.0, gt=0)
    conta_jovem_dias: float = Field(90.0, gt=0)
    chave_jovem_dias: float = Field(30.0, gt=0)

    # --- shared devices ------------------------------------------------------------------------------
    #: a device bound to more users than this is a public terminal or noise: no user-user links from it
    disp_max_usuarios: int = Field(12, ge=2)
    #: a shared device counts as recent when it became shared at most this many days before the motifs
    disp_recente_dias: float = Field(30.0, gt=0)

    # --- communities, rings ------------------------------------------------------------------------
    #: components of the suspicious subgraph larger than this are split by label propagation
    comunidade_max: int = Field(40, ge=3)
    lpa_passos: int = Field(5, ge=1)
    pagerank_iter: int = Field(10, ge=1)
    pagerank_reset: float = Field(0.15, gt=0, lt=1)
    #: a community with at least this risk is a ring candidate
    risco_min_anel: float = Field(0.5, ge=0, le=1)
    #: rebuilds: a new community inherits an old id when it holds at least this share of the old one's
    #: members (or the old one holds this share of the new one's)
    overlap_min: float = Field(0.5, gt=0, le=1)
    #: largest community for which networkx counts simple cycles (bounded length) and the diameter
    nx_max_membros: int = Field(400, ge=3)


    @field_validator("motif_janelas_h")
    @classmethod
    def _windows(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(not (w > 0) for w in v):
            raise ValueError("motif_janelas_h: a non-empty list of positive hours")
        return tuple(sorted(set(float(w) for w in v)))

    @property
    def motif_janela_max_s(self) -> float:
        """The largest motif window, seconds."""
        return max(self.motif_janelas_h) * 3600.0


class ScoringSettings(BaseSettings):
    """Decision thresholds shared by the streaming scorer and ``POST /v1/score`` (one definition)."""

    model_config = _cfg("PIXRING_SCORING_")

    #: model score at or above which a transaction goes to manual review
    review_threshold: float = Field(0.5, ge=0, le=1)
    #: model score at or above which a transaction is blocked
    block_threshold: float = Field(0.9, ge=0, le=1)
    #: Pix night rule (BCB Res. 142/2021): 20:00-06:00, R$ 1,000 per transaction for individuals by default
    night_limit: float = Field(1000.0, gt=0)
    #: velocity rule: this many payments received by the destination within 10 minutes
    velocity_10min: int = Field(5, ge=1)
    #: the ring rule needs the destination account's own GNN score at least this: ring candidates are broad
    #: (victims, busy new merchants), the account-level model tells their mules apart
    ring_member_min_score: float = Field(0.5, ge=0, le=1)


class StreamingSettings(BaseSettings):
    """The Structured Streaming scorer (``pixring stream``)."""

    model_config = _cfg("PIXRING_STREAMING_")

    trigger_seconds: float = Field(1.0, gt=0)
    max_offsets_per_trigger: int = Field(50_000, ge=1)
    #: the Delta sink query (scored topic -> gold/scored_transactions): its trigger and batch cap
    sink_trigger_seconds: float = Field(5.0, gt=0)
    sink_max_offsets_per_trigger: int = Field(200_000, ge=1)
    watermark: str = "10 minutes"
    #: the scorer's Prometheus endpoint (plain HTTP): loopback unless set
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9108, ge=1, le=65535)
    #: latest scored transactions over which feature/score PSI is computed against the training data
    drift_window: int = Field(20_000, ge=100)
    #: seconds between checks of the champion alias (reloaded when it moves)
    model_refresh_seconds: float = Field(30.0, gt=0)
    #: a transaction stamped more than this many seconds after the scorer's clock goes to the DLQ
    #: (``timestamp_futuro``) and never reaches the feature state
    max_future_seconds: float = Field(300.0, ge=0)
    #: a ``pix.transacoes`` value longer than this goes to the DLQ (``mensagem_grande``), cut to this length
    max_message_bytes: int = Field(65_536, ge=1_024, le=900_000)
    #: where the scorer's per-record work runs: ``driver`` (foreachBatch + toPandas, streaming.scorer) or
    #: ``executors`` (Spark operators + transformWithStateInPandas on RocksDB, streaming.executors)
    engine: Literal["driver", "executors"] = "driver"


class ApiSettings(_SecretFiles):
    """The FastAPI service: bind address, TLS, bearer tokens per role and signed JWTs (never logged), limits."""

    model_config = _cfg("PIXRING_API_")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    #: what runs ``workers`` > 1: gunicorn's arbiter with uvicorn workers, or pixring's own supervisor (api/cli.py)
    server: Literal["gunicorn", "supervisor"] = "gunicorn"
    #: on SIGTERM a worker's requests in flight get this long; a worker still alive then is killed (gunicorn: at
    #: this timeout rounded up to whole seconds; the supervisor: 5 s later)
    graceful_timeout_seconds: float = Field(30.0, gt=0)
    #: PEM certificate (chain) and key: the API serves HTTPS when both are set
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: static role tokens; outside local only ``token_service`` is accepted (investigators carry a JWT)
    token_service: SecretStr = _dev("PIXRING_API_TOKEN_SERVICE")
    token_investigator: SecretStr = _dev("PIXRING_API_TOKEN_INVESTIGATOR")
    token_investigator_pii: SecretStr = _dev("PIXRING_API_TOKEN_INVESTIGATOR_PII")
    #: HS256 key of the per-person bearer tokens minted by ``pixring token``
    jwt_secret: SecretStr = _dev("PIXRING_API_JWT_SECRET")
    jwt_issuer: str = "pixring"
    jwt_audience: str = "pixring-api"
    #: a JWT valid for longer than this (exp - iat) is refused, and ``pixring token`` mints none
    jwt_max_ttl_hours: float = Field(12.0, gt=0, le=24 * 31)
    #: request bodies above this many bytes get 413 before they are read
    max_body_bytes: int = Field(16_384, ge=256)
    #: look-ups by a clear value (``GET /v1/graph/chave/<clear key>``) per caller and minute, each audited
    clear_lookups_per_minute: int = Field(30, ge=1)
    max_nodes: int = Field(500, ge=1)
    max_edges: int = Field(2000, ge=1)
    #: seconds between checks of the champion alias and of the gold/silver tables behind the read model
    refresh_seconds: float = Field(60.0, gt=0)
    #: serve /v1/graph from an in-memory projection of Neo4j (api/graphproj.py); false: every hop from Neo4j
    graph_projection: bool = True
    #: seconds between checks of Neo4j's load marker and counts (the projection reloads when they move)
    graph_refresh_seconds: float = Field(10.0, gt=0)
    #: above this many relationships the projection is not built: each API worker holds its own copy,
    #: ~1.4 KB of Python objects per relationship with its share of nodes (207 MiB at scale 1's 147,172)
    graph_projection_max_relationships: int = Field(1_000_000, ge=0)
    #: cases an analyst team can work: ``GET /v1/cases/queue`` is cut to this many (by risk x value at risk)
    analyst_capacity: int = Field(25, ge=1, le=10_000)
    #: MED 2.0 requests (``/v1/med``): per-hop forwarding window (hours) and hop limit of the fund trace
    med_window_hours: float = Field(72.0, gt=0, le=24 * 80)
    med_max_hops: int = Field(4, ge=1, le=8)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


class PrometheusSettings(BaseSettings):
    """Prometheus run by ``pixring up`` (Debian's binary, our own config) and the Kafka JMX exporter port."""

    model_config = _cfg("PIXRING_PROMETHEUS_")

    host: str = "127.0.0.1"
    port: int = Field(9090, ge=1, le=65535)
    #: how often every target is scraped (short locally so a test sees a scrape within seconds)
    scrape_interval_seconds: float = Field(5.0, gt=0)
    retention: str = "7d"
    #: the JMX exporter java agent inside the Kafka broker serves broker metrics here
    kafka_exporter_port: int = Field(9404, ge=1, le=65535)
    binary: str = "/usr/bin/prometheus"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class RedisSettings(_SecretFiles):
    """The online store (:mod:`pixring.online`): Redis run by ``pixring up`` on loopback with a password and
    persistence under ``$PIXRING_HOME/redis``, or a remote one (``url`` ``rediss://host:port/db``, or host/port/tls)."""

    model_config = _cfg("PIXRING_REDIS_")

    #: the stream writes the per-key features to it and ``POST /v1/score`` reads them from it; false: the
    #: API's windows come from its in-memory read model (and the stream writes nothing)
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(6379, ge=1, le=65535)
    db: int = Field(0, ge=0)
    #: a remote store: ``redis://`` or ``rediss://`` (TLS); host/port/db/tls are then ignored
    url: str | None = None
    tls: bool = False
    username: str | None = None
    password: SecretStr = _dev("PIXRING_REDIS_PASSWORD")
    #: ``aof`` (append-only file, fsync every second) or ``rdb`` (snapshots) in ``$PIXRING_HOME/redis``
    persistence: Literal["aof", "rdb"] = "aof"
    maxmemory: str = "1gb"
    #: per-command timeout of the API's reads (a slower store is a degraded answer, not a slow one)
    read_timeout_seconds: float = Field(0.2, gt=0)
    #: the stream's writes: timeout, and the most pending micro-batches kept for replay while the store is down
    #: (beyond it the scorer waits for the store: back-pressure, never loss)
    write_timeout_seconds: float = Field(2.0, gt=0)
    max_pending_batches: int = Field(600, ge=1)
    #: wall-clock lifetime of a key's receipts / of its owner-score-risk entry after its last write
    receipts_ttl_seconds: int = Field(3 * 3600, ge=60)
    keys_ttl_seconds: int = Field(7 * 86_400, ge=60)
    #: ``POST /v1/score`` without the store: ``degrade`` (the features it has, ``degradado`` and the missing
    #: ones named in the answer) or ``unavailable`` (503)
    on_failure: Literal["degrade", "unavailable"] = "degrade"


class BrowserSettings(BaseSettings):
    """Neo4j Browser (the static app of ``org.neo4j.client:neo4j-browser``) served by ``pixring up``
    (:mod:`infra.browser`); it connects to Neo4j's Bolt port over WebSocket from the investigator's browser."""

    model_config = _cfg("PIXRING_BROWSER_")

    host: str = "127.0.0.1"
    #: Neo4j's own Browser port (the embedded DBMS runs no HTTP connector, so it is free)
    port: int = Field(7474, ge=1, le=65535)

    @property
    def url(self) -> str:
        # "localhost", not 127.0.0.1: the Browser fetches guides only from its allowlist (default
        # "guides.neo4j.com, localhost"), and the pixring guide is served by the same server
        host = "localhost" if self.host in ("127.0.0.1", "::1", "localhost") else self.host
        return f"http://{host}:{self.port}"


class Settings:
    """All settings, one typed object per service."""

    def __init__(self) -> None:
        self.paths = PathSettings()
        self.log = LogSettings()
        self.kafka = KafkaSettings()
        if self.kafka.tls and self.kafka.ssl_ca_location is None:  # the local broker's CA
            self.kafka.ssl_ca_location = str(self.paths.home / "kafka" / "tls" / "ca.pem")
        self.neo4j = Neo4jSettings()
        self.mlflow = MLflowSettings()
        self.spark = SparkSettings()
        self.security = SecuritySettings()
        self.lakehouse = LakehouseSettings()
        self.graph = GraphSettings()
        self.scoring = ScoringSettings()
        self.streaming = StreamingSettings()
        self.api = ApiSettings()
        self.prometheus = PrometheusSettings()
        self.redis = RedisSettings()
        self.browser = BrowserSettings()

    def __repr__(self) -> str:  # secrets stay masked (SecretStr)
        parts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Settings({parts})"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once."""
    return Settings()

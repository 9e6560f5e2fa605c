"""Typed settings, one object per service, read from the environment with a ``PIXRING_`` prefix.

Every endpoint (Kafka bootstrap, Spark master, Neo4j URI, MLflow URI, storage root) comes from here so
that the same code runs on a laptop and on a cluster. ``get_settings()`` validates at start-up.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _cfg(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", env_file=None)


class PathSettings(BaseSettings):
    """Where all state lives: ``PIXRING_HOME`` (default ``./var``)."""

    model_config = _cfg("PIXRING_")

    home: Path = Path("var")

    @field_validator("home")
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
        return self.home / "jars"

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

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or f"{self.host}:{self.port}"


class Neo4jSettings(BaseSettings):
    """Neo4j DBMS reached over Bolt, authentication always on."""

    model_config = _cfg("PIXRING_NEO4J_")

    host: str = "127.0.0.1"
    bolt_port: int = Field(7687, ge=1, le=65535)
    uri: str | None = None
    user: str = "neo4j"
    password: SecretStr = SecretStr("pixring-local-dev")
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


class MLflowSettings(BaseSettings):
    """MLflow tracking server (SQLite backend and local artifacts when run by ``pixring up``)."""

    model_config = _cfg("PIXRING_MLFLOW_")

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    tracking_uri: str | None = None
    experiment: str = "pixring"
    model_name: str = "pixring-mule-gnn"

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


class SecuritySettings(BaseSettings):
    """Secrets used to tokenise PII; never logged."""

    model_config = _cfg("PIXRING_")

    pii_secret: SecretStr = SecretStr("pixring-local-dev-pii-secret-change-me")


class Settings:
    """All settings, one typed object per service."""

    def __init__(self) -> None:
        self.paths = PathSettings()
        self.kafka = KafkaSettings()
        self.neo4j = Neo4jSettings()
        self.mlflow = MLflowSettings()
        self.spark = SparkSettings()
        self.security = SecuritySettings()

    def __repr__(self) -> str:  # secrets stay masked (SecretStr)
        parts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Settings({parts})"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once."""
    return Settings()

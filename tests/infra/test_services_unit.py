"""Bad input for `pixring up | down`: one clear error saying what and where the log is."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pixring.errors import PixringError


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch):
    from pixring.settings import Settings

    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIXRING_CACHE", str(tmp_path / "cache"))  # a bad jar group never lands in the shared cache
    return Settings()


def test_port_taken_is_one_clear_error(isolated_settings, monkeypatch) -> None:
    from infra.services import KafkaService

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        monkeypatch.setattr(isolated_settings.kafka, "port", port)
        svc = KafkaService(isolated_settings)
        with pytest.raises(PixringError) as err:
            svc.start()
    msg = str(err.value)
    assert f"127.0.0.1:{port} is taken" in msg and str(svc.log_file) in msg
    assert "\n" not in msg
    assert not svc.pid_file.exists()


def test_down_after_a_crash_cleans_the_stale_pid_file(isolated_settings) -> None:
    from infra.services import MLflowService

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    svc = MLflowService(isolated_settings)
    svc.pid_file.parent.mkdir(parents=True)
    svc.pid_file.write_text(str(dead.pid))
    assert svc.status().state == "stale"
    assert svc.stop() == "stale pid file removed"
    assert not svc.pid_file.exists()
    assert svc.status().state == "stopped"


def test_missing_java_is_reported(monkeypatch) -> None:
    from infra.services import java_bin

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PixringError, match="java not found"):
        java_bin()


def test_failed_jar_resolution_names_the_log(isolated_settings, tmp_path, monkeypatch) -> None:
    import infra.jars as jars

    pom = tmp_path / "bad" / "pom.xml"
    pom.parent.mkdir()
    pom.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>x</groupId><artifactId>bad</artifactId><version>1</version><packaging>pom</packaging>"
        "<dependencies><dependency><groupId>pixring.invalid</groupId><artifactId>nope</artifactId>"
        "<version>0.0.0</version></dependency></dependencies></project>"
    )
    monkeypatch.setitem(jars.GROUPS, "bad", jars.JarGroup("bad", pom))
    monkeypatch.setattr(jars, "get_settings", lambda: isolated_settings)
    with pytest.raises(PixringError) as err:
        jars.resolve("bad")
    log = isolated_settings.paths.logs / "mvn-bad.log"
    assert str(log) in str(err.value) and log.exists()
    assert not (isolated_settings.paths.jars / "bad").exists()


def test_unknown_service_name(isolated_settings) -> None:
    from infra.stack import Stack

    with pytest.raises(PixringError, match="unknown service"):
        Stack(isolated_settings).up(["zookeeper"])


def test_artifact_id_parsing() -> None:
    from infra.jars import artifact_id

    assert artifact_id("delta-spark_4.1_2.13-4.4.0.jar") == "delta-spark_4.1_2.13"
    assert artifact_id("zstd-jni-1.5.7-6.jar") == "zstd-jni"
    assert artifact_id("spark-sql-kafka-0-10_2.13-4.1.1.jar") == "spark-sql-kafka-0-10_2.13"


def test_settings_from_environment(monkeypatch, tmp_path) -> None:
    from pydantic import ValidationError

    from pixring.settings import KafkaSettings, Neo4jSettings, PathSettings

    monkeypatch.setenv("PIXRING_KAFKA_PORT", "19092")
    monkeypatch.setenv("PIXRING_HOME", str(tmp_path))
    assert KafkaSettings().bootstrap == "127.0.0.1:19092"
    assert PathSettings().home == Path(tmp_path).resolve()
    monkeypatch.setenv("PIXRING_NEO4J_PASSWORD", "short")
    with pytest.raises(ValidationError):
        Neo4jSettings()
    monkeypatch.setenv("PIXRING_KAFKA_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        KafkaSettings()

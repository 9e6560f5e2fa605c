"""Fixtures for the streaming tests: isolated homes (own lakehouse, checkpoints, topics, model name) that
reuse the session's Spark and jars, and a tiny gold world (keys, user scores, one ring).

``tests/streaming`` has no ``__init__.py``; make sure the real packages (not these folders as namespace
packages) are what ``import streaming`` / ``lakehouse`` find, and import the toy world as ``tests.streaming.world`` (a bare ``world`` would clash with other folders').
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT,):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
for _name in ("lakehouse", "datagen", "pixring", "streaming", "gnn", "graph"):
    _mod = sys.modules.get(_name)
    if _mod is not None and getattr(_mod, "__file__", None) is None:
        for _key in [k for k in sys.modules if k == _name or k.startswith(_name + ".")]:
            del sys.modules[_key]


@pytest.fixture
def stream_env(unique, tmp_path) -> dict[str, str]:
    """Unique topics, model name and metrics port for one test."""
    return {
        "PIXRING_KAFKA_TOPIC_TRANSACTIONS": f"test.tx.{unique}",
        "PIXRING_KAFKA_TOPIC_SCORED": f"test.scored.{unique}",
        "PIXRING_KAFKA_TOPIC_ALERTS": f"test.alerts.{unique}",
        "PIXRING_KAFKA_TOPIC_DLQ": f"test.dlq.{unique}",
        "PIXRING_MLFLOW_MODEL_NAME": f"pixring-test-stream-{unique}",
        "PIXRING_STREAMING_METRICS_PORT": str(free_port()),
        "PIXRING_STREAMING_TRIGGER_SECONDS": "0.2",
        "PIXRING_STREAMING_SINK_TRIGGER_SECONDS": "0.5",
    }

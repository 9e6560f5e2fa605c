"""GNN test fixtures: the tiny world (pure frames) and a scratch PIXRING_HOME with a test MLflow experiment."""

from __future__ import annotations

import pytest

from tests.gnn.world import make_world


@pytest.fixture(scope="session")
def world():
    return make_world("T")


@pytest.fixture(scope="module")
def gnn_settings(tmp_path_factory):
    """Settings on a scratch data root; MLflow runs go to a test experiment of the real server."""
    from pixring.settings import Settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIXRING_HOME", str(tmp_path_factory.mktemp("gnn-home")))
        mp.setenv("PIXRING_MLFLOW_EXPERIMENT", "pixring-tests")
        return Settings()

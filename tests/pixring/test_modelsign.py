"""Only signed model versions load (``pixring.modelsign``), in the API's holder and the stream's champion too: real
MLflow server, unique model names."""

from __future__ import annotations

import stat
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from pixring.errors import PixringError
from pixring.modelsign import (
    SHA_TAG,
    SIGNATURE_TAG,
    ModelRefused,
    intact_versions,
    load_verified,
    resign,
    sign_version,
)
from pixring.settings import MLflowSettings, PathSettings, SecuritySettings, Settings

pytestmark = [pytest.mark.mlflow]


class Times(mlflow.pyfunc.PythonModel):
    def __init__(self, k: float) -> None:
        self.k = k

    def predict(self, context, model_input, params=None):
        return np.asarray(model_input.iloc[:, 0], dtype=float) * self.k


@pytest.fixture
def reg(tmp_path, mlflow_uri):
    s = Settings()
    s.paths = PathSettings(home=tmp_path / "home")
    name = f"pixring-test-signing-{uuid.uuid4().hex[:10]}"
    s.mlflow = MLflowSettings(tracking_uri=mlflow_uri, model_name=name)
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_registry_uri(mlflow_uri)
    mlflow.set_experiment("pixring-tests-signing")
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)

    def register(k: float) -> str:
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=Times(k), registered_model_name=name,
                                           pip_requirements=["mlflow"])
        return str(info.registered_model_version)

    yield s, name, client, register
    client.delete_registered_model(name)


def test_unsigned_refused_signed_loads_from_a_private_copy(reg) -> None:
    s, name, client, register = reg
    v = register(2.0)
    with pytest.raises(ModelRefused, match="has no pixring signature"):
        load_verified(s, name, v)
    digest = sign_version(s, name, v)
    tags = client.get_model_version(name, v).tags
    assert tags[SHA_TAG] == digest and len(tags[SIGNATURE_TAG]) == 64
    model = load_verified(s, name, v)
    assert list(model.predict(pd.DataFrame({"x": [1.0, 3.0]}))) == [2.0, 6.0]
    (copy,) = (s.paths.run / "models").iterdir()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o700


def test_another_key_or_changed_artifacts_are_refused(reg) -> None:
    s, name, client, register = reg
    v1 = register(2.0)
    sign_version(s, name, v1)
    other = Settings()
    other.paths, other.mlflow = s.paths, s.mlflow
    other.security = SecuritySettings(model_signing_key="a-different-key-of-more-than-32-bytes")
    with pytest.raises(ModelRefused, match="signature does not verify"):
        load_verified(other, name, v1)
    # a version with other content wearing v1's tags: the digest gives it away
    v2 = register(1000.0)
    for tag in (SHA_TAG, SIGNATURE_TAG):
        client.set_model_version_tag(name, v2, tag, client.get_model_version(name, v1).tags[tag])
    with pytest.raises(ModelRefused, match="artifacts changed since registration"):
        load_verified(s, name, v2)


def test_only_intact_signed_versions_are_signed_again(reg) -> None:
    """What the erasure relies on: it re-signs only what was intact before it rewrote artifacts."""
    s, name, client, register = reg
    v1, v2, v3 = register(2.0), register(1000.0), register(3.0)
    sign_version(s, name, v1)
    for tag in (SHA_TAG, SIGNATURE_TAG):  # v2: other content wearing v1's tags; v3: never signed
        client.set_model_version_tag(name, v2, tag, client.get_model_version(name, v1).tags[tag])
    intact = intact_versions(s, frozenset({name}))
    assert intact == [(name, v1)]
    resign(s, intact)
    assert list(load_verified(s, name, v1).predict(pd.DataFrame({"x": [1.0]}))) == [2.0]
    for v, why in ((v2, "artifacts changed"), (v3, "has no pixring signature")):
        with pytest.raises(ModelRefused, match=why):
            load_verified(s, name, v)


def test_api_holder_and_stream_champion_refuse_an_unsigned_champion(reg) -> None:
    from api.scoring import ModelHolder
    from streaming.model import ChampionModel

    s, name, client, register = reg
    v = register(2.0)
    client.set_registered_model_alias(name, "champion", v)
    holder = ModelHolder(s.mlflow.uri, name, settings=s)
    assert holder.refresh() is False and not holder.ready
    assert "no pixring signature" in holder.error
    with pytest.raises(PixringError, match="no pixring signature"):
        ChampionModel(s).maybe_refresh(force=True)
    sign_version(s, name, v)
    holder = ModelHolder(s.mlflow.uri, name, settings=s)
    assert holder.refresh() is True and holder.version == v
    champion = ChampionModel(s)
    assert champion.maybe_refresh(force=True) and champion.version == v
    # a new unsigned champion: the stream keeps the signed one
    v2 = register(3.0)
    client.set_registered_model_alias(name, "champion", v2)
    assert champion.maybe_refresh(force=True) is False and champion.version == v
    assert champion.version_refused == v2

"""Registering a pyfunc as ``<name>@champion`` (tests and benches register the reference toy model)."""

from __future__ import annotations

import logging
from pathlib import Path

from pixring.settings import Settings

log = logging.getLogger(__name__)

TOY_MODEL_CODE = Path(__file__).with_name("toy_model.py")


def register_toy_model(settings: Settings, name: str, alias: str = "champion") -> str:
    """Log :mod:`streaming.toy_model` (models from code), register it as ``name`` and point ``alias`` at the
    new version; returns the version."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow.uri)
    mlflow.set_registry_uri(settings.mlflow.uri)
    mlflow.set_experiment(f"{settings.mlflow.experiment}-streaming")
    with mlflow.start_run(run_name=f"toy-{name}"):
        info = mlflow.pyfunc.log_model(name="model", python_model=str(TOY_MODEL_CODE),
                                       registered_model_name=name, pip_requirements=["mlflow", "pandas"])
    version = str(info.registered_model_version)
    from pixring.modelsign import sign_version

    sign_version(settings, name, version)  # pixring's own registration: loaders accept only signed versions
    MlflowClient().set_registered_model_alias(name, alias, version)
    log.info("registered %s version %s as @%s", name, version, alias)
    return version

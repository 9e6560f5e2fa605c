"""Every MLflow call of the GNN lives here: runs, metrics, artifacts, the registered pyfunc, aliases.

The registered model (``settings.mlflow.model_name`` unless a name is given) is a pyfunc (:class:`TxModel`)
honouring :mod:`gnn.serving`: ``predict(df[TX_FEATURES]) -> probability per row``. Its artifacts are the
transaction head (``head.pkl``) and the GNN checkpoint (``gnn.pt``, read by ``gnn embed``) and the per-user
scores of the run (``user_scores.parquet``, read by ``gnn evaluate``) and the training distribution of the
features and scores (``reference.json``, :mod:`gnn.drift`, read by the stream for PSI). A new version gets the alias
``challenger``; ``champion`` moves to it only when it beat the champion on the run's evaluation.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from gnn.serving import TX_DEFAULTS, TX_FEATURES

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
PIP_REQUIREMENTS = ["scikit-learn==1.9.1", "torch==2.15.0", "torch-geometric==2.8.1", "pandas", "numpy"]


class TxModel(mlflow.pyfunc.PythonModel):
    """The served model: the transaction head over TX_FEATURES (missing columns get TX_DEFAULTS)."""

    def load_context(self, context) -> None:
        with open(context.artifacts["head"], "rb") as fh:
            self.head = pickle.load(fh)
        self.gnn_path = context.artifacts.get("gnn")
        self.scores_path = context.artifacts.get("user_scores")
        #: the training distribution for drift (:mod:`gnn.drift`); empty for models registered before it
        self.reference: dict = {}
        if context.artifacts.get("reference"):
            with open(context.artifacts["reference"], encoding="utf-8") as fh:
                self.reference = json.load(fh)

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:  # noqa: ARG002 - mlflow's signature
        df = pd.DataFrame(model_input).copy()
        for c in TX_FEATURES:
            if c not in df:
                df[c] = TX_DEFAULTS[c]
        x = df[list(TX_FEATURES)].apply(pd.to_numeric, errors="coerce").fillna(pd.Series(TX_DEFAULTS))
        return self.head.predict_proba(x.to_numpy(dtype=float))[:, 1].astype(float)

    def predict_rows(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        """:meth:`predict` of rows given as floats in ``TX_FEATURES`` order, without pandas.

        The inline scorer's path (``POST /v1/score``, which predicts the requests that arrive together in one
        call): building and cleaning a DataFrame costs ~8 ms, and the head costs ~0.8 ms a call whether the
        call has 1 row or 16 (150 trees walked one by one). A NaN takes the feature's default, as in
        :meth:`predict`.

        Args:
            rows: ``n`` rows of ``len(TX_FEATURES)`` numbers.

        Returns:
            ``(n,)`` fraud probabilities.
        """
        width = len(TX_FEATURES)
        for values in rows:
            if len(values) != width:
                raise ValueError(f"expected {width} features, got {len(values)}")
        x = np.array([[TX_DEFAULTS[c] if v != v else v for c, v in zip(TX_FEATURES, map(float, values))]
                      for values in rows], dtype=float).reshape(len(rows), width)
        return self.head.predict_proba(x)[:, 1].astype(float)


def _setup(settings) -> MlflowClient:
    mlflow.set_tracking_uri(settings.mlflow.uri)
    mlflow.set_registry_uri(settings.mlflow.uri)
    return MlflowClient(tracking_uri=settings.mlflow.uri, registry_uri=settings.mlflow.uri)


class Run:
    """One MLflow run in ``settings.mlflow.experiment`` (a context manager)."""

    def __init__(self, settings, run_name: str) -> None:
        self.settings = settings
        self.run_name = run_name
        self.client = _setup(settings)
        self.run_id: str | None = None

    def __enter__(self) -> Run:
        mlflow.set_experiment(self.settings.mlflow.experiment)
        run = mlflow.start_run(run_name=self.run_name)
        self.run_id = run.info.run_id
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        mlflow.end_run(status="FAILED" if exc_type else "FINISHED")

    def log_params(self, params: dict[str, Any]) -> None:
        mlflow.log_params({k: str(v) for k, v in params.items()})

    def log_metrics(self, values: dict[str, float], step: int | None = None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}, step=step)

    def log_epoch(self, epoch: int, values: dict[str, float]) -> None:
        self.log_metrics({f"epoch_{k}": v for k, v in values.items()}, step=epoch)

    def log_report_artifacts(self, result) -> None:
        """PR curves (PNG when matplotlib is there), the model card, the per-user scores."""
        from gnn.report import model_card, pr_curve_png

        with tempfile.TemporaryDirectory() as tmp:
            png = pr_curve_png(result, Path(tmp) / "pr_curve.png")
            if png is not None:
                mlflow.log_artifact(str(png))
            card = Path(tmp) / "model_card.md"
            card.write_text(model_card(result), encoding="utf-8")
            mlflow.log_artifact(str(card))

    def register_model(self, name: str, result) -> str:
        """Log the pyfunc (head + GNN checkpoint + user scores + drift reference) with a signature; register it; return its version."""
        from mlflow.models import infer_signature

        with tempfile.TemporaryDirectory() as tmp:
            head, gnn, scores = Path(tmp) / "head.pkl", Path(tmp) / "gnn.pt", Path(tmp) / "user_scores.parquet"
            reference = Path(tmp) / "reference.json"
            reference.write_text(json.dumps(result.reference), encoding="utf-8")
            head.write_bytes(pickle.dumps(result.head))
            result.checkpoint.save(str(gnn))
            result.scores.to_parquet(scores, index=False)
            sample = result.tx_sample
            preds = result.head.predict_proba(sample.to_numpy(dtype=float))[:, 1] if len(sample) else np.zeros(0)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=TxModel(),
                artifacts={"head": str(head), "gnn": str(gnn), "user_scores": str(scores),
                           "reference": str(reference)},
                signature=infer_signature(sample, preds), input_example=sample.head(3) if len(sample) else None,
                pip_requirements=PIP_REQUIREMENTS, registered_model_name=name,
            )
        version = str(info.registered_model_version)
        from pixring.modelsign import sign_version

        sign_version(self.settings, name, version)  # the stream and the API load only signed versions
        self.client.set_model_version_tag(name, version, "run_id", self.run_id or "")
        self.client.set_model_version_tag(name, version, "gnn_pr_auc", f"{result.metrics['gnn_pr_auc']:.4f}")
        log.info("registered %s version %s", name, version)
        return version


def set_aliases(settings, name: str, version: str, champion: bool) -> None:
    client = _setup(settings)
    client.set_registered_model_alias(name, CHALLENGER, version)
    if champion:
        client.set_registered_model_alias(name, CHAMPION, version)


def alias_version(settings, name: str, alias: str = CHAMPION) -> str | None:
    """The version behind ``alias`` (None when the alias or the model does not exist)."""
    client = _setup(settings)
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def load_pyfunc(settings, name: str, version: str | None = None, alias: str = CHAMPION):
    """The pyfunc of a version (or the alias) once its signature verified (:func:`pixring.modelsign.load_verified`);
    returns ``(model, version)``."""
    from pixring.modelsign import load_verified
    from pixring.errors import PixringError

    _setup(settings)
    if version is None:
        version = alias_version(settings, name, alias)
        if version is None:
            raise PixringError(f"model {name!r} has no {alias!r} version: run `pixring gnn train` first")
    try:
        return load_verified(settings, name, version), version
    except MlflowException as exc:
        raise PixringError(f"cannot load model {name!r} version {version}: {exc}") from exc


def load_checkpoint(settings, name: str, version: str | None = None, alias: str = CHAMPION):
    """``(version, Checkpoint)`` of the GNN packaged with a registered version."""
    from gnn.checkpoint import Checkpoint

    model, version = load_pyfunc(settings, name, version, alias)
    return version, Checkpoint.load(model.unwrap_python_model().gnn_path)


def load_user_scores(settings, name: str, version: str | None = None, alias: str = CHAMPION) -> tuple[str, pd.DataFrame]:
    """``(version, per-user scores of its training run)``: gnn and baselines, the split columns."""
    model, version = load_pyfunc(settings, name, version, alias)
    return version, pd.read_parquet(model.unwrap_python_model().scores_path)


def champion_checkpoint(settings, name: str):
    """``(version, Checkpoint)`` of the current champion, or None when there is none."""
    if alias_version(settings, name, CHAMPION) is None:
        return None
    return load_checkpoint(settings, name, alias=CHAMPION)


def delete_model(settings, name: str) -> None:
    """Remove a registered model (tests clean their unique names up)."""
    try:
        _setup(settings).delete_registered_model(name)
    except MlflowException:
        pass

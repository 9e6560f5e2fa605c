"""The champion model: ``models:/<name>@champion`` loaded once, reloaded when the alias moves.

:meth:`ChampionModel.maybe_refresh` asks the registry (``MlflowClient.get_model_version_by_alias``) at most
every ``settings.streaming.model_refresh_seconds`` and loads the new version before it is used, so a batch
is always scored by one version, recorded in every row (``modelo_versao``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from gnn.serving import TX_FEATURES, model_uri
from pixring.errors import PixringError
from pixring.settings import Settings

log = logging.getLogger(__name__)

NO_MODEL = "none"


class ChampionModel:
    """Holds the loaded pyfunc and its registered version."""

    def __init__(self, settings: Settings, alias: str = "champion", required: bool = True) -> None:
        import mlflow

        self.settings = settings
        self.name = settings.mlflow.model_name
        self.alias = alias
        self.required = required
        self.version = NO_MODEL
        self.model = None
        #: the loaded version's training distribution (``gnn.drift``); empty when it has none
        self.reference: dict = {}
        self.loads = 0
        #: a version the registry points at that failed verification (not retried until the alias moves)
        self.version_refused: str | None = None
        self._checked = float("-inf")
        mlflow.set_tracking_uri(settings.mlflow.uri)
        mlflow.set_registry_uri(settings.mlflow.uri)

    def _alias_version(self) -> str | None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            return str(MlflowClient().get_model_version_by_alias(self.name, self.alias).version)
        except MlflowException as exc:
            log.warning("no %s@%s in the registry (%s)", self.name, self.alias, str(exc).splitlines()[0][:200])
            return None

    def maybe_refresh(self, force: bool = False) -> bool:
        """Check the alias (when due) and load the version it points at; True when a new model was loaded."""
        now = time.monotonic()
        if not force and now - self._checked < self.settings.streaming.model_refresh_seconds:
            return False
        self._checked = now
        version = self._alias_version()
        if version is None:
            if self.model is None and self.required:
                raise PixringError(f"no model {model_uri(self.name, self.alias)} in MLflow at "
                                   f"{self.settings.mlflow.uri} (train one, or run with --allow-no-model)")
            return False
        if version in (self.version, self.version_refused):
            return False
        from pixring.modelsign import ModelRefused

        try:
            self.load(version)  # the exact version the alias pointed at
        except ModelRefused as exc:
            if self.model is None and self.required:
                raise
            log.error("%s; still scoring with version %s", exc, self.version)
            self.version_refused = version
            return False
        return True

    def load(self, version: str) -> None:
        """Load ``version`` after its signature verified (:func:`pixring.modelsign.load_verified`); raises
        :class:`pixring.modelsign.ModelRefused` and keeps the current model when it does not verify."""
        from pixring.modelsign import load_verified

        self.model = load_verified(self.settings, self.name, version)
        try:
            self.reference = dict(getattr(self.model.unwrap_python_model(), "reference", None) or {})
        except Exception:  # noqa: BLE001 - not a python_model pyfunc: no drift reference
            self.reference = {}
        self.version = version
        self.loads += 1
        log.info("loaded %s version %s", self.name, version)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """One probability per row (0 for every row when no model is loaded: rules only)."""
        if self.model is None or features.empty:
            return np.zeros(len(features))
        out = self.model.predict(features.loc[:, list(TX_FEATURES)].astype("float64"))
        if isinstance(out, pd.DataFrame):
            out = out.iloc[:, 0]
        scores = np.asarray(out, dtype="float64").reshape(-1)
        if len(scores) != len(features):
            raise PixringError(f"model {self.name} v{self.version} returned {len(scores)} scores for "
                               f"{len(features)} rows")
        return np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)

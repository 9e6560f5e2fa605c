"""A tiny reference pyfunc honouring the :mod:`gnn.serving` contract (MLflow "models from code").

Used by the streaming tests and the speed bench to register a *real* model in the real MLflow registry
under their own name (``register_toy_model``); production scores with the GNN's champion. Its score is a
logistic of the contract features, so ring destinations and pass-through origins score high.
"""

from __future__ import annotations

import math

import mlflow.pyfunc
import pandas as pd

TOY_WEIGHTS = {"risco_anel_destino": 6.0, "score_destino": 4.0, "recebidos_10min_destino": 0.5,
               "repasse_origem": 2.0}
TOY_BIAS = -4.0


class ToyModel(mlflow.pyfunc.PythonModel):
    """``sigmoid(bias + sum(w * feature))`` over the contract columns."""

    def predict(self, context, model_input: pd.DataFrame, params=None):  # noqa: ARG002 - pyfunc signature
        z = pd.Series(TOY_BIAS, index=model_input.index, dtype="float64")
        for name, w in TOY_WEIGHTS.items():
            z = z + w * model_input[name].astype("float64")
        return 1.0 / (1.0 + (-z).map(math.exp))


mlflow.models.set_model(ToyModel())

"""A tiny real pyfunc honouring gnn.serving's contract, logged as "models from code" (``register_toy_model`` in
tests/helpers.py) by the API and streaming tests and the benches; production scores with the GNN's champion.

p = 0.02 + 0.95 * score_destino (clipped to [0, 1]); refuses a frame without exactly TX_FEATURES.
"""

import mlflow
import numpy as np

from gnn.serving import TX_FEATURES


class ToyModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if tuple(model_input.columns) != TX_FEATURES:
            raise ValueError(f"columns {list(model_input.columns)} != TX_FEATURES")
        return np.clip(0.02 + 0.95 * model_input["score_destino"].to_numpy(dtype=float), 0.0, 1.0)


mlflow.models.set_model(ToyModel())

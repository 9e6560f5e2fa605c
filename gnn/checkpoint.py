"""The trained GNN as saved with a registered model version: its weights, configuration, feature scaler
and threshold (:class:`Checkpoint`). Its own module so that :mod:`gnn.train` (which writes it) and
:mod:`gnn.tracking` (which loads it from the registry) do not import each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from gnn.data import Scaler
from gnn.model import HeteroSAGE


@dataclass
class Checkpoint:
    """What ``gnn embed`` needs to rebuild and run the trained GNN on the current gold graph."""

    state_dict: dict[str, Tensor]
    config: dict[str, Any]
    scaler: dict[str, Any]
    threshold: float
    in_dims: dict[str, int]
    edge_types: list[tuple[str, str, str]]
    edge_dim: int

    def save(self, path: str) -> None:
        torch.save(asdict(self), path)

    @classmethod
    def load(cls, path: str) -> Checkpoint:
        return cls(**torch.load(path, map_location="cpu", weights_only=False))

    def model(self) -> HeteroSAGE:
        c = self.config
        m = HeteroSAGE(self.in_dims, [tuple(e) for e in self.edge_types], self.edge_dim, c["hidden"],
                       c["num_layers"], c["dropout"], input_dropout=c.get("input_dropout", 0.0))
        m.load_state_dict(self.state_dict)
        m.eval()
        return m

    def scaler_obj(self) -> Scaler:
        return Scaler(**self.scaler)

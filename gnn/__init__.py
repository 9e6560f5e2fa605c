"""The GNN: a PyTorch Geometric model over the gold graph that embeds and flags mule accounts and rings."""

import os

# OpenMP threads spin while they wait: on a small shared machine that turns a 20 ms forward pass into 300 ms.
# Set before torch starts its thread pool (the submodules import torch lazily after this).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

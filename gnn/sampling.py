"""Mini-batch training without pyg-lib / torch-sparse: a heterogeneous neighbour sampler in plain torch.

PyG's ``NeighborLoader`` needs ``pyg-lib`` or ``torch-sparse`` (compiled extensions PyPI has no wheels for with
this torch build). :class:`NeighbourSampler` does the same job with torch ops only: per relation a CSR over
destination nodes, then per hop up to ``fanout`` random incoming edges for every frontier node; the batch is
the sampled subgraph with the seed users first, so the loss reads ``logits[:batch_size]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

EdgeType = tuple[str, str, str]


@dataclass
class _CSR:
    colptr: Tensor  # [N_dst + 1]
    src: Tensor  # [E] source of each edge, sorted by destination
    eid: Tensor  # [E] original edge id


def _csr(edge_index: Tensor, num_dst: int) -> _CSR:
    dst = edge_index[1]
    order = torch.argsort(dst, stable=True)
    counts = torch.bincount(dst, minlength=num_dst)
    colptr = torch.zeros(num_dst + 1, dtype=torch.long)
    colptr[1:] = torch.cumsum(counts, 0)
    return _CSR(colptr=colptr, src=edge_index[0][order], eid=order)


def _sample(csr: _CSR, nodes: Tensor, fanout: int, gen: torch.Generator) -> Tensor:
    """Edge ids: up to ``fanout`` random incoming edges of each node in ``nodes`` (all when ``fanout < 0``)."""
    start, end = csr.colptr[nodes], csr.colptr[nodes + 1]
    deg = end - start
    total = int(deg.sum())
    if total == 0:
        return torch.empty(0, dtype=torch.long)
    group = torch.repeat_interleave(torch.arange(len(nodes)), deg)
    offset = torch.arange(total) - torch.repeat_interleave(torch.cumsum(deg, 0) - deg, deg)
    pos = torch.repeat_interleave(start, deg) + offset
    if fanout >= 0:
        perm = torch.randperm(total, generator=gen)
        perm = perm[torch.argsort(group[perm], stable=True)]
        rank = torch.arange(total) - torch.repeat_interleave(torch.cumsum(deg, 0) - deg, deg)
        pos = pos[perm][rank < fanout]
    return csr.eid[pos]


class NeighbourSampler:
    """Iterates sampled subgraph batches around seed nodes of ``target`` type.

    Args:
        data: the full graph (``x`` per node type; ``edge_index`` / ``edge_attr`` per relation).
        fanouts: neighbours sampled per relation and hop, e.g. ``[10, 5]`` (one entry per layer; -1 = all).
        batch_size: seed nodes per batch.
        target: the seed node type.
        shuffle: shuffle the seeds each pass.
        seed: generator seed (fixed: the same batches every run).
    """

    def __init__(self, data: HeteroData, fanouts: list[int], batch_size: int = 1024, target: str = "usuario",
                 shuffle: bool = True, seed: int = 42) -> None:
        self.data = data
        self.fanouts = fanouts
        self.batch_size = batch_size
        self.target = target
        self.shuffle = shuffle
        self.gen = torch.Generator().manual_seed(seed)
        self.csr = {et: _csr(data[et].edge_index, data[et[2]].num_nodes) for et in data.edge_types}

    def sample(self, seeds: Tensor) -> HeteroData:
        """The subgraph of ``seeds`` (target type, listed first) and their sampled ``len(fanouts)``-hop neighbours.

        The batch carries ``n_id`` per node type (global ids) and ``batch_size`` (the number of seeds).
        """
        nodes: dict[str, list[Tensor]] = {t: [] for t in self.data.node_types}
        nodes[self.target].append(seeds)
        seen = {t: torch.zeros(self.data[t].num_nodes, dtype=torch.bool) for t in self.data.node_types}
        seen[self.target][seeds] = True
        frontier = {self.target: seeds}
        picked: dict[EdgeType, list[Tensor]] = {et: [] for et in self.data.edge_types}
        for fanout in self.fanouts:
            new: dict[str, list[Tensor]] = {}
            for et, csr in self.csr.items():
                src_t, _, dst_t = et
                if dst_t not in frontier or len(frontier[dst_t]) == 0:
                    continue
                eids = _sample(csr, frontier[dst_t], fanout, self.gen)
                if len(eids) == 0:
                    continue
                picked[et].append(eids)
                new.setdefault(src_t, []).append(self.data[et].edge_index[0][eids])
            frontier = {}
            for t, parts in new.items():
                cand = torch.unique(torch.cat(parts))
                cand = cand[~seen[t][cand]]
                seen[t][cand] = True
                nodes[t].append(cand)
                frontier[t] = cand
        batch = HeteroData()
        local: dict[str, Tensor] = {}
        for t in self.data.node_types:
            n_id = torch.cat(nodes[t]) if nodes[t] else torch.empty(0, dtype=torch.long)
            mapping = torch.full((self.data[t].num_nodes,), -1, dtype=torch.long)
            mapping[n_id] = torch.arange(len(n_id))
            local[t] = mapping
            batch[t].x = self.data[t].x[n_id]
            batch[t].n_id = n_id
        for et in self.data.edge_types:
            eids = torch.unique(torch.cat(picked[et])) if picked[et] else torch.empty(0, dtype=torch.long)
            ei = self.data[et].edge_index[:, eids]
            batch[et].edge_index = torch.stack([local[et[0]][ei[0]], local[et[2]][ei[1]]]) if len(eids) else \
                torch.empty(2, 0, dtype=torch.long)
            batch[et].edge_attr = self.data[et].edge_attr[eids]
        batch.batch_size = len(seeds)
        return batch

    def __iter__(self) -> Iterator[HeteroData]:
        n = self.data[self.target].num_nodes
        order = torch.randperm(n, generator=self.gen) if self.shuffle else torch.arange(n)
        for i in range(0, n, self.batch_size):
            yield self.sample(order[i:i + self.batch_size])

    def __len__(self) -> int:
        return (self.data[self.target].num_nodes + self.batch_size - 1) // self.batch_size

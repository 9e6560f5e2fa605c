"""The heterogeneous GraphSAGE model over users, keys and devices (PyTorch Geometric).

``EdgeSAGEConv`` is GraphSAGE with edge attributes: a node's new state is a linear map of its own state plus
the mean of its neighbours' messages, where a message is the neighbour's state plus a projection of the
edge attributes (counts, amounts, rejections, duration). An optional per-edge ``edge_mask`` multiplies each
message (all ones normally); its gradient is what :mod:`gnn.explain` reads to say which edges weighed most.
``HeteroSAGE`` stacks ``HeteroConv`` layers of it, one conv per relation, and scores the user nodes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, MessagePassing
from torch_geometric.utils import scatter

NodeType = str
EdgeType = tuple[str, str, str]


class EdgeSAGEConv(MessagePassing):
    """GraphSAGE (mean aggregation) with edge attributes and an optional edge mask.

    ``out_i = W_root x_i + W_nbr mean_{j in N(i)} m_ij (x_j + W_edge e_ij)`` (``m_ij`` = 1 without a mask)

    Args:
        in_src: feature size of the source nodes.
        in_dst: feature size of the destination nodes.
        out_channels: output size.
        edge_dim: edge attribute size.

    Shapes:
        x: ``(x_src [N_src, in_src], x_dst [N_dst, in_dst])``; edge_index ``[2, E]``; edge_attr ``[E, edge_dim]``;
        edge_mask ``[E]`` (optional); output ``[N_dst, out_channels]``.
    """

    def __init__(self, in_src: int, in_dst: int, out_channels: int, edge_dim: int) -> None:
        super().__init__(aggr="mean")
        self.lin_edge = nn.Linear(edge_dim, in_src, bias=False)
        self.lin_nbr = nn.Linear(in_src, out_channels)
        self.lin_root = nn.Linear(in_dst, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every weight."""
        super().reset_parameters()
        self.lin_edge.reset_parameters()
        self.lin_nbr.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(self, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor, edge_attr: Tensor,
                edge_mask: Tensor | None = None) -> Tensor:
        """Args: see the class docstring (a single ``x`` when source and destination types are the same).
        Returns ``[N_dst, out_channels]``."""
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        n_dst = x_dst.size(0)
        # mean_j m_ij (x_j + W e_ij) = mean_j m_ij x_j + W mean_j m_ij e_ij: the edge projection is applied
        # once per node instead of once per edge (same result, far less work on large graphs)
        agg = self.propagate(edge_index, x=(x_src, x_dst), edge_mask=edge_mask, size=(x_src.size(0), n_dst))
        e = edge_attr if edge_mask is None else edge_attr * edge_mask.view(-1, 1)
        agg_e = scatter(e, edge_index[1], dim=0, dim_size=n_dst, reduce="mean")
        return self.lin_nbr(agg + self.lin_edge(agg_e)) + self.lin_root(x_dst)

    def message(self, x_j: Tensor, edge_mask: Tensor | None) -> Tensor:  # type: ignore[override]
        return x_j if edge_mask is None else x_j * edge_mask.view(-1, 1)


class HeteroSAGE(nn.Module):
    """Users, keys and devices embedded by ``num_layers`` hetero GraphSAGE layers; a head scores users.

    Args:
        in_dims: input feature size per node type, e.g. ``{"usuario": 43, "chave": 25, "dispositivo": 9}``.
        edge_types: the relations ``(src_type, relation, dst_type)`` (reverse relations included).
        edge_dim: edge attribute size (the same for every relation).
        hidden: embedding size.
        num_layers: message-passing layers (hops).
        dropout: dropout between layers.
        target: the node type the head scores.
        input_dropout: dropout on the input features (training only): the model cannot lean on one feature
            (e.g. amounts) alone and learns the structural ones too.

    Shapes:
        ``forward(x_dict {t: [N_t, in_dims[t]]}, edge_index_dict {r: [2, E_r]}, edge_attr_dict {r: [E_r, edge_dim]})``
        returns ``(logits [N_target], embeddings {t: [N_t, hidden]})``.
    """

    def __init__(self, in_dims: dict[NodeType, int], edge_types: list[EdgeType], edge_dim: int, hidden: int = 64,
                 num_layers: int = 2, dropout: float = 0.2, target: NodeType = "usuario",
                 input_dropout: float = 0.0) -> None:
        super().__init__()
        self.input_dropout = input_dropout
        self.num_layers = num_layers
        self.node_types = sorted(in_dims)
        self.edge_types = [tuple(e) for e in edge_types]
        self.target = target
        self.dropout = dropout
        self.encoders = nn.ModuleDict({t: nn.Linear(d, hidden) for t, d in in_dims.items()})
        self.convs = nn.ModuleList([
            HeteroConv({e: EdgeSAGEConv(hidden, hidden, hidden, edge_dim) for e in self.edge_types}, aggr="sum")
            for _ in range(num_layers)
        ])
        self.norms = nn.ModuleList([
            nn.ModuleDict({t: nn.LayerNorm(hidden) for t in self.node_types}) for _ in range(num_layers)
        ])
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every weight."""
        for enc in self.encoders.values():
            enc.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        for norms in self.norms:
            for n in norms.values():
                n.reset_parameters()
        for m in self.head:
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(self, x_dict: dict[NodeType, Tensor], edge_index_dict: dict[EdgeType, Tensor],
                edge_attr_dict: dict[EdgeType, Tensor],
                edge_mask_dict: dict[EdgeType, Tensor] | None = None) -> tuple[Tensor, dict[NodeType, Tensor]]:
        """Returns the target nodes' logits ``[N_target]`` and every node's embedding ``{t: [N_t, hidden]}``."""
        h = {t: torch.relu(self.encoders[t](nn.functional.dropout(x, p=self.input_dropout, training=self.training)))
             for t, x in x_dict.items()}
        h0 = h[self.target]
        kwargs: dict[str, dict] = {"edge_attr_dict": edge_attr_dict}
        if edge_mask_dict is not None:
            kwargs["edge_mask_dict"] = edge_mask_dict
        for conv, norms in zip(self.convs, self.norms):
            out = conv(h, edge_index_dict, **kwargs)
            h = {t: norms[t](torch.relu(out[t]) + h[t]) if t in out else h[t] for t in h}
            h = {t: nn.functional.dropout(v, p=self.dropout, training=self.training) for t, v in h.items()}
        logits = self.head(torch.cat([h[self.target], h0], dim=-1)).view(-1)
        return logits, h

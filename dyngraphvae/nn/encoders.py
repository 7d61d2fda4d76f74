"""Snapshot encoders: node inputs, pluggable message passing, and the posterior head.

The temporal forecaster's approximate posterior (Problem 4, DESIGN.md) is

    q(Z_{t+1} | Z_t, G_{1:t+1}) = prod_v N(z_v; mu_v, diag sigma_v^2),
    (mu_v, sigma_v) = PosteriorHead(c_v^{t+1}, z_v^t),

where ``c^{t+1}`` is a recurrent summary of the GNN embeddings ``SnapshotEncoder(X_s, A_s)``,
``s <= t+1`` (the recurrence lives in the model). This module provides

* :class:`NodeInput`: the per-node input matrix of a snapshot (learned embeddings or one-hot
  identity for featureless graphs as in VGRNN, Hajiramezanali et al. 2019; raw features; or both);
* :class:`SnapshotEncoder`: a stack of PyG convolutions (GCN, GraphSAGE, GAT, GIN, GraphConv) that
  uses edge weights wherever the convolution can;
* :class:`PosteriorHead`: the MLP head returning ``Independent(Normal)`` that broadcasts over
  leading sample dimensions.
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Independent, Normal
from torch_geometric.nn import GATConv, GCNConv, GINConv, GraphConv, SAGEConv
from torch_geometric.typing import OptPairTensor, OptTensor  # noqa: F401 (propagate_type)
from torch_geometric.utils import to_torch_csr_tensor

ConvKind = Literal["gcn", "sage", "gat", "gin", "graphconv"]
NodeInputMode = Literal["learned", "identity", "features", "both"]

#: Convolutions :class:`SnapshotEncoder` knows, and how each one uses an edge weight ``w_uv``.
CONV_EDGE_WEIGHT_USE: dict[str, str] = {
    "gcn": "GCN normalisation D^-1/2 (A_w + I) D^-1/2 with weighted degrees (Kipf & Welling 2017)",
    "sage": "weighted mean aggregation mean_u w_uv x_u (GraphSAGE-mean, Hamilton et al. 2017)",
    "gat": "w_uv enters the attention logit through a learned edge embedding (edge_dim=1)",
    "gin": "weighted sum aggregation (1+eps) x_v + sum_u w_uv x_u (GIN, Xu et al. 2019)",
    "graphconv": "weighted sum aggregation W1 x_v + W2 sum_u w_uv x_u (Morris et al. 2019)",
}


class WeightedSAGEConv(SAGEConv):
    """GraphSAGE (mean aggregation) whose messages are scaled by edge weights.

    ``h_v = W_r x_v + W_l mean_{u in N(v)} w_uv x_u``; with ``edge_weight=None`` (or all ones) it is
    exactly PyG's :class:`~torch_geometric.nn.conv.SAGEConv`.
    """

    def forward(  # type: ignore[override]
        self, x: Tensor | OptPairTensor, edge_index: Tensor, edge_weight: Tensor | None = None
    ) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        if self.project and hasattr(self, "lin"):
            x = (self.lin(x[0]).relu(), x[1])
        # propagate_type: (x: OptPairTensor, edge_weight: OptTensor)
        out = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        out = self.lin_l(out)
        if self.root_weight and x[1] is not None:
            out = out + self.lin_r(x[1])
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:  # type: ignore[override]
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j


class WeightedGINConv(GINConv):
    """GIN whose neighbour sum is weighted: ``h_v = MLP((1 + eps) x_v + sum_u w_uv x_u)``.

    With ``edge_weight=None`` it is exactly PyG's :class:`~torch_geometric.nn.conv.GINConv`.
    """

    def forward(  # type: ignore[override]
        self, x: Tensor | OptPairTensor, edge_index: Tensor, edge_weight: Tensor | None = None
    ) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        # propagate_type: (x: OptPairTensor, edge_weight: OptTensor)
        out = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        if x[1] is not None:
            out = out + (1 + self.eps) * x[1]
        return self.nn(out)

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:  # type: ignore[override]
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j


def make_conv(kind: str, in_channels: int, out_channels: int, *, heads: int = 1) -> nn.Module:
    """Build one message-passing layer ``kind`` mapping ``in_channels -> out_channels``.

    Every returned layer is called as ``conv(x, edge_index, edge_weight)`` (see
    :data:`CONV_EDGE_WEIGHT_USE` for how the weight is used). To add a convolution, add a branch
    here and an entry in :data:`CONV_EDGE_WEIGHT_USE`; see ``docs/layers.md``.
    """
    if kind == "gcn":
        return GCNConv(in_channels, out_channels)
    if kind == "sage":
        return WeightedSAGEConv(in_channels, out_channels, aggr="mean")
    if kind == "gat":
        # concat=False averages the heads, so the width stays ``out_channels``.
        return GATConv(in_channels, out_channels, heads=heads, concat=False, edge_dim=1)
    if kind == "gin":
        mlp = nn.Sequential(
            nn.Linear(in_channels, out_channels), nn.ReLU(), nn.Linear(out_channels, out_channels)
        )
        return WeightedGINConv(mlp, train_eps=True)
    if kind == "graphconv":
        return GraphConv(in_channels, out_channels, aggr="add")
    raise ValueError(
        f"conv: unknown convolution {kind!r}; expected one of {sorted(CONV_EDGE_WEIGHT_USE)}"
    )


class _GATAdapter(nn.Module):
    """Calls GATConv with the edge weight as a one-dimensional edge attribute."""

    def __init__(self, conv: GATConv) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        # No weights means unit weights, as for every other convolution.
        if edge_weight is None:
            edge_weight = x.new_ones(edge_index.size(1))
        return self.conv(x, edge_index, edge_attr=edge_weight.view(-1, 1).to(x.dtype))

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()


class SnapshotEncoder(nn.Module):
    """Message passing over one snapshot ``(X_t, A_t)``: ``H = conv_L(... relu(conv_1(X, A)) ...)``.

    Args:
        in_channels: input width (e.g. :attr:`NodeInput.out_channels`).
        hidden_channels: width of the hidden layers.
        out_channels: width of the output embedding.
        conv: ``"gcn"`` (Kipf & Welling 2017), ``"sage"`` (Hamilton et al. 2017), ``"gat"``
            (Velickovic et al. 2018), ``"gin"`` (Xu et al. 2019) or ``"graphconv"``
            (Morris et al. 2019). Edge weights are used by all of them
            (:data:`CONV_EDGE_WEIGHT_USE`).
        num_layers: number of convolutions (>= 1); ReLU and dropout between them, none after
            the last.
        dropout: dropout probability on hidden activations.
        heads: attention heads for ``"gat"`` (averaged).
        sparse_matmul: build the (transposed, weighted) adjacency once per call as a
            ``torch.sparse_csr`` matrix and let every layer aggregate with one sparse-dense
            product instead of gather/scatter over ``edge_index`` (same result; about 1.7x faster
            on CPU at N = 1e5, degree 10). Edge weights are constants on this path (no gradient
            w.r.t. them). Not available for ``"gat"``, whose attention needs per-edge terms.
            Repeated edges are merged (weights summed) by the sparse matrix, which changes
            ``"sage"``'s mean (over distinct neighbours); ``TemporalGraph`` never has repeats.

    ``forward(x (N, in), edge_index (2, E), edge_weight (E,) | None) -> (N, out)``.
    ``edge_index`` follows PyG's convention: an undirected edge appears in both directions
    (``TemporalGraph[t]`` does this).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        conv: ConvKind = "gcn",
        num_layers: int = 2,
        dropout: float = 0.0,
        heads: int = 1,
        sparse_matmul: bool = False,
    ) -> None:
        super().__init__()
        if sparse_matmul and conv == "gat":
            raise ValueError("sparse_matmul=True is not available for conv='gat'")
        if num_layers < 1:
            raise ValueError(f"num_layers: must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {dropout}")
        self.in_channels, self.hidden_channels, self.out_channels = (
            in_channels, hidden_channels, out_channels,
        )
        self.conv_kind, self.num_layers, self.dropout = conv, num_layers, dropout
        self.sparse_matmul = sparse_matmul
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        layers = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layer = make_conv(conv, a, b, heads=heads)
            layers.append(_GATAdapter(layer) if conv == "gat" else layer)
        self.convs = nn.ModuleList(layers)

    def reset_parameters(self) -> None:
        for layer in self.convs:
            layer.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        if x.dim() != 2 or x.size(-1) != self.in_channels:
            raise ValueError(
                f"x: expected shape (N, {self.in_channels}), got {tuple(x.shape)}"
            )
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index: expected shape (2, E), got {tuple(edge_index.shape)}")
        if edge_weight is not None:
            if edge_weight.shape != (edge_index.size(1),):
                raise ValueError(
                    f"edge_weight: expected shape ({edge_index.size(1)},), "
                    f"got {tuple(edge_weight.shape)}"
                )
            edge_weight = edge_weight.to(x.dtype)
            if self.conv_kind == "gcn" and bool((edge_weight < 0).any()):
                # weighted degrees 1 + sum_u w_uv can be <= 0, and D^-1/2 is then NaN
                raise ValueError(
                    "edge_weight: GCN normalisation D^-1/2 (A_w + I) D^-1/2 needs non-negative "
                    f"weights, got min {float(edge_weight.min())}; drop signed weights "
                    "(load_dataset(..., weights=False)) or map them to [0, inf)"
                )
        adj: Tensor = edge_index
        if self.sparse_matmul:
            with warnings.catch_warnings():  # torch's "sparse CSR support is in beta" notices
                warnings.simplefilter("ignore", UserWarning)
                w = x.new_ones(edge_index.size(1)) if edge_weight is None else edge_weight.detach()
                adj = to_torch_csr_tensor(edge_index.flip(0), w, size=(x.size(0), x.size(0)))
            edge_weight = None  # carried by the sparse matrix
        h = x
        for i, layer in enumerate(self.convs):
            h = layer(h, adj, edge_weight)
            if i < len(self.convs) - 1:
                h = F.dropout(F.relu(h), p=self.dropout, training=self.training)
        return h

    def extra_repr(self) -> str:
        return (
            f"conv={self.conv_kind!r}, num_layers={self.num_layers}, dropout={self.dropout}, "
            f"sparse_matmul={self.sparse_matmul}"
        )


class NodeInput(nn.Module):
    """Per-node input matrix of a snapshot.

    Modes (VGRNN, Hajiramezanali et al. 2019, uses one-hot identity for featureless graphs):

    * ``"learned"``: a learned embedding ``E in R^{N x embedding_dim}`` (featureless graphs);
    * ``"identity"``: the one-hot identity ``I_N`` (``out_channels = N``; a first linear layer on it
      equals a learned embedding, so prefer ``"learned"`` beyond a few thousand nodes: the identity
      costs O(N^2) memory and is refused above ``max_identity_nodes``);
    * ``"features"``: the snapshot's features ``X_t`` as given (``out_channels = F``);
    * ``"both"``: ``[X_t, E]`` (``out_channels = F + embedding_dim``).

    ``forward(x (N, F) | None) -> (N, out_channels)``.
    """

    def __init__(
        self,
        num_nodes: int,
        num_features: int,
        embedding_dim: int,
        mode: NodeInputMode = "learned",
        max_identity_nodes: int = 20_000,
    ) -> None:
        super().__init__()
        if mode not in ("learned", "identity", "features", "both"):
            raise ValueError(
                f"mode: unknown node input {mode!r}; expected learned|identity|features|both"
            )
        if num_nodes < 1:
            raise ValueError(f"num_nodes: must be >= 1, got {num_nodes}")
        if mode in ("features", "both") and num_features < 1:
            raise ValueError(f"mode={mode!r} needs node features, but num_features={num_features}")
        if mode == "identity" and num_nodes > max_identity_nodes:
            raise ValueError(
                f"mode='identity' with num_nodes={num_nodes} would allocate an N x N input; "
                f"use mode='learned' (equivalent after the first linear layer) or raise "
                f"max_identity_nodes (={max_identity_nodes})"
            )
        self.num_nodes, self.num_features, self.mode = num_nodes, num_features, mode
        self.embedding = (
            nn.Embedding(num_nodes, embedding_dim) if mode in ("learned", "both") else None
        )
        if mode == "learned":
            self.out_channels = embedding_dim
        elif mode == "identity":
            self.out_channels = num_nodes
        elif mode == "features":
            self.out_channels = num_features
        else:
            self.out_channels = num_features + embedding_dim

    def reset_parameters(self) -> None:
        if self.embedding is not None:
            self.embedding.reset_parameters()

    def forward(self, x: Tensor | None = None) -> Tensor:
        if self.mode in ("features", "both"):
            if x is None:
                raise ValueError(f"NodeInput(mode={self.mode!r}): node features x are required")
            if x.dim() != 2 or x.shape != (self.num_nodes, self.num_features):
                raise ValueError(
                    f"x: expected shape ({self.num_nodes}, {self.num_features}), "
                    f"got {tuple(x.shape)}"
                )
        if self.mode == "features":
            return x
        if self.mode == "identity":
            device = x.device if x is not None else None
            return torch.eye(self.num_nodes, device=device)
        emb = self.embedding.weight
        if self.mode == "learned":
            return emb
        return torch.cat([x.to(emb.dtype), emb], dim=-1)

    def extra_repr(self) -> str:
        return f"num_nodes={self.num_nodes}, mode={self.mode!r}, out_channels={self.out_channels}"


class PosteriorHead(nn.Module):
    """MLP head for ``q(Z_{t+1} | Z_t, G_{1:t+1})``: a diagonal Normal per node.

    ``h_v = relu(W_c c_v + W_z z_v + b)``, ``mu_v = W_mu h_v``,
    ``sigma_v = softplus(W_sigma h_v) + min_scale``.

    ``forward(context (..., N, context_dim), z (..., N, latent_dim)) -> Independent(Normal)`` with
    batch shape the broadcast of the two leading shapes plus ``(N,)`` and event ``(latent_dim,)``.
    The first layer is split into ``W_c c`` and ``W_z z`` so that a context shared by ``S``
    samples (shape ``(N, c)``) is projected once and broadcast against ``z`` of shape
    ``(S, N, d)``: no loop over samples, no copy of the context.
    """

    def __init__(
        self, context_dim: int, latent_dim: int, hidden_dim: int, min_scale: float = 1e-4
    ) -> None:
        super().__init__()
        if min_scale <= 0:
            raise ValueError(f"min_scale: must be > 0, got {min_scale}")
        self.context_dim, self.latent_dim, self.min_scale = context_dim, latent_dim, min_scale
        self.context_proj = nn.Linear(context_dim, hidden_dim)
        self.latent_proj = nn.Linear(latent_dim, hidden_dim, bias=False)
        self.hidden = nn.Linear(hidden_dim, hidden_dim)
        self.loc = nn.Linear(hidden_dim, latent_dim)
        self.scale = nn.Linear(hidden_dim, latent_dim)

    def reset_parameters(self) -> None:
        for m in (self.context_proj, self.latent_proj, self.hidden, self.loc, self.scale):
            m.reset_parameters()

    def forward(self, context: Tensor, z: Tensor) -> Independent:
        if context.size(-1) != self.context_dim:
            raise ValueError(
                f"context: expected last dim {self.context_dim}, got shape {tuple(context.shape)}"
            )
        if z.size(-1) != self.latent_dim:
            raise ValueError(f"z: expected last dim {self.latent_dim}, got shape {tuple(z.shape)}")
        h = F.relu(self.context_proj(context) + self.latent_proj(z))
        h = F.relu(self.hidden(h))
        scale = F.softplus(self.scale(h)) + self.min_scale
        return Independent(Normal(self.loc(h), scale), 1)

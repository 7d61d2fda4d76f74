r"""Graph-conditioned generation: a graph CVAE with node-level latents.

Problem Set 2, Problems 1 and 4.

The CVAE of :mod:`dyngraphvae.models.cvae` (Sohn, Lee & Yan, NeurIPS 2015) with a graph as output
and either graph-level attributes or a graph as condition, built from the package's graph layers
(:class:`~dyngraphvae.nn.SnapshotEncoder`, :class:`~dyngraphvae.nn.NodeInput`,
:class:`~dyngraphvae.nn.PosteriorHead`, :class:`~dyngraphvae.nn.EdgeDecoder`,
:class:`~dyngraphvae.nn.GaussianFeatureDecoder`, :func:`~dyngraphvae.nn.adjacency_log_likelihood`).

Generative model over a graph ``G = (A, X)`` on ``N`` nodes, node latents ``Z ∈ R^{N×d}``::

    p(G, Z | y) = Π_v p(z_v | y) · Π_{u<v} Bern(A_uv; σ(s_uv)) · Π_v p(x_v | z_v)
    s_uv        = exp(a(y)) · s_dec(z_u, z_v) + b(y)    (EdgeDecoder score; gain a: attributes)

Conditions (``GraphCVAEConfig.condition``):

* ``"attributes"``: ``y ∈ R^C`` (e.g. requested number of communities ``k`` and density ``ρ``).
  The prior is a per-node Gaussian mixture with components shared by all nodes,
  ``p(z_v | y) = Σ_{c<K_max} π_c(y) N(z_v; μ_c, diag σ_c²)``; ``π(y) = softmax(MLP(y))`` and, when
  ``count_index`` is set, the logits of components ``c ≥ k = y[count_index]`` are masked, so the
  prior puts mass on the first ``k`` components only (stochastic block model: a component is a
  block). The means are initialised far apart: ``μ_c = spread · e_c`` (orthogonal, equidistant)
  when ``d ≥ K_max``.
* ``"graph"``: ``y`` is a conditioning graph ``G_c`` on the same nodes, encoded by its own
  ``NodeInput`` + ``SnapshotEncoder`` into node embeddings ``h^c_v`` (mean ``ḡ``). The prior is
  node-wise, ``p(z_v | G_c) = N(μ_p(h^c_v), diag σ_p²(h^c_v))``, and the edge offset is
  ``b(G_c) = logit ρ(G_c) + MLP(ḡ)`` (no gain), ``ρ(G_c)`` the density of ``G_c``. With
  ``G_c = G_t`` and target ``G_{t+1}`` this is a one-step conditional forecaster
  (:meth:`GraphCVAE.forecast_next`): ``Z ~ p(Z | G_t)``, ``P(A_uv = 1) = σ(s_uv)``.

Inference network: ``q(z_v | G, y) = N(μ_v, diag σ_v²)`` from a ``PosteriorHead`` on
``[SnapshotEncoder(G)_v, c_v(y)]``, with ``c_v`` the condition embedding (``MLP(y)`` broadcast to
the nodes, or ``h^c_v``). For graph conditions the mean is residual on the prior,
``μ_v = μ_p(h^c_v) + Δ_v`` (``residual_posterior``): the reconstruction gradient then reaches the
prior path ``G_c → μ_p → A`` (a graph autoencoder of ``G_{t+1}`` from ``G_t``, Kipf & Welling
2016), and the KL prices only the correction ``Δ`` (as in the ladder / NVAE parameterisations,
Sønderby et al. 2016; Vahdat & Kautz 2020).

Objectives::

    ELBO(G, y) = E_q[log p(A | Z, y) + log p(X | Z)] − KL(q(Z | G, y) || p(Z | y))
    L_K(G, y)  = E[log (1/K) Σ_k p(G, Z_k | y) / q(Z_k | G, y)],   Z_k ~ q     (Burda et al. 2016)

``ELBO = L_1 ≤ L_K ≤ log p(G | y)``. ``KL(q || mixture)`` has no closed form: the ELBO uses the
single-draw Monte Carlo estimate ``log q(Z) − log p(Z | y)`` at the reparameterised draws used for
the reconstruction (unbiased for the KL, and the resulting ELBO estimate is exactly the mean of the
importance log-weights). For the Gaussian prior of ``"graph"`` the KL is in closed form. As a
documented alternative regulariser, ``divergence="cs"`` uses the closed-form Cauchy–Schwarz
divergence (mixtures included); that objective is not a bound.

Edges are undirected and stored once; the adjacency term is the exact dense (``N ≤
dense_max_nodes``) or unbiased sparse estimator of :func:`~dyngraphvae.nn.adjacency_log_likelihood`.

SBM training data with a requested ``(k, ρ)``, the estimator of the number of communities and
the transition pairs of a temporal graph are in :mod:`dyngraphvae.data.graph_conditions`; the
training loop is :func:`dyngraphvae.training.fit_graph_cvae`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, MixtureSameFamily, Normal
from torch_geometric.data import Batch, Data

from dyngraphvae._config import ConfigBase
from dyngraphvae.distributions import gaussian_mixture, sample
from dyngraphvae.nn.adjacency import adjacency_log_likelihood
from dyngraphvae.nn.decoders import EdgeDecoder, GaussianFeatureDecoder
from dyngraphvae.nn.encoders import NodeInput, PosteriorHead, SnapshotEncoder
from dyngraphvae.objectives import RegularisedObjective, importance_weighted_bound
from dyngraphvae.objectives import divergence as _divergence

__all__ = [
    "GraphCVAE",
    "GraphCVAEConfig",
    "GraphCVAEOutput",
    "GraphSample",
    "batched_kmeans",
]

_CONDITIONS = ("attributes", "graph")
_MASKED_LOGIT = -1.0e4  # exp(-1e4) == 0 in float32/64: masked components get exactly zero weight


# --------------------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------------------
@dataclass
class GraphCVAEConfig(ConfigBase):
    """Hyper-parameters of :class:`GraphCVAE` (plain dataclass, JSON round trip).

    * ``num_nodes``: the fixed node count ``N`` of generated / observed graphs.
    * ``condition``: ``"attributes"`` (vector ``y`` of size ``condition_dim``) or ``"graph"``.
    * ``num_features``: node features modelled by a Gaussian decoder (0 = adjacency only); also
      the feature width of conditioning graphs when ``node_input`` uses features.
    * ``node_input``: :class:`~dyngraphvae.nn.NodeInput` mode (``"learned"`` embeddings by default).
    * ``encoder``/``num_layers``: convolution of the :class:`~dyngraphvae.nn.SnapshotEncoder`\\ s.
    * ``edge_decoder``: ``EdgeDecoder`` score (``"inner"``, ``"bilinear"``, ``"mlp"``).
    * ``max_components`` (``K_max``), ``count_index`` (entry of ``y`` holding the requested number
      of components, ``None``: learn ``π(y)`` unmasked), ``component_spread`` (initial ``‖μ_c‖``),
      ``component_scale`` (initial ``σ_c``), ``learn_components``: the mixture prior of
      ``"attributes"``.
    * ``mixture_weights``: ``"uniform"`` (``π_c(y) = 1/k`` on the allowed components; with a
      learned ``π(y)`` training tends to put every node in one component, an Erdős–Rényi fit) or
      ``"learned"`` (``softmax(MLP(y))``, masked).
    * ``cluster_context``: structured posterior (attributes only): ``c_v`` = k-means cluster
      (:func:`batched_kmeans`, ``cluster_iterations`` Lloyd steps) of node ``v``'s detached encoder
      embedding with ``k`` from ``y[count_index]`` (``K_max`` if unmasked); the head also sees
      one-hot ``c_v`` and the posterior mean is ``μ_{c_v} + Δ_v`` (the prior mean of the cluster's
      component plus the head output). Without it, training falls into the Erdős–Rényi saddle
      (every node gets the same latent, see ``docs/graph_cvae.md``).
    * ``condition_center``/``condition_scale``: ``y`` is standardised as
      ``(y − center) / scale`` before entering the networks (the mask uses the raw ``y``).
    * ``residual_posterior`` (graph condition only): the posterior mean is the conditional
      prior mean plus a correction, ``μ_q,v = μ_p,v(G_c) + Δ_v(G, G_c)``, so the reconstruction
      gradient trains the prior path ``G_c → μ_p → A`` directly and the KL only prices the
      correction. ``False``: ``μ_q,v = Δ_v`` (the ablation; it stays at the Erdős–Rényi saddle,
      forecast AUC ≈ 0.5, see ``docs/graph_cvae.md``).
    """

    num_nodes: int
    condition: str = "attributes"
    condition_dim: int = 2
    num_features: int = 0
    latent_dim: int = 8
    hidden_dim: int = 64
    embedding_dim: int = 32
    node_input: str = "learned"
    encoder: str = "gcn"
    num_layers: int = 2
    edge_decoder: str = "inner"
    max_components: int = 6
    count_index: int | None = 0
    component_spread: float = 2.0
    component_scale: float = 0.5
    learn_components: bool = True
    mixture_weights: str = "uniform"
    cluster_context: bool = True
    cluster_iterations: int = 15
    condition_center: list[float] | None = None
    condition_scale: list[float] | None = None
    residual_posterior: bool = True
    adjacency: str = "auto"
    num_negatives: int | None = None
    min_scale: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("num_nodes", "latent_dim", "hidden_dim", "embedding_dim", "num_layers",
                     "max_components"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"GraphCVAEConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_nodes < 2:
            raise ValueError(f"GraphCVAEConfig.num_nodes must be >= 2, got {self.num_nodes}")
        if self.condition not in _CONDITIONS:
            raise ValueError(
                f"GraphCVAEConfig.condition must be one of {_CONDITIONS}, got {self.condition!r}"
            )
        if self.num_features < 0:
            raise ValueError(f"GraphCVAEConfig.num_features must be >= 0, got {self.num_features}")
        if self.condition == "attributes":
            if self.condition_dim < 1:
                raise ValueError("GraphCVAEConfig.condition_dim must be >= 1 for attributes")
            if self.count_index is not None and not 0 <= self.count_index < self.condition_dim:
                raise ValueError(
                    f"GraphCVAEConfig.count_index must lie in [0, {self.condition_dim}) or be "
                    f"None, got {self.count_index}"
                )
            for name in ("condition_center", "condition_scale"):
                v = getattr(self, name)
                if v is not None and len(v) != self.condition_dim:
                    raise ValueError(
                        f"GraphCVAEConfig.{name} must have condition_dim={self.condition_dim} "
                        f"entries, got {len(v)}"
                    )
            if self.condition_scale is not None and any(s <= 0 for s in self.condition_scale):
                raise ValueError("GraphCVAEConfig.condition_scale entries must be > 0")
        if self.mixture_weights not in ("uniform", "learned"):
            raise ValueError(
                "GraphCVAEConfig.mixture_weights must be 'uniform' or 'learned', got "
                f"{self.mixture_weights!r}"
            )
        if self.component_spread <= 0 or self.component_scale <= 0 or self.min_scale <= 0:
            raise ValueError("GraphCVAEConfig: component_spread, component_scale, min_scale > 0")


# --------------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphCVAEOutput:
    """Terms of :meth:`GraphCVAE.elbo`; per-graph tensors have shape ``(B,)``.

    ``edge_ll``/``feature_ll``: Monte Carlo ``E_q[log p(A|Z,y)]``, ``E_q[log p(X|Z)]`` (0 without
    features); ``kl``: ``KL(q || p)`` summed over nodes (closed form for a Gaussian prior, else
    the sample estimate ``log q(Z) − log p(Z|y)`` at the same draws); ``elbo = edge_ll +
    feature_ll − kl``; ``divergence`` of kind ``divergence_kind`` enters ``objective =
    edge_ll + feature_ll − kl_weight · divergence`` and ``loss = −mean(objective) / N``.
    """

    elbo: Tensor
    objective: Tensor
    loss: Tensor
    edge_ll: Tensor
    feature_ll: Tensor
    kl: Tensor
    divergence: Tensor
    divergence_kind: str
    z: Tensor
    posterior: Distribution
    prior: Distribution


class GraphSample(NamedTuple):
    """Sampled graphs: ``z (S, B, N, d)``, ``edge_prob (S, B, N, N)`` (zero diagonal, symmetric),
    ``adjacency (S, B, N, N)`` bool symmetric without self-loops, ``x (S, B, N, F)`` or ``None``.
    :meth:`GraphCVAE.forecast_next` drops the ``B`` axis."""

    z: Tensor
    edge_prob: Tensor
    adjacency: Tensor
    x: Tensor | None


class _Condition(NamedTuple):
    node_context: Tensor  # (B, N, c) context of the posterior head
    prior: Distribution  # batch (B, N), event (d,)
    gain: Tensor  # (B,) log-gain a(y)
    offset: Tensor  # (B,) offset b(y)
    num_clusters: Tensor | None  # (B,) k of the cluster context (attributes), else None


class _ConditionedScorer:
    """``s_uv = exp(a) · s_dec(z_u, z_v) + b`` with a per-graph gain/offset (``PairScorer``)."""

    def __init__(self, decoder: EdgeDecoder, log_gain: Tensor, offset: Tensor) -> None:
        self.decoder, self.log_gain, self.offset = decoder, log_gain, offset

    def logits(self, z: Tensor, pairs: Tensor) -> Tensor:
        return self.log_gain.exp()[..., None] * self.decoder.logits(z, pairs) + self.offset[
            ..., None
        ]

    def dense_logits(self, z: Tensor) -> Tensor:
        s = self.decoder.dense_logits(z)
        return self.log_gain.exp()[..., None, None] * s + self.offset[..., None, None]


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


def _canonical_edges(edge_index: Tensor, n: int, where: str) -> Tensor:
    """Undirected edges once, ``u < v``, without self-loops; both PyG directions accepted."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"{where}: edge_index must have shape (2, E), got {tuple(edge_index.shape)}"
        )
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
        raise ValueError(f"{where}: node ids must lie in [0, {n})")
    u = torch.minimum(edge_index[0], edge_index[1]).long()
    v = torch.maximum(edge_index[0], edge_index[1]).long()
    keep = u != v
    keys = torch.unique(u[keep] * n + v[keep])
    return torch.stack([keys // n, keys % n])


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------
class GraphCVAE(nn.Module):
    r"""Graph CVAE ``p(Z|y) p(A|Z,y) p(X|Z)`` with ``q(Z | G, y)`` (see the module docstring).

    Graphs are PyG :class:`~torch_geometric.data.Data` with ``num_nodes = N`` and an undirected
    ``edge_index`` (both directions as in PyG, or once); ``x (N, F)`` when features are modelled or
    used as encoder input. A batch is a sequence of ``Data``. Conditions: a tensor ``(B, C)`` (or
    ``(C,)`` for one graph) for ``"attributes"``; a ``Data`` or a sequence of ``B`` ``Data`` for
    ``"graph"``.
    """

    def __init__(self, config: GraphCVAEConfig) -> None:
        super().__init__()
        c = self.config = config
        n, h, d = c.num_nodes, c.hidden_dim, c.latent_dim
        self.node_input = NodeInput(n, c.num_features, c.embedding_dim, mode=c.node_input)
        self.encoder = SnapshotEncoder(
            self.node_input.out_channels, h, h, conv=c.encoder, num_layers=c.num_layers
        )
        if c.condition == "attributes":
            ctx = h + (c.max_components if c.cluster_context else 0)
            self.condition_net = _mlp(c.condition_dim, h, h)
            self.mixture_logits = (
                _mlp(c.condition_dim, h, c.max_components)
                if c.mixture_weights == "learned"
                else None
            )
            self.edge_calibration = _mlp(c.condition_dim, h, 2)
            loc = self._initial_means(c.max_components, d, c.component_spread)
            log_var = torch.full((c.max_components, d), 2.0 * math.log(c.component_scale))
            if c.learn_components:
                self.component_loc = nn.Parameter(loc)
                self.component_log_var = nn.Parameter(log_var)
            else:
                self.register_buffer("component_loc", loc)
                self.register_buffer("component_log_var", log_var)
            center = torch.tensor(c.condition_center or [0.0] * c.condition_dim)
            scale = torch.tensor(c.condition_scale or [1.0] * c.condition_dim)
            self.register_buffer("condition_center", center)
            self.register_buffer("condition_scale", scale)
        else:
            self.condition_input = NodeInput(n, c.num_features, c.embedding_dim, mode=c.node_input)
            self.condition_encoder = SnapshotEncoder(
                self.condition_input.out_channels, h, h, conv=c.encoder, num_layers=c.num_layers
            )
            ctx = h
            self.prior_head = PosteriorHead(h, d, h, min_scale=c.min_scale)
            self.edge_calibration = _mlp(h, h, 1)
        self.posterior_head = PosteriorHead(h + ctx, d, h, min_scale=c.min_scale)
        self.edge_decoder = EdgeDecoder(d, kind=c.edge_decoder, directed=False, hidden_dim=h)
        self.feature_decoder = (
            GaussianFeatureDecoder(d, c.num_features, h, min_scale=c.min_scale)
            if c.num_features > 0
            else None
        )

    @staticmethod
    def _initial_means(k: int, d: int, spread: float) -> Tensor:
        """``spread · e_c`` (orthogonal, pairwise distance ``spread·√2``) if ``d ≥ k``; otherwise
        ``k`` random directions of norm ``spread`` (seeded from the global RNG)."""
        if d >= k:
            return spread * torch.eye(k, d)
        v = torch.randn(k, d)
        return spread * v / v.norm(dim=-1, keepdim=True)

    # ------------------------------------------------------------------------------ inputs
    def _graphs(self, graphs: Data | Sequence[Data], where: str) -> list[Data]:
        gs = [graphs] if isinstance(graphs, Data) else list(graphs)
        if not gs:
            raise ValueError(f"{where}: empty batch of graphs")
        n = self.config.num_nodes
        for i, g in enumerate(gs):
            if not isinstance(g, Data):
                raise TypeError(f"{where}[{i}]: expected a torch_geometric Data, got {type(g)}")
            if g.num_nodes != n:
                raise ValueError(f"{where}[{i}]: num_nodes={g.num_nodes}, the model has N={n}")
        return gs

    def _embed(self, gs: list[Data], node_input: NodeInput, encoder: SnapshotEncoder) -> Tensor:
        """``SnapshotEncoder`` embeddings ``(B, N, H)`` of a batch (one disjoint-union pass)."""
        n = self.config.num_nodes
        dtype = next(encoder.parameters()).dtype
        x = torch.cat([node_input(getattr(g, "x", None)) for g in gs]).to(dtype)
        batch = Batch.from_data_list([Data(edge_index=g.edge_index, num_nodes=n) for g in gs])
        return encoder(x, batch.edge_index.to(x.device)).reshape(len(gs), n, -1)

    def _density_logit(self, gs: list[Data]) -> Tensor:
        """``logit ρ(G)`` per graph, ``ρ = |E| / (N(N−1)/2)`` clamped to ``[1/M, 1 − 1/M]``."""
        n = self.config.num_nodes
        m = n * (n - 1) / 2
        counts = [_canonical_edges(g.edge_index, n, f"condition[{i}]").size(1)
                  for i, g in enumerate(gs)]  # one count per graph of the batch
        e = torch.tensor(counts, dtype=torch.float64)
        return torch.logit((e / m).clamp(1 / m, 1 - 1 / m)).float()

    def _normalise(self, y: Tensor) -> Tensor:
        return (y - self.condition_center) / self.condition_scale

    def _attributes(self, y: Tensor, batch: int | None, where: str) -> Tensor:
        if not isinstance(y, Tensor):
            raise TypeError(
                f"{where}: condition must be a tensor (B, C) for condition='attributes'"
            )
        y = y.unsqueeze(0) if y.dim() == 1 else y
        c = self.config.condition_dim
        if y.dim() != 2 or y.size(-1) != c:
            raise ValueError(f"{where}: condition must have shape (B, {c}), got {tuple(y.shape)}")
        if batch is not None and y.size(0) != batch:
            raise ValueError(f"{where}: {y.size(0)} conditions for {batch} graphs")
        if not torch.isfinite(y).all():
            raise ValueError(f"{where}: condition has non-finite entries")
        return y.to(self.condition_center.dtype)

    def component_mask(self, y: Tensor) -> Tensor:
        """Bool ``(B, K_max)``: components allowed by ``k = round(y[count_index])`` (all allowed
        if ``count_index`` is ``None``). ``k`` must lie in ``[1, K_max]``."""
        c = self.config
        y = self._attributes(y, None, "component_mask")
        if c.count_index is None:
            return torch.ones(y.size(0), c.max_components, dtype=torch.bool, device=y.device)
        k = torch.round(y[:, c.count_index]).long()
        if bool(((k < 1) | (k > c.max_components)).any()):
            raise ValueError(
                f"condition[:, {c.count_index}] (number of components) must lie in "
                f"[1, {c.max_components}], got {y[:, c.count_index].tolist()}"
            )
        return torch.arange(c.max_components, device=y.device)[None, :] < k[:, None]

    def conditional_prior(self, condition: Tensor | Data | Sequence[Data]) -> Distribution:
        """``p(Z | y)``: batch ``(B, N)``, event ``(d,)``: mixture or Normal."""
        return self._condition(condition, None).prior

    def _condition(self, condition, batch: int | None) -> _Condition:
        c = self.config
        n = c.num_nodes
        if c.condition == "attributes":
            y = self._attributes(condition, batch, "condition")
            yn = self._normalise(y)
            b = y.size(0)
            emb = self.condition_net(yn)  # (B, H)
            logits = (
                yn.new_zeros(b, c.max_components)
                if self.mixture_logits is None
                else self.mixture_logits(yn)
            ).masked_fill(~self.component_mask(y), _MASKED_LOGIT)
            k = c.max_components
            prior = gaussian_mixture(
                logits[:, None, :].expand(b, n, k),
                self.component_loc.expand(b, n, k, c.latent_dim),
                self.component_log_var.expand(b, n, k, c.latent_dim),
            )
            cal = self.edge_calibration(yn)
            return _Condition(
                emb[:, None, :].expand(b, n, emb.size(-1)), prior, cal[:, 0], cal[:, 1],
                self.component_mask(y).sum(-1),
            )
        gs = self._graphs(condition, "condition")
        if batch is not None and len(gs) != batch:
            raise ValueError(f"condition: {len(gs)} conditioning graphs for {batch} graphs")
        hc = self._embed(gs, self.condition_input, self.condition_encoder)  # (B, N, H)
        pooled = hc.mean(-2)  # (B, H)
        # node-wise prior from the node's own embedding only: with the pooled ḡ in the context
        # the prior mean picked up a node-independent part and training drifted to the
        # Erdős–Rényi saddle in 1 of 3 seeds (docs/graph_cvae.md)
        prior = self.prior_head(hc, hc.new_zeros(hc.shape[:-1] + (c.latent_dim,)))
        # graph condition: offset only (a learned gain shrank to 0 and the prior stopped learning),
        # anchored at the log-odds of the conditioning graph's density
        offset = self.edge_calibration(pooled).squeeze(-1) + self._density_logit(gs).to(hc)
        return _Condition(hc, prior, torch.zeros_like(offset), offset, None)

    def posterior(self, graphs: Data | Sequence[Data], condition) -> Independent:
        """``q(Z | G, y)``: batch ``(B, N)``, event ``(d,)``."""
        return self._posterior(self._graphs(graphs, "graphs"), self._condition(condition, None))

    def _posterior(self, gs: list[Data], cond: _Condition) -> Independent:
        if cond.node_context.size(0) != len(gs):
            raise ValueError(f"{len(gs)} graphs but {cond.node_context.size(0)} conditions")
        h = self._embed(gs, self.node_input, self.encoder)
        parts = [h, cond.node_context]
        if self.config.condition == "attributes" and self.config.cluster_context:
            labels = batched_kmeans(
                h.detach(), cond.num_clusters, self.config.max_components,
                self.config.cluster_iterations,
            )
            onehot = F.one_hot(labels, self.config.max_components).to(h.dtype)
            parts.append(onehot)
        ctx = torch.cat(parts, dim=-1)
        q = self.posterior_head(ctx, ctx.new_zeros(ctx.shape[:-1] + (self.config.latent_dim,)))
        if self.config.condition == "attributes" and self.config.cluster_context:
            # mean = μ_{c_v} + Δ(h_v, y, c_v): start each node on its cluster's prior component
            base = q.base_dist
            return Independent(Normal(base.loc + onehot @ self.component_loc, base.scale), 1)
        if self.config.condition == "graph" and self.config.residual_posterior:
            # mean = μ_p,v(G_c) + Δ_v(G, G_c): the prior path G_c -> μ_p -> A gets the
            # reconstruction gradient, and KL(q || p) prices only the correction Δ
            base = q.base_dist
            return Independent(Normal(base.loc + cond.prior.base_dist.loc, base.scale), 1)
        return q

    # ------------------------------------------------------------------------------ likelihood
    def _log_likelihood(
        self, gs: list[Data], cond: _Condition, z: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        """``log p(A_b | Z_b, y_b)``, ``log p(X_b | Z_b)``, each ``(S, B)`` for ``z (S,B,N,d)``."""
        c = self.config
        n = c.num_nodes
        edge = []
        for b, g in enumerate(gs):  # one adjacency evaluator call per graph of the batch
            scorer = _ConditionedScorer(self.edge_decoder, cond.gain[b], cond.offset[b])
            edges = _canonical_edges(g.edge_index, n, f"graphs[{b}]").to(z.device)
            edge.append(
                adjacency_log_likelihood(
                    scorer, z[:, b], edges, n, False, method=c.adjacency,
                    num_negatives=c.num_negatives, generator=generator, validate=False,
                )
            )
        edge_ll = torch.stack(edge, dim=-1)
        if self.feature_decoder is None:
            return edge_ll, torch.zeros_like(edge_ll)
        xs = []
        for b, g in enumerate(gs):
            if getattr(g, "x", None) is None or g.x.shape != (n, c.num_features):
                raise ValueError(f"graphs[{b}]: node features x of shape ({n}, {c.num_features}) "
                                 "are required (num_features > 0)")
            xs.append(g.x)
        x = torch.stack(xs).to(z.dtype)  # (B, N, F)
        return edge_ll, self.feature_decoder(z).log_prob(x).sum(-1)

    # ------------------------------------------------------------------------------ objectives
    def elbo(
        self,
        graphs: Data | Sequence[Data],
        condition,
        *,
        num_samples: int = 1,
        kl_weight: float = 1.0,
        divergence: str = "kl",
        generator: torch.Generator | None = None,
    ) -> GraphCVAEOutput:
        r"""``E_q[log p(A|Z,y) + log p(X|Z)] − kl_weight · D(q(Z|G,y) || p(Z|y))``, per graph.

        ``divergence="kl"``: closed form for the Gaussian prior, otherwise the Monte Carlo
        estimate ``mean_s Σ_v [log q(z_v^s) − log p(z_v^s | y)]`` at the same ``num_samples``
        draws. ``"cs"``: Cauchy–Schwarz divergence summed over nodes (closed form for mixtures;
        the objective is then not a bound — ``elbo`` is still reported with the KL).
        """
        if num_samples < 1:
            raise ValueError(f"elbo: num_samples must be >= 1, got {num_samples}")
        kind = divergence.lower()
        if kind not in ("kl", "cs"):
            raise ValueError(f"elbo: divergence must be 'kl' or 'cs', got {divergence!r}")
        gs = self._graphs(graphs, "graphs")
        cond = self._condition(condition, len(gs))
        q = self._posterior(gs, cond)
        p = cond.prior
        z = sample(q, num_samples, generator=generator)  # (S, B, N, d)
        edge_ll, feat_ll = self._log_likelihood(gs, cond, z, generator)
        edge_ll, feat_ll = edge_ll.mean(0), feat_ll.mean(0)
        if isinstance(p, MixtureSameFamily):
            kl = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
        else:
            kl = _divergence(q, p, "kl").sum(-1)
        div = kl if kind == "kl" else _divergence(q, p, "cs").sum(-1)  # summed over nodes
        objective = RegularisedObjective(kind, float(kl_weight))(
            edge_ll + feat_ll, divergence=div).objective
        return GraphCVAEOutput(
            elbo=edge_ll + feat_ll - kl,
            objective=objective,
            loss=-objective.mean() / self.config.num_nodes,
            edge_ll=edge_ll,
            feature_ll=feat_ll,
            kl=kl,
            divergence=div,
            divergence_kind=kind,
            z=z,
            posterior=q,
            prior=p,
        )

    def log_weights(
        self,
        graphs: Data | Sequence[Data],
        condition,
        num_samples: int,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""``log p(G | Z_k, y) + log p(Z_k | y) − log q(Z_k | G, y)``, ``Z_k ~ q``: ``(K, B)``."""
        gs = self._graphs(graphs, "graphs")
        cond = self._condition(condition, len(gs))
        q = self._posterior(gs, cond)
        z = sample(q, num_samples, generator=generator)
        edge_ll, feat_ll = self._log_likelihood(gs, cond, z, generator)
        return edge_ll + feat_ll + (cond.prior.log_prob(z) - q.log_prob(z)).sum(-1)

    def iw_bound(
        self,
        graphs: Data | Sequence[Data],
        condition,
        num_samples: int,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Importance-weighted bound ``L_K`` on ``log p(G | y)``, ``(B,)`` (differentiable)."""
        return importance_weighted_bound(
            self.log_weights(graphs, condition, num_samples, generator=generator), dim=0
        )

    @torch.no_grad()
    def log_likelihood(
        self,
        graphs: Data | Sequence[Data],
        condition,
        num_samples: int = 500,
        chunk_size: int = 100,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``L_K`` with ``K = num_samples`` drawn in chunks, combined exactly by ``logsumexp``."""
        if num_samples < 1 or chunk_size < 1:
            raise ValueError("log_likelihood: num_samples and chunk_size must be >= 1")
        parts, done = [], 0
        while done < num_samples:
            k = min(chunk_size, num_samples - done)
            lw = self.log_weights(graphs, condition, k, generator=generator)
            parts.append(torch.logsumexp(lw, 0))
            done += k
        return torch.logsumexp(torch.stack(parts), 0) - math.log(num_samples)

    # ------------------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self, condition, num_samples: int = 1, *, generator: torch.Generator | None = None
    ) -> GraphSample:
        """``Z ~ p(Z | y)``, ``A_uv ~ Bern(σ(s_uv))`` (``u < v``, mirrored), ``X ~ p(X | Z)``."""
        if num_samples < 1:
            raise ValueError(f"generate: num_samples must be >= 1, got {num_samples}")
        cond = self._condition(condition, None)
        z = sample(cond.prior, num_samples, generator=generator)  # (S, B, N, d)
        scorer = _ConditionedScorer(self.edge_decoder, cond.gain, cond.offset)
        n = self.config.num_nodes
        off_diag = ~torch.eye(n, dtype=torch.bool, device=z.device)
        prob = torch.sigmoid(scorer.dense_logits(z)) * off_diag
        upper = torch.ones(n, n, dtype=torch.bool, device=z.device).triu(1)
        u = torch.rand(prob.shape, generator=generator, dtype=prob.dtype, device=prob.device)
        adj = (u < prob) & upper
        adj = adj | adj.transpose(-1, -2)
        x = None
        if self.feature_decoder is not None:
            x = sample(self.feature_decoder(z), 1, generator=generator).squeeze(0)
        return GraphSample(z=z, edge_prob=prob, adjacency=adj, x=x)

    @torch.no_grad()
    def forecast_next(
        self, graph_t: Data, num_samples: int = 1, *, generator: torch.Generator | None = None
    ) -> GraphSample:
        """One-step forecast ``G_{t+1} ~ p(G | G_c = G_t)`` (``condition="graph"``), shapes
        ``z (S, N, d)``, ``edge_prob (S, N, N)``, ``adjacency (S, N, N)``, ``x (S, N, F) | None``.

        A simple conditional baseline forecaster: no latent dynamics, the next graph is generated
        from the conditional prior given the encoded current graph."""
        if self.config.condition != "graph":
            raise ValueError("forecast_next needs a model with condition='graph'")
        s = self.generate(graph_t, num_samples, generator=generator)
        return GraphSample(
            z=s.z[:, 0], edge_prob=s.edge_prob[:, 0], adjacency=s.adjacency[:, 0],
            x=None if s.x is None else s.x[:, 0],
        )


def batched_kmeans(points: Tensor, num_clusters: Tensor, max_clusters: int, iterations: int = 15):
    r"""Lloyd's k-means on each of ``B`` point sets ``(B, N, D)``, each with its own ``k_b``.

    Rows are L2-normalised; initial centres by farthest-point traversal from the point farthest
    from the set mean (deterministic); ``iterations`` assignment/update steps, vectorised over the
    batch (centres ``c ≥ k_b`` are masked). Returns labels ``(B, N)`` in ``[0, k_b)``; cluster
    ``c`` is the ``c``-th centre found (an arbitrary but exchangeable order).
    """
    if points.dim() != 3:
        raise ValueError(f"batched_kmeans: points must be (B, N, D), got {tuple(points.shape)}")
    x = F.normalize(points, dim=-1)
    b, n, _ = x.shape
    k = num_clusters.to(x.device).long().clamp(1, max_clusters)
    allowed = torch.arange(max_clusters, device=x.device)[None, :] < k[:, None]  # (B, K)
    ar = torch.arange(b, device=x.device)
    first = (x - x.mean(1, keepdim=True)).norm(dim=-1).argmax(-1)
    centres = [x[ar, first]]
    dist = (x - centres[0][:, None]).pow(2).sum(-1)
    for _ in range(1, max_clusters):  # loop over centres, not nodes
        nxt = dist.argmax(-1)
        centres.append(x[ar, nxt])
        dist = torch.minimum(dist, (x - centres[-1][:, None]).pow(2).sum(-1))
    c = torch.stack(centres, 1)  # (B, K, D)
    for _ in range(iterations):
        d2 = torch.cdist(x, c).pow(2).masked_fill(~allowed[:, None, :], float("inf"))
        lab = d2.argmin(-1)
        onehot = F.one_hot(lab, max_clusters).to(x.dtype)  # (B, N, K)
        count = onehot.sum(1)  # (B, K)
        mean = onehot.transpose(1, 2) @ x / count.clamp(min=1)[..., None]
        c = torch.where((count > 0)[..., None], mean, c)
    d2 = torch.cdist(x, c).pow(2).masked_fill(~allowed[:, None, :], float("inf"))
    return d2.argmin(-1)

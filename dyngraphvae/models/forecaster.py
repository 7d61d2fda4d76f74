r"""Temporal graph VAE forecaster (Problem 4 of the problem set; design in ``docs/model.md``).

Index convention (kept exactly): **Z_t generates the next graph** ``G_{t+1} = (X_{t+1}, A_{t+1})``.
``Z_0`` is fixed (a learned parameter or zero). TemporalGraph snapshot ``s`` (0-based) holds
``G_{s+1}``, so snapshot ``s`` is decoded from ``Z_s`` and the posterior step that reads snapshot
``s`` infers ``Z_{s+1}``.

Generative model and filtering posterior::

    p(G_{1:T}, Z_{1:T}) = Π_{t=0}^{T-1} p(X_{t+1}, A_{t+1} | Z_t) · p(Z_{t+1} | Z_t)
    q(Z_{1:T} | G_{1:T}) = Π_{t=0}^{T-1} q(Z_{t+1} | Z_t, G_{1:t+1})

    ELBO = Σ_{t=0}^{T-1} E_q[ log p(X_{t+1} | Z_t) + log p(A_{t+1} | Z_t)
                              − KL(q(Z_{t+1} | Z_t, G_{1:t+1}) || p(Z_{t+1} | Z_t)) ]

* posterior: ``e_s = GNN(NodeInput(X_{s+1}), A_{s+1})`` once per snapshot (independent of the
  samples), a per-node GRU summary ``h_{s+1} = GRU(e_s, h_s)`` of ``G_{1:s+1}``, and a head on
  ``[h_{s+1}, Z_s]`` giving ``N(μ, diag σ²)`` per node, broadcast over ``S`` samples of ``Z_s``;
* prior: :class:`dyngraphvae.nn.transition.GRUTransition` (Markov in ``Z``; a ``K``-mixture
  optional, per node or for the whole graph);
* decoder: Gaussian node features (:class:`~dyngraphvae.nn.decoders.GaussianFeatureDecoder`) and
  Bernoulli edges (:class:`~dyngraphvae.nn.decoders.EdgeDecoder`) scored by
  :func:`dyngraphvae.nn.adjacency.adjacency_log_likelihood` (exact dense or unbiased sparse).

References: Hajiramezanali et al., "Variational Graph Recurrent Neural Networks", NeurIPS 2019
(VGRNN); Burda et al., "Importance Weighted Autoencoders", ICLR 2016; Bengio et al.,
"Scheduled Sampling for Sequence Prediction with Recurrent Neural Networks", NeurIPS 2015.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.distributions import sample as _draw
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.nn.adjacency import adjacency_log_likelihood
from dyngraphvae.nn.decoders import EdgeDecoder, GaussianFeatureDecoder, deterministic_score
from dyngraphvae.nn.encoders import NodeInput, PosteriorHead, SnapshotEncoder
from dyngraphvae.nn.transition import GRUTransition
from dyngraphvae.objectives import divergence, importance_weighted_bound

__all__ = [
    "AMORTIZATION_FAMILIES",
    "DecoderContext",
    "EdgeContext",
    "EdgeContextTerm",
    "ELBOOutput",
    "FilterState",
    "Forecast",
    "PredictiveLogLikelihood",
    "REDUCTIONS",
    "TemporalAmortizationGap",
    "TemporalGraphVAE",
    "amortization_gap",
    "feature_step",
    "forecast_to_data",
    "forecast_to_networkx",
    "forecast_to_temporal_graph",
]

REDUCTIONS = ("sum", "mean_node", "mean_edge")
"""Accepted ``reduction=`` values of :meth:`TemporalGraphVAE.elbo`."""

KLTransform = Callable[[Tensor], Tensor]


def _sample1(d: Distribution, generator: torch.Generator | None) -> Tensor:
    """One (reparameterised where possible) draw with an optional generator, shape batch+event."""
    return _draw(d, 1, generator=generator)[0]

def feature_step(
    out: Distribution | Tensor, deterministic: bool, generator: torch.Generator | None
) -> tuple[Tensor, Tensor, Tensor]:
    """``(mean, variance, sample)`` of one step's feature predictive ``p(X | Z)``.

    The deterministic-decoder ablation returns its mean tensor: zero variance, and the mean as
    the "sample".
    """
    if deterministic:
        return out, torch.zeros_like(out), out
    return out.mean, out.variance, _sample1(out, generator)



# ==================================================================================================
# result types
# ==================================================================================================
@dataclass
class ELBOOutput:
    r"""Named terms of the temporal ELBO (all per-step tensors are averages over the ``S`` samples).

    Attributes:
        elbo: scalar ``Σ_t per_step_elbo``: the ELBO of the whole sequence (sum over steps and
            nodes; KL weight 1, no free bits) — a lower bound on ``log p(G_{1:T})`` when
            :attr:`is_bound` is true (sparse edge evaluator: an unbiased estimate of it).
        loss: scalar to minimise, ``−(Σ_t F_t + Σ_t E_t − β R)`` divided according to
            :attr:`reduction` (see :meth:`TemporalGraphVAE.elbo`), ``β`` = ``kl_weight``, ``R``
            = :attr:`regulariser`.
        feature_ll: ``(T,)`` ``F_t = E_q log p(X_{t+1} | Z_t)`` summed over observed nodes (with the
            deterministic decoder: the squared-error score ``−½‖x − μ‖²``, not a log-density).
        edge_ll: ``(T,)`` ``E_t = E_q log p(A_{t+1} | Z_t)`` summed over observed pairs.
        kl: ``(T,)`` ``KL(q(Z_{t+1}|·) || p(Z_{t+1}|Z̃_t))`` summed over nodes (closed form; a
            one-sample Monte Carlo estimate ``log q − log p`` for mixture priors; the CS
            divergence when ``divergence="cs"``; ``½‖μ_q − μ_p‖²`` for the deterministic ablation).
        per_step_elbo: ``(T,)`` ``F_t + E_t − KL_t``.
        kl_per_dim: ``(d,)`` KL per latent dimension per node per step (mean over samples, steps
            and nodes) — the free-bits units; ``None`` for mixture priors (no factorisation).
        posterior_loc: ``(T, N, d)`` Monte Carlo mean of ``Z_{t+1}`` under ``q`` (mean over the
            ``S`` trajectories of the conditional means).
        posterior_scale: ``(T, N, d)`` the matching standard deviation (law of total variance).
        regulariser: scalar ``R`` entering the loss: ``Σ_t KL_t`` or its free-bits /
            ``kl_transform`` replacement.
        reduction, teacher_forcing, num_samples: the arguments used.
        is_bound: ``elbo`` is a lower bound on ``log p(G_{1:T})`` (KL divergence, a density decoder,
            ``teacher_forcing == 1``).
        num_observed_nodes: ``Σ_t n_t`` observed (node, step) pairs (``mean_node`` divisor).
        num_observed_pairs: ``Σ_t n_t(n_t − 1)/2`` (undirected) or ``n_t(n_t − 1)`` (directed).
    """

    elbo: Tensor
    loss: Tensor
    feature_ll: Tensor
    edge_ll: Tensor
    kl: Tensor
    per_step_elbo: Tensor
    kl_per_dim: Tensor | None
    posterior_loc: Tensor
    posterior_scale: Tensor
    regulariser: Tensor
    reduction: str
    teacher_forcing: float
    num_samples: int
    is_bound: bool
    num_observed_nodes: int
    num_observed_pairs: int


@dataclass
class FilterState:
    r"""The filtered state after ``num_snapshots = T`` snapshots: what forecasting needs.

    Attributes:
        z: ``(S, N, d)`` samples of ``Z_T`` drawn ancestrally through the posterior chain
            ``Z_{t+1} ~ q(· | Z_t, G_{1:t+1})`` (joint over nodes).
        posterior: ``q(Z_T | Z_{T-1}^{(s)}, G_{1:T})`` with batch ``(S, N)`` and event ``(d,)``;
            ``None`` when ``T = 0`` (``Z_0`` is fixed) or for the deterministic ablation.
        summary: ``(N, H)`` recurrent summary ``h_T`` of ``G_{1:T}`` (``None`` when ``T = 0``).
        num_snapshots: ``T``; ``z`` generates snapshot index ``T`` (``G_{T+1}``).
        context: for an autoregressive decoder (``decoder_context != "none"``), the
            :class:`DecoderContext` of snapshot index ``T`` (``A_T``, ``H_T``, ``x_T`` of the
            observed history, shared by the samples); ``None`` otherwise.
    """

    z: Tensor
    posterior: Distribution | None
    summary: Tensor | None
    num_snapshots: int
    context: DecoderContext | None = None

    @property
    def num_samples(self) -> int:
        return int(self.z.size(0))

    def marginal(self) -> Distribution:
        r"""Per-node Monte Carlo approximation of the filtering marginal ``q(z_v^T | G_{1:T})``.

        A uniform mixture over the ``S`` conditional posteriors, batch ``(N,)``, event ``(d,)``
        (``MixtureSameFamily``). It drops the dependence between nodes that :attr:`z` keeps.
        """
        if self.posterior is None:
            raise ValueError("FilterState.marginal: no posterior (T = 0 or deterministic model)")
        base = self.posterior.base_dist
        loc, scale = base.loc.transpose(0, 1), base.scale.transpose(0, 1)  # (N, S, d)
        mix = Categorical(logits=torch.zeros(loc.shape[:2], dtype=loc.dtype, device=loc.device))
        return MixtureSameFamily(mix, Independent(Normal(loc, scale), 1))


@dataclass
class PredictiveLogLikelihood:
    r"""Monte Carlo predictive log-likelihoods ``log p(G_{T+h} | G_{1:T})``, ``h = 1..H``.

    ``log p̂ = logsumexp_s log p(· | Ẑ^{(s)}_{T+h-1}) − log S`` over ``S`` forecast trajectories
    (a consistent estimator, biased low for finite ``S`` by Jensen's inequality).

    Attributes:
        feature: ``(H,)`` for ``X_{T+h}`` jointly over the observed nodes, or ``None`` without a
            feature decoder. Its Monte Carlo bias grows with ``N`` (a log-mean of products).
        feature_marginal: ``(H,)`` ``Σ_v log p(x_v^{T+h} | G_{1:T})``: the sum of the per-node
            marginal predictive log-densities (the per-node log score), each estimated by its own
            ``logsumexp_s − log S``; far lower variance, and equal to ``feature`` in the limit
            when node trajectories are independent under the model (factorised or node-mixture
            transition: the posterior and the transition are node-wise given the deterministic
            summaries). ``None`` without a feature decoder.
        edge: ``(H,)`` for ``A_{T+h}``, or ``None`` without an edge decoder.
        joint: ``(H,)`` for ``(X_{T+h}, A_{T+h})`` jointly.
        num_observed_nodes: ``(H,)`` observed nodes per step (to normalise per node).
        num_samples: ``S``.
    """

    feature: Tensor | None
    feature_marginal: Tensor | None
    edge: Tensor | None
    joint: Tensor
    num_observed_nodes: Tensor
    num_samples: int


# ==================================================================================================
# autoregressive decoder context (decoder_context = "previous" | "history")
# ==================================================================================================
@dataclass
class EdgeContext:
    r"""Sparse edge context of the autoregressive decoder for ``B`` graphs (batch rows).

    Pair ``(u, v)`` of row ``b`` has the int64 key ``b·N² + u·N + v`` (undirected: ``u < v``);
    :attr:`keys` is sorted and unique, so a pair query is one ``searchsorted`` (O(P log K), no
    ``N × N`` tensor). Pairs absent from :attr:`keys` have ``A_t = H_t = 0``.

    Attributes:
        keys: ``(K,)`` sorted unique pair keys.
        previous: ``(K,)`` ``A_t(u, v) ∈ {0, 1}`` (the previous snapshot).
        history: ``(K,)`` decayed count ``H_t = A_t + λ H_{t-1}`` (``None`` for ``"previous"``).
        batch_size: ``B``; 1 means one context shared by every sample.
        num_nodes: ``N``.
        directed: whether pairs are ordered.
    """

    keys: Tensor
    previous: Tensor
    history: Tensor | None
    batch_size: int
    num_nodes: int
    directed: bool

    @classmethod
    def empty(cls, num_nodes: int, directed: bool, history: bool,
              device: torch.device | None = None) -> EdgeContext:
        """No previous graph (``A_0 = H_0 = 0``): the context of snapshot 0."""
        z = torch.zeros(0, device=device)
        return cls(torch.zeros(0, dtype=torch.long, device=device), z,
                   z.clone() if history else None, 1, int(num_nodes), bool(directed))

    @classmethod
    def from_edges(cls, coords: Tensor, num_nodes: int, directed: bool, batch_size: int = 1,
                   previous_context: EdgeContext | None = None, decay: float | None = None
                   ) -> EdgeContext:
        r"""Context after observing the edges ``coords``: ``(2, E)`` pairs (``batch_size = 1``)
        or ``(3, E)`` rows ``(b, u, v)``. Self-loops are skipped (the diagonal is not modelled);
        undirected pairs are canonicalised to ``u < v``.

        With ``decay = λ`` the history is updated, ``H_t = A_t + λ H_{t-1}``, from
        ``previous_context`` (``None``: ``H_{t-1} = 0``; a 1-row context is broadcast to
        ``batch_size`` rows).
        """
        n = int(num_nodes)
        coords = coords.long()
        if coords.size(0) == 2:
            coords = torch.cat([coords.new_zeros(1, coords.size(1)), coords])
        b, u, v = coords
        keep = u != v
        b, u, v = b[keep], u[keep], v[keep]
        if not directed:
            u, v = torch.minimum(u, v), torch.maximum(u, v)
        keys = torch.unique(b * (n * n) + u * n + v)
        dev = keys.device
        prev = torch.ones(keys.numel(), device=dev)
        if decay is None:
            return cls(keys, prev, None, int(batch_size), n, bool(directed))
        if previous_context is None or previous_context.keys.numel() == 0:
            return cls(keys, prev, prev.clone(), int(batch_size), n, bool(directed))
        old = previous_context.expand(batch_size)
        all_keys = torch.cat([old.keys.to(dev), keys])
        vals = torch.cat([decay * old.history.to(dev), prev])
        uniq, inv = torch.unique(all_keys, return_inverse=True)
        hist = torch.zeros(uniq.numel(), device=dev).index_add_(0, inv, vals)
        is_new = torch.zeros(uniq.numel(), device=dev).index_add_(
            0, inv[old.keys.numel():], prev)
        return cls(uniq, is_new, hist, int(batch_size), n, bool(directed))

    def expand(self, batch_size: int) -> EdgeContext:
        """Repeat a shared (1-row) context over ``batch_size`` rows (keys stay sorted)."""
        if batch_size == self.batch_size:
            return self
        if self.batch_size != 1:
            raise ValueError(f"EdgeContext.expand: cannot expand {self.batch_size} rows to "
                             f"{batch_size}")
        nn2 = self.num_nodes * self.num_nodes
        off = torch.arange(batch_size, device=self.keys.device).unsqueeze(1) * nn2
        rep = lambda t: None if t is None else t.unsqueeze(0).expand(batch_size, -1).reshape(-1)  # noqa: E731
        return EdgeContext((off + self.keys).reshape(-1), rep(self.previous), rep(self.history),
                           int(batch_size), self.num_nodes, self.directed)

    def select(self, keep: Tensor) -> EdgeContext:
        """The context restricted to the entries ``keep`` (bool or index over :attr:`keys`)."""
        return EdgeContext(self.keys[keep], self.previous[keep],
                           None if self.history is None else self.history[keep],
                           self.batch_size, self.num_nodes, self.directed)

    def coords(self) -> Tensor:
        """``(3, K)`` rows ``(b, u, v)`` of the stored pairs."""
        n = self.num_nodes
        b = torch.div(self.keys, n * n, rounding_mode="floor")
        r = self.keys - b * n * n
        return torch.stack([b, torch.div(r, n, rounding_mode="floor"), r % n])

    def lookup(self, pairs: Tensor) -> tuple[Tensor, Tensor | None]:
        r"""``(A_t, H_t)`` of the pairs ``(2, P)`` for every row: ``(B, P)`` each (``H`` is
        ``None`` without history). Sorted-key ``searchsorted``: never densifies."""
        n, bsz = self.num_nodes, self.batch_size
        pairs = pairs.to(self.keys.device).long()
        u, v = pairs[0], pairs[1]
        if not self.directed:
            u, v = torch.minimum(u, v), torch.maximum(u, v)
        q = (torch.arange(bsz, device=u.device).unsqueeze(1) * (n * n) + (u * n + v)).reshape(-1)
        out_shape = (bsz, pairs.size(1))
        if self.keys.numel() == 0:
            z = torch.zeros(out_shape, device=u.device)
            return z, (None if self.history is None else z.clone())
        idx = torch.searchsorted(self.keys, q).clamp_max(self.keys.numel() - 1)
        hit = self.keys[idx] == q
        prev = torch.where(hit, self.previous[idx], 0.0).reshape(out_shape)
        hist = None if self.history is None else torch.where(
            hit, self.history[idx], 0.0).reshape(out_shape)
        return prev, hist

    def dense(self) -> tuple[Tensor, Tensor | None]:
        """``(A_t, H_t)`` as dense ``(B, N, N)`` float tensors (symmetric when undirected)."""
        n, bsz = self.num_nodes, self.batch_size
        b, u, v = self.coords()

        def fill(vals: Tensor) -> Tensor:
            out = torch.zeros(bsz, n, n, device=self.keys.device)
            out[b, u, v] = vals
            if not self.directed:
                out[b, v, u] = vals
            return out

        return fill(self.previous), (None if self.history is None else fill(self.history))


@dataclass
class DecoderContext:
    r"""What the autoregressive decoder of snapshot ``G_{t+1}`` sees besides ``Z_t``.

    Attributes:
        edges: :class:`EdgeContext` of ``A_t`` (and ``H_t``), or ``None`` without edge decoder.
        x: previous features ``x_t``: ``(N, F)`` shared or ``(B, N, F)``, zero for absent nodes
            and for ``t = 0``; ``None`` without a feature decoder.
    """

    edges: EdgeContext | None
    x: Tensor | None


class EdgeContextTerm(nn.Module):
    r"""Learned affine context term of the autoregressive edge logit:
    ``ℓ_uv = s(z_u, z_v) + α A_t(u, v) + γ H_t(u, v)`` (``γ`` only with history).

    ``α`` and ``γ`` start at 0 (the model starts as the context-free decoder and learns how much
    persistence to use; the gradient ``∂ log p / ∂α = Σ_uv A_t(u,v) (A_{t+1}(u,v) − π_uv)`` is
    non-zero from the start)."""

    def __init__(self, history: bool) -> None:
        super().__init__()
        self.previous_weight = nn.Parameter(torch.zeros(()))
        self.history_weight = nn.Parameter(torch.zeros(())) if history else None

    def _combine(self, prev: Tensor, hist: Tensor | None) -> Tensor:
        out = self.previous_weight * prev
        if self.history_weight is not None and hist is not None:
            out = out + self.history_weight * hist
        return out

    def pair_logits(self, ctx: EdgeContext, pairs: Tensor) -> Tensor:
        """``(B, P)`` context terms of the pairs ``(2, P)``."""
        return self._combine(*ctx.lookup(pairs))

    def dense_logits(self, ctx: EdgeContext) -> Tensor:
        """``(B, N, N)`` context terms (dense; small graphs)."""
        return self._combine(*ctx.dense())


def _align(term: Tensor, lead: tuple[int, ...]) -> Tensor:
    """Broadcast a ``(B, ...)`` context term against the leading latent shape ``lead``."""
    b = term.size(0)
    if b == 1:
        return term[0]
    if math.prod(lead) != b:
        raise ValueError(f"decoder context has {b} rows but the latents have leading shape "
                         f"{lead}; pass one context row or one per sample")
    return term.reshape(*lead, *term.shape[1:])


class _ContextScorer:
    """Edge scorer ``s(z_u, z_v) + context term`` with the ``logits``/``dense_logits`` interface
    of :class:`~dyngraphvae.nn.decoders.EdgeDecoder` (so the dense and sparse evaluators of
    :func:`~dyngraphvae.nn.adjacency.adjacency_log_likelihood` and the forecast edge sampler use
    it unchanged)."""

    def __init__(self, decoder: EdgeDecoder, term: EdgeContextTerm, ctx: EdgeContext) -> None:
        self.decoder, self.term, self.ctx = decoder, term, ctx

    def logits(self, z: Tensor, pairs: Tensor) -> Tensor:
        base = self.decoder.logits(z, pairs)
        return base + _align(self.term.pair_logits(self.ctx, pairs), tuple(base.shape[:-1]))

    def dense_logits(self, z: Tensor) -> Tensor:
        base = self.decoder.dense_logits(z)
        return base + _align(self.term.dense_logits(self.ctx), tuple(base.shape[:-2]))


def _shift_mean(dist: Distribution | Tensor, shift: Tensor) -> Distribution | Tensor:
    """The feature distribution with its mean moved by ``shift`` (covariance unchanged)."""
    if isinstance(dist, Tensor):
        return dist + shift
    if isinstance(dist, Independent):
        base = dist.base_dist
        return Independent(Normal(base.loc + shift, base.scale), 1)
    if isinstance(dist, LowRankMultivariateNormal):
        return LowRankMultivariateNormal(dist.loc + shift, dist.cov_factor, dist.cov_diag)
    if isinstance(dist, MultivariateNormal):
        return MultivariateNormal(dist.loc + shift, scale_tril=dist.scale_tril)
    raise TypeError(f"_shift_mean: unsupported feature distribution {type(dist).__name__}")


def _sample_edge_coords(
    decoder: EdgeDecoder,
    z: Tensor,
    directed: bool,
    deterministic: bool,
    generator: torch.Generator | None,
    max_block: int = 1 << 22,
) -> Tensor:
    r"""Sample ``A ~ Bernoulli(σ(s(z_u, z_v)))`` for every batch row of ``z (B, N, d)``.

    Returns a ``(3, E)`` long tensor of ``(batch, u, v)``; undirected edges once with ``u < v``,
    no self-loops. Evaluated in row blocks so memory stays ``O(max_block)`` for any ``N``.
    ``deterministic=True`` keeps the pairs with ``π_uv > ½`` (the mode) instead of sampling.
    """
    b, n = z.size(0), z.size(1)
    rows_per_block = max(1, max_block // max(1, b * n))
    cols = torch.arange(n, device=z.device)
    out = []
    for i in range(0, n, rows_per_block):
        rows = torch.arange(i, min(n, i + rows_per_block), device=z.device)
        uu = rows.repeat_interleave(n)
        vv = cols.repeat(rows.numel())
        keep = uu != vv if directed else uu < vv
        uu, vv = uu[keep], vv[keep]
        if uu.numel() == 0:
            continue
        logits = decoder.logits(z, torch.stack([uu, vv]))  # (B, P)
        if deterministic:
            hit = logits > 0
        else:
            u = torch.rand(logits.shape, generator=generator, device=z.device, dtype=logits.dtype)
            hit = u < torch.sigmoid(logits)
        bi, pi = hit.nonzero(as_tuple=True)
        out.append(torch.stack([bi, uu[pi], vv[pi]]))
    if not out:
        return torch.zeros(3, 0, dtype=torch.long, device=z.device)
    return torch.cat(out, dim=1)


@dataclass
class Forecast:
    r"""``S`` sampled futures over ``H`` steps from :meth:`TemporalGraphVAE.forecast`.

    ``z[:, k]`` is ``Ẑ_{T+k}``, which generates ``G_{T+k+1}`` = TemporalGraph snapshot index
    ``start + k`` (``start = T``, the number of conditioning snapshots).

    Attributes:
        z: ``(S, H, N, d)`` latent rollout.
        feature_mean, feature_var: ``(S, H, N, F)`` mean and marginal variance of
            ``p(X_{T+k+1} | Ẑ_{T+k})`` (variance 0 for the deterministic decoder), or ``None``.
        x: ``(S, H, N, F)`` sampled features ``X̂ ~ p(X | Ẑ)`` (the mean for the deterministic
            decoder), or ``None``.
        start: ``T``.
        directed: whether edges are directed.
        deterministic: whether edges are emitted as the mode (``π > ½``) rather than sampled.
        edge_decoder: the model's edge decoder (edge summaries are computed on demand from ``z``).
        dense_max_nodes: above this ``N``, dense ``(S, H, N, N)`` summaries are refused.
        edge_context: the model's :class:`EdgeContextTerm` when its decoder is autoregressive
            (``decoder_context != "none"``), else ``None``.
        contexts: autoregressive decoder only: the :class:`DecoderContext` used at each step
            ``k`` (``k = 0``: the observed history, shared; ``k ≥ 1``: the trajectory's own sampled
            ``Â_{T+k}``, ``Ĥ_{T+k}``, ``X̂_{T+k}``, one row per sample).
        sampled_edges: autoregressive decoder only: ``(4, E)`` rows ``(sample, step, u, v)`` of the
            sampled graphs ``Â_{T+k+1}`` (undirected: ``u < v`` once). They were drawn during the
            rollout (each feeds the next step), so :meth:`sample_adjacency` returns them.
    """

    z: Tensor
    feature_mean: Tensor | None
    feature_var: Tensor | None
    x: Tensor | None
    start: int
    directed: bool
    deterministic: bool
    edge_decoder: EdgeDecoder | None
    dense_max_nodes: int = 2000
    edge_context: EdgeContextTerm | None = None
    contexts: list[DecoderContext] | None = None
    sampled_edges: Tensor | None = None

    @property
    def autoregressive(self) -> bool:
        """True when the decoder reads the previous graph (:attr:`contexts` is set)."""
        return self.contexts is not None

    @property
    def num_samples(self) -> int:
        return int(self.z.size(0))

    @property
    def horizon(self) -> int:
        return int(self.z.size(1))

    @property
    def num_nodes(self) -> int:
        return int(self.z.size(2))

    def _decoder(self) -> EdgeDecoder:
        if self.edge_decoder is None:
            raise ValueError("Forecast: the model has no edge decoder (decode_edges=False)")
        return self.edge_decoder

    def _guard_dense(self, what: str) -> None:
        if self.num_nodes > self.dense_max_nodes:
            raise ValueError(
                f"Forecast.{what}: N={self.num_nodes} > dense_max_nodes={self.dense_max_nodes}; "
                "pass pairs=(2, P) for a pair query, or sample_adjacency(sparse=True)"
            )

    def _scorer(self, k: int) -> EdgeDecoder | _ContextScorer:
        dec = self._decoder()
        if not self.autoregressive or self.edge_context is None:
            return dec
        return _ContextScorer(dec, self.edge_context, self.contexts[k].edges)

    def edge_logits(self, pairs: Tensor | None = None) -> Tensor:
        """Edge scores: ``(S, H, P)`` for ``pairs (2, P)``, or dense ``(S, H, N, N)`` (None).

        Autoregressive decoder: the logits of ``p(A_{T+k+1} | Ẑ_{T+k}, Â_{T+k})`` given the
        trajectory's own sampled previous graph (context terms included)."""
        dec = self._decoder()
        with torch.set_grad_enabled(self.z.requires_grad):
            if pairs is None:
                self._guard_dense("edge_logits")
            if not self.autoregressive:
                if pairs is None:
                    return dec.dense_logits(self.z)
                return dec.logits(self.z, pairs.to(self.z.device))
            out = []
            for k in range(self.horizon):
                sc, zk = self._scorer(k), self.z[:, k]
                out.append(sc.dense_logits(zk) if pairs is None
                           else sc.logits(zk, pairs.to(self.z.device)))
            return torch.stack(out, dim=1)

    def edge_prob(self, pairs: Tensor | None = None) -> Tensor:
        r"""Edge probabilities ``π_uv(Ẑ_{T+k})``: ``(S, H, P)`` or dense ``(S, H, N, N)``.

        Average over the sample dimension for the Monte Carlo predictive ``p(A_uv = 1 | G_{1:T})``.
        """
        return torch.sigmoid(self.edge_logits(pairs))

    def sample_adjacency(
        self, generator: torch.Generator | None = None, sparse: bool | None = None
    ) -> Tensor:
        r"""Sample ``Â_{T+k+1} ~ p(A | Ẑ_{T+k})`` for every sample and step.

        Returns a bool ``(S, H, N, N)`` tensor (symmetric when undirected, zero diagonal), dense
        when ``N <= dense_max_nodes`` (or ``sparse=False``), otherwise a sparse COO tensor of the
        same shape (built in row blocks, O(edges) memory). The deterministic ablation returns
        the mode ``π > ½``. Autoregressive decoder: the graphs ``Â_{T+k+1} ~ p(A | Ẑ_{T+k},
        Â_{T+k})`` drawn during the rollout (each one was the next step's context), so the
        ``generator`` is unused and repeated calls return the same graphs.
        """
        s, h, n, d = self.z.shape
        if sparse is None:
            sparse = n > self.dense_max_nodes
        if self.autoregressive:
            self._decoder()
            idx = self.sampled_edges
            if not self.directed:
                idx = torch.cat([idx, idx[[0, 1, 3, 2]]], dim=1)
        else:
            with torch.no_grad():
                coords = _sample_edge_coords(
                    self._decoder(), self.z.reshape(s * h, n, d), self.directed,
                    self.deterministic, generator,
                )
            if not self.directed:
                coords = torch.cat([coords, coords[[0, 2, 1]]], dim=1)
            idx = torch.stack([coords[0] // h, coords[0] % h, coords[1], coords[2]])
        if sparse:
            vals = torch.ones(idx.size(1), dtype=torch.bool, device=idx.device)
            return torch.sparse_coo_tensor(
                idx, vals, (s, h, n, n), check_invariants=True
            ).coalesce()
        self._guard_dense("sample_adjacency")
        a = torch.zeros(s, h, n, n, dtype=torch.bool, device=self.z.device)
        a[idx[0], idx[1], idx[2], idx[3]] = True
        return a

    def sample_edge_index(
        self, sample: int, step: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """``(2, E)`` sampled edges of one future graph (undirected: ``u < v`` once).

        Autoregressive decoder: the graph sampled during the rollout (``generator`` unused)."""
        if self.autoregressive:
            self._decoder()
            e = self.sampled_edges
            keep = (e[0] == sample) & (e[1] == step)
            return e[2:, keep]
        z = self.z[sample, step].unsqueeze(0)
        with torch.no_grad():
            c = _sample_edge_coords(
                self._decoder(), z, self.directed, self.deterministic, generator
            )
        return c[1:]


# ==================================================================================================
# the model
# ==================================================================================================
class TemporalGraphVAE(nn.Module):
    r"""Temporal graph VAE: GNN-GRU filtering posterior, GRU transition prior, Gaussian/Bernoulli
    decoders (equations in the module docstring and ``docs/model.md``).

    Args:
        config: a :class:`~dyngraphvae.models.config.ForecasterConfig`.

    Everything returns values (distributions or small dataclasses); nothing is cached on ``self``
    between calls. All sampling accepts an optional ``torch.Generator`` and is vectorised over the
    ``S`` samples (the only Python loops are over time steps and over row blocks).
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        if not isinstance(config, ForecasterConfig):
            raise TypeError(f"config must be a ForecasterConfig, got {type(config).__name__}")
        self.config = c = config
        n, d, hdim = c.num_nodes, c.latent_dim, c.hidden_dim
        self.node_input = NodeInput(n, c.num_features, c.node_embedding_dim, c.node_input)
        self.encoder = SnapshotEncoder(
            self.node_input.out_channels, hdim, hdim, c.encoder, c.encoder_layers, c.dropout
        )
        self.summary = nn.GRUCell(hdim, hdim)
        self.posterior_head = PosteriorHead(hdim, d, hdim, c.min_scale)
        self.transition = GRUTransition(d, hdim, c.transition_components, c.min_scale,
                                       tied_scale=c.transition_tied_scale)
        self.feature_decoder = (
            GaussianFeatureDecoder(
                d, c.num_features, hdim, c.feature_covariance, c.feature_rank,
                deterministic=c.deterministic_decoder, min_scale=c.feature_min_scale,
            )
            if c.decode_features
            else None
        )
        self.edge_decoder = (
            EdgeDecoder(d, c.edge_decoder, c.directed, hdim, bias=c.edge_bias)
            if c.decode_edges
            else None
        )
        if c.initial_state == "learned":
            self.z0 = nn.Parameter(0.1 * torch.randn(n, d))
        else:
            self.register_buffer("z0", torch.zeros(n, d))
        # Autoregressive decoder context (created last, so that with the same seed the other
        # parameters equal those of the context-free model). Both start at zero.
        ar = c.decoder_context != "none"
        self.edge_context = (
            EdgeContextTerm(history=c.decoder_context == "history")
            if ar and self.edge_decoder is not None else None
        )
        self.feature_context = None
        if ar and self.feature_decoder is not None:
            self.feature_context = nn.Linear(c.num_features, c.num_features, bias=False)
            nn.init.zeros_(self.feature_context.weight)

    # ------------------------------------------------------------------ properties & checks
    @property
    def device(self) -> torch.device:
        return self.z0.device

    @property
    def autoregressive(self) -> bool:
        """True when the decoder reads the previous graph (``decoder_context != "none"``)."""
        return self.config.decoder_context != "none"

    @property
    def factorised_prior(self) -> bool:
        """True when ``p(Z_{t+1}|Z_t)`` is a diagonal Normal (KL per dimension exists)."""
        return self.config.transition_components == 1

    def _prepare(self, graph: TemporalGraph, where: str) -> TemporalGraph:
        if not isinstance(graph, TemporalGraph):
            raise TypeError(f"{where}: expected a TemporalGraph, got {type(graph).__name__}")
        c = self.config
        if graph.num_nodes != c.num_nodes:
            raise ValueError(
                f"{where}: graph has {graph.num_nodes} nodes, the model {c.num_nodes}. A model "
                "has a fixed node universe: train a new one on this graph (config from "
                f"ForecasterConfig.for_graph(graph)), or give the graph the model's {c.num_nodes} "
                "node ids (TemporalGraph(..., num_nodes=N) with node_mask marking absent nodes)"
            )
        if graph.directed != c.directed:
            if graph.directed:
                fix = ("train a directed model (ForecasterConfig.for_graph(graph) sets "
                       "directed=True), or symmetrise the graph: TemporalGraph([graph.edges(t) "
                       "for t in range(len(graph))], N, directed=False, duplicates='merge')")
            else:
                fix = ("train an undirected model (ForecasterConfig.for_graph(graph) sets "
                       "directed=False), or list both directions of every edge: "
                       "TemporalGraph([graph.edges(t, both_directions=True) for t in "
                       "range(len(graph))], N, directed=True)")
            raise ValueError(
                f"{where}: graph.directed={graph.directed} but config.directed={c.directed}; "
                f"{fix}"
            )
        if graph.num_features != c.num_features:
            if graph.num_features == 0:
                fix = (f"the model encodes/decodes {c.num_features} node features per node: "
                       "give the graph its features (graph.with_features(x), x of shape (N, "
                       f"{c.num_features}) or (T, N, {c.num_features})), or use a featureless "
                       "model (ForecasterConfig.for_graph(graph) sets num_features=0)")
            elif c.num_features == 0:
                fix = ("the model has no feature encoder or decoder: build the config with "
                       "ForecasterConfig.for_graph(graph) to use the features, or drop them "
                       "with graph.with_features(None)")
            else:
                fix = "build the config with ForecasterConfig.for_graph(graph)"
            raise ValueError(
                f"{where}: graph has {graph.num_features} node features, config.num_features="
                f"{c.num_features}; {fix}"
            )
        if graph.device != self.device:
            graph = graph.to(self.device)
        return graph

    def _method(self, adjacency: str | None) -> str:
        m = self.config.adjacency if adjacency is None else adjacency
        if m not in ("auto", "dense", "sparse"):
            raise ValueError(f"adjacency: expected 'auto', 'dense' or 'sparse', got {m!r}")
        return m

    # ------------------------------------------------------------------ building blocks
    def initial_latent(self) -> Tensor:
        """``Z_0``: ``(N, d)`` (a learned parameter or zeros)."""
        return self.z0

    def summarise(self, graph: TemporalGraph) -> Tensor:
        r"""Deterministic recurrent summaries ``h_{s+1} = GRU(GNN(G_{s+1}), h_s)``: ``(T, N, H)``.

        ``h[s]`` summarises snapshots ``0..s`` (``G_{1:s+1}``). Absent nodes (``node_mask``) get a
        zero encoder input at that step. Computed once per snapshot, independent of samples.
        """
        return torch.stack(self._summaries(graph))

    def _summaries(self, graph: TemporalGraph) -> list[Tensor]:
        """:meth:`summarise` as a list of ``(N, H)`` tensors. The chain reads one per step:
        indexing a stacked ``(T, N, H)`` tensor instead would make every step's backward
        zero-fill and add a full ``(T, N, H)`` gradient, a cost quadratic in ``T`` (61 % of a
        ``bitcoin_alpha`` step, T = 137); the values and gradients are the same."""
        graph = self._prepare(graph, "summarise")
        n, hdim = self.config.num_nodes, self.config.hidden_dim
        h = torch.zeros(n, hdim, device=self.device)
        out = []
        for s in range(len(graph)):
            inp = self.node_input(graph.features(s))
            if graph.node_mask is not None:
                inp = inp * graph.node_mask[s].unsqueeze(-1).to(inp.dtype)
            try:
                e = self.encoder(inp, graph.edges(s, both_directions=True),
                                 graph.weights(s, both_directions=True))
            except ValueError as err:
                raise ValueError(f"snapshot {s}: {err}") from err
            h = self.summary(e, h)
            out.append(h)
        return out

    def posterior(self, summary: Tensor, z_prev: Tensor) -> Independent:
        r"""``q(Z_{t+1} | Z_t, G_{1:t+1}) = Π_v N(μ_v, diag σ_v²)`` from ``h_{t+1} (N, H)`` and
        ``Z_t (..., N, d)``; batch ``(..., N)``, event ``(d,)``."""
        return self.posterior_head(summary, z_prev)

    def prior(self, z: Tensor) -> Distribution:
        r"""Transition ``p(Z_{t+1} | Z_t)`` for ``z (..., N, d)``.

        Batch ``(..., N)``, event ``(d,)`` (diagonal Normal or per-node mixture); for
        ``transition_mixture="graph"`` a mixture with batch ``(...)`` and event ``(N, d)`` whose
        component ``k`` is the product over nodes of the per-node components ``k`` and whose
        weights are ``softmax(mean_v logits_v)``: one component is chosen for the whole graph.
        """
        p = self.transition(z)
        if self.config.transition_mixture == "graph":
            logits = p.mixture_distribution.logits.mean(-2)  # (..., K)
            base = p.component_distribution.base_dist  # loc (..., N, K, d)
            loc, scale = base.loc.transpose(-3, -2), base.scale.transpose(-3, -2)  # (..., K, N, d)
            p = MixtureSameFamily(Categorical(logits=logits), Independent(Normal(loc, scale), 2))
        return p

    # ------------------------------------------------------------------ decoder context
    def decoder_contexts(
        self,
        graph: TemporalGraph,
        upto: int | None = None,
        *,
        dropout: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> list[DecoderContext]:
        r"""Contexts of the autoregressive decoder for snapshot indices ``0..upto`` (default
        ``upto = T - 1``): entry ``s`` is what decodes snapshot ``s`` (``G_{s+1}``) besides
        ``Z_s``, i.e. ``A_s``, ``H_s`` and ``x_s`` of snapshot ``s - 1`` (``G_s``); entry 0 is
        empty (no previous graph: ``A_0 = H_0 = 0``, ``x_0 = 0``). Computed once, shared by all
        samples, O(Σ_t E_t) memory (sparse keys). ``upto`` may equal ``T`` (the forecast's first
        step). Previous features of absent nodes are zero.

        ``dropout = p`` blanks each context input with probability ``p`` (fresh coins at every
        step): every stored previous/history pair is removed
        (:func:`dyngraphvae.collapse.drop_edges`) and every node's previous feature vector is
        zeroed (:func:`dyngraphvae.collapse.drop_inputs`). The history recursion itself runs on
        the clean data.
        """
        if not self.autoregressive:
            raise ValueError("decoder_contexts: the model's decoder has no context "
                             "(decoder_context='none')")
        from dyngraphvae.collapse.weakening import drop_edges, drop_inputs

        c = self.config
        T = len(graph)
        upto = T - 1 if upto is None else int(upto)
        if not 0 <= upto <= T:
            raise ValueError(f"decoder_contexts: upto must lie in [0, {T}], got {upto}")
        decay = c.history_decay if c.decoder_context == "history" else None
        n, dev = c.num_nodes, self.device
        start = self._empty_context()
        edge_ctx, x_ctx = start.edges, start.x
        out = []
        for s in range(upto + 1):
            if s > 0:
                if edge_ctx is not None:
                    edge_ctx = EdgeContext.from_edges(graph.edges(s - 1), n, c.directed, 1,
                                                      edge_ctx, decay)
                if x_ctx is not None:
                    x_ctx = graph.features(s - 1).to(dev)
                    if graph.node_mask is not None:
                        x_ctx = x_ctx * graph.node_mask[s - 1].unsqueeze(-1).to(x_ctx.dtype)
            e, x = edge_ctx, x_ctx
            if dropout > 0:
                if e is not None and e.keys.numel() > 0:
                    # drop whole stored pairs: run drop_edges on the entries' positions, so the
                    # kept set is exact whatever the key layout (b*N^2 + u*N + v)
                    idx = torch.arange(e.keys.numel(), device=e.keys.device)
                    kept, _ = drop_edges(torch.stack([idx, idx]), dropout, training=True,
                                         edge_weight=None, generator=generator)
                    keep = torch.zeros(idx.numel(), dtype=torch.bool, device=idx.device)
                    keep[kept[0]] = True
                    e = e.select(keep)
                if x is not None:
                    x = drop_inputs(x, dropout, training=True, generator=generator)
            out.append(DecoderContext(edges=e, x=x))
        return out

    def _empty_context(self) -> DecoderContext:
        """Context of snapshot 0: no previous graph (``A_0 = H_0 = 0``, ``x_0 = 0``)."""
        c = self.config
        edges = (EdgeContext.empty(c.num_nodes, c.directed, c.decoder_context == "history",
                                   self.device)
                 if self.edge_context is not None else None)
        x = (torch.zeros(c.num_nodes, c.num_features, device=self.device)
             if self.feature_context is not None else None)
        return DecoderContext(edges=edges, x=x)

    def decoder_context(self, graph: TemporalGraph, step: int) -> DecoderContext:
        """The autoregressive decoder's context of snapshot index ``step`` (``0..T``; see
        :meth:`decoder_contexts`)."""
        graph = self._prepare(graph, "decoder_context")
        return self.decoder_contexts(graph, step)[-1]

    def edge_scorer(self, context: DecoderContext | None = None) -> EdgeDecoder | _ContextScorer:
        r"""The edge scorer of ``p(A_{t+1} | Z_t[, G_t])``: the edge decoder itself, or (with a
        context) ``s(z_u, z_v) + α A_t(u, v) [+ γ H_t(u, v)]`` with the ``logits(z, pairs)`` /
        ``dense_logits(z)`` interface of :class:`~dyngraphvae.nn.decoders.EdgeDecoder`."""
        if self.edge_decoder is None:
            raise ValueError("edge_scorer: the model has no edge decoder")
        if self.edge_context is None:
            return self.edge_decoder
        if context is None or context.edges is None:
            raise ValueError("edge_scorer: the autoregressive decoder needs a DecoderContext "
                             "(see TemporalGraphVAE.decoder_context)")
        return _ContextScorer(self.edge_decoder, self.edge_context, context.edges)

    def decode_features(
        self, z: Tensor, context: DecoderContext | None = None
    ) -> Distribution | Tensor:
        """``p(X_{t+1} | Z_t)`` (batch ``(..., N)``, event ``(F,)``) or its mean when the decoder
        is deterministic. Autoregressive decoder: ``p(X_{t+1} | Z_t, x_t)``, the mean moved by
        ``W x_t`` (``context`` required)."""
        if self.feature_decoder is None:
            raise ValueError("decode_features: the model has no feature decoder")
        out = self.feature_decoder(z)
        if self.feature_context is None:
            return out
        if context is None or context.x is None:
            raise ValueError("decode_features: the autoregressive decoder needs a DecoderContext "
                             "(see TemporalGraphVAE.decoder_context)")
        x = context.x
        if x.dim() == 3:
            x = _align(x, tuple(z.shape[:-2]))
        return _shift_mean(out, self.feature_context(x))

    def _feature_ll(
        self, z: Tensor, graph: TemporalGraph, s: int, per_node: bool = False,
        context: DecoderContext | None = None,
    ) -> Tensor:
        x = graph.features(s)
        out = self.decode_features(z, context)
        if self.config.deterministic_decoder:
            score = deterministic_score(out, x)
        else:
            score = out.log_prob(x)
        if graph.node_mask is not None:
            score = torch.where(graph.node_mask[s], score, torch.zeros_like(score))
        return score if per_node else score.sum(-1)

    def _edge_ll(
        self, z: Tensor, graph: TemporalGraph, s: int, method: str,
        generator: torch.Generator | None, context: DecoderContext | None = None,
    ) -> Tensor:
        c = self.config
        mask = None if graph.node_mask is None else graph.node_mask[s]
        return adjacency_log_likelihood(
            self.edge_scorer(context), z, graph.edges(s), c.num_nodes, c.directed, method=method,
            num_negatives=c.num_negatives, generator=generator, dense_max_nodes=c.dense_max_nodes,
            node_mask=mask, validate=False,
        )

    def step_log_likelihood(
        self, z: Tensor, graph: TemporalGraph, step: int, *, adjacency: str | None = None,
        generator: torch.Generator | None = None, context: DecoderContext | None = None,
    ) -> tuple[Tensor, Tensor]:
        r"""``(log p(X_{s+1} | Z_s), log p(A_{s+1} | Z_s))`` for snapshot ``s = step`` of ``graph``,
        each of shape ``z.shape[:-2]``; absent nodes (``node_mask``) are excluded; a missing
        decoder contributes zeros. Autoregressive decoder: conditioned also on ``context``
        (default: the observed ``G_{≤s}`` of ``graph``, :meth:`decoder_context`)."""
        graph = self._prepare(graph, "step_log_likelihood")
        if self.autoregressive and context is None:
            context = self.decoder_contexts(graph, step)[-1]
        return self._step_ll(z, graph, step, self._method(adjacency), generator, context)

    def _step_ll(self, z, graph, s, method, generator, context=None):
        zero = z.new_zeros(z.shape[:-2])
        fl = (self._feature_ll(z, graph, s, context=context)
              if self.feature_decoder is not None else zero)
        el = zero
        if self.edge_decoder is not None:
            el = self._edge_ll(z, graph, s, method, generator, context)
        return fl, el

    def _kl_elements(
        self, q: Independent, p: Distribution, z_next: Tensor, kind: str
    ) -> Tensor:
        """Element-wise divergence terms: ``(S, N, d)`` (factorised prior), ``(S, N, 1)`` (node
        mixture) or ``(S, 1, 1)`` (graph mixture); they sum to the step's divergence."""
        if self.config.deterministic:
            return 0.5 * (z_next - p.mean).pow(2)
        if self.factorised_prior:
            return divergence(q.base_dist, p.base_dist, kind)
        if self.config.transition_mixture == "graph":
            qg = Independent(q.base_dist, 2)
            if kind == "kl":
                val = qg.log_prob(z_next) - p.log_prob(z_next)
            else:
                val = divergence(qg, p, "cs")
            return val.reshape(val.shape + (1, 1))
        if kind == "kl":
            val = q.log_prob(z_next) - p.log_prob(z_next)
        else:
            val = divergence(q, p, "cs")
        return val.unsqueeze(-1)

    def _trajectory(
        self,
        graph: TemporalGraph,
        num_samples: int,
        *,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
        likelihood: bool = True,
        method: str = "auto",
        divergence_kind: str | None = None,
        context_dropout: float = 0.0,
    ) -> dict:
        """Run the posterior chain over all snapshots with ``S`` samples (vectorised)."""
        c = self.config
        S, n, d = num_samples, c.num_nodes, c.latent_dim
        kind = c.divergence if divergence_kind is None else divergence_kind
        summaries = self._summaries(graph)
        contexts = (
            self.decoder_contexts(graph, len(graph) - 1, dropout=context_dropout,
                                  generator=generator)
            if likelihood and self.autoregressive else None
        )
        z = self.initial_latent().expand(S, n, d)
        p_prev = None
        keys = ("fl", "el", "kl", "logp", "logq", "loc", "scale")
        acc: dict[str, list] = {k: [] for k in keys}
        q = None
        for s in range(len(graph)):
            if likelihood:
                ctx = None if contexts is None else contexts[s]
                fl, el = self._step_ll(z, graph, s, method, generator, ctx)
                acc["fl"].append(fl)
                acc["el"].append(el)
            # Scheduled sampling (Problem 4.5): the transition's input Z̃_s is the posterior sample
            # Z_s with probability ε (one coin per sample and step), else Ẑ_s ~ p(·|Z̃_{s-1}).
            if s > 0 and teacher_forcing < 1.0:
                if c.deterministic:
                    z_hat = p_prev.mean
                else:
                    z_hat = _sample1(p_prev, generator)
                coin = torch.rand(S, 1, 1, generator=generator, device=z.device) < teacher_forcing
                z_tilde = torch.where(coin, z, z_hat)
            else:
                z_tilde = z
            p = self.prior(z_tilde)
            q = self.posterior(summaries[s], z)
            z_next = q.mean if c.deterministic else _sample1(q, generator)
            acc["kl"].append(self._kl_elements(q, p, z_next, kind))
            if not c.deterministic:
                acc["logq"].append(q.log_prob(z_next).sum(-1))
                lp = p.log_prob(z_next)
                acc["logp"].append(lp if c.transition_mixture == "graph" else lp.sum(-1))
            acc["loc"].append(q.base_dist.loc)
            acc["scale"].append(q.base_dist.scale)
            p_prev, z = p, z_next
        out = {k: torch.stack(v, dim=1) for k, v in acc.items() if v}  # (S, T, ...)
        out["z_last"], out["q_last"], out["summary_last"] = z, q, summaries[-1]
        return out

    # ------------------------------------------------------------------ objectives
    def elbo(
        self,
        graph: TemporalGraph,
        *,
        num_samples: int = 1,
        kl_weight: float = 1.0,
        free_bits: float = 0.0,
        kl_transform: KLTransform | None = None,
        teacher_forcing: float = 1.0,
        reduction: str = "sum",
        adjacency: str | None = None,
        generator: torch.Generator | None = None,
    ) -> ELBOOutput:
        r"""Temporal ELBO of ``graph`` with ``S = num_samples`` posterior trajectories.

        ``ELBO = Σ_t (F_t + E_t − KL_t)`` (module docstring), each term averaged over the ``S``
        samples. Node masks: absent nodes are excluded from ``F_t`` and ``E_t``; the latent chain
        covers all ``N`` nodes, so ``KL_t`` sums over all of them (a valid bound on the
        likelihood of the observed part).

        The loss (to minimise) is ``−J / D`` with ``J = Σ_t F_t + Σ_t E_t − β R``:

        * ``reduction="sum"``: ``D = 1`` — with ``β = 1``, no free bits and ``teacher_forcing=1``
          the loss is exactly ``−elbo``;
        * ``"mean_node"``: ``D = Σ_t n_t`` (observed node-steps): the same objective per node-step;
        * ``"mean_edge"``: a *re-weighted* objective, ``−(Σ_t E_t / P + (Σ_t F_t − β R) / M)`` with
          ``P`` observed node pairs and ``M`` observed node-steps (VGAE/VGRNN-style normalisation;
          it changes the balance between edges and the rest, so it is not proportional to the ELBO).

        Args:
            num_samples: ``S`` trajectories ``Z_{1:T} ~ q`` (vectorised).
            kl_weight: ``β`` multiplying the regulariser ``R`` in the loss (KL annealing).
            free_bits: ``λ`` nats per latent dimension per node per step (Kingma et al. 2016):
                ``R = T·N·Σ_d max(λ, KL̄_d)`` with ``KL̄_d`` the mean over samples, steps and nodes
                (:func:`dyngraphvae.collapse.free_bits`); needs a factorised (non-mixture) prior.
            kl_transform: custom regulariser: called with the element-wise divergence terms
                ``(S, T, N, d)`` (mixture priors: ``(S, T, N, 1)`` per node or ``(S, T, 1, 1)`` per
                graph) and returning the scalar ``R`` on the scale of ``Σ_t KL_t`` (sum over steps
                and nodes, mean over samples). Overrides ``free_bits``.
            teacher_forcing: ``ε``: probability that the transition prior's input is the posterior
                sample ``Z_t`` (one coin per sample and step); otherwise the model's own rollout
                ``Ẑ_t ~ p(·|Z̃_{t-1})``. Only ``KL_t`` changes (it becomes
                ``KL(q(Z_{t+1}|Z_t, G) || p(Z_{t+1}|Z̃_t))``); the decoder and the posterior keep
                using the posterior sample. With ``ε < 1`` the result is a training objective,
                not a bound (``is_bound=False``).
            reduction: ``"sum"``, ``"mean_node"`` or ``"mean_edge"`` (above).
            adjacency: override the edge evaluator (``auto|dense|sparse``).
            generator: seeds every random draw (samples, coins, sparse negatives, context
                dropout).

        Autoregressive decoder (``decoder_context != "none"``): ``F_t``, ``E_t`` condition on the
        observed ``G_{≤t}`` (teacher forcing of the context). In ``train()`` mode with
        ``decoder_input_dropout = p > 0`` each context input is blanked with probability ``p``
        (:meth:`decoder_contexts`); the result is then the ELBO of a randomly weakened decoder,
        a training objective (``is_bound=False``). Never applied in ``eval()`` mode, nor by
        :meth:`log_weights`, :meth:`iw_bound`, :meth:`filter`, :meth:`forecast`.
        """
        graph = self._prepare(graph, "elbo")
        c = self.config
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"elbo: num_samples must be a positive integer, got {num_samples!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"elbo: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"elbo: teacher_forcing must lie in [0, 1], got {teacher_forcing}")
        if not (math.isfinite(kl_weight) and kl_weight >= 0):
            raise ValueError(f"elbo: kl_weight must be finite and >= 0, got {kl_weight}")
        if not (math.isfinite(free_bits) and free_bits >= 0):
            raise ValueError(f"elbo: free_bits must be finite and >= 0, got {free_bits}")
        if free_bits > 0 and kl_transform is None and not self.factorised_prior:
            raise ValueError(
                "elbo: per-dimension free bits need a factorised prior, but the transition is a "
                f"{c.transition_components}-component mixture whose KL does not split over "
                "dimensions; pass kl_transform= to regularise the per-node/per-graph terms"
            )
        # Decoder weakening (word dropout): only for the teacher-forced context, only in training.
        weaken = c.decoder_input_dropout if (self.training and self.autoregressive) else 0.0
        tr = self._trajectory(
            graph, int(num_samples), teacher_forcing=float(teacher_forcing),
            generator=generator, method=self._method(adjacency), context_dropout=weaken,
        )
        T, n = len(graph), c.num_nodes
        fl, el = tr["fl"].mean(0), tr["el"].mean(0)  # (T,)
        kl_el = tr["kl"]  # (S, T, ., .)
        kl_t = kl_el.sum((-1, -2)).mean(0)
        per_step = fl + el - kl_t
        if kl_transform is not None:
            reg = kl_transform(kl_el)
            if not isinstance(reg, Tensor) or reg.dim() != 0:
                raise ValueError("elbo: kl_transform must return a scalar tensor")
        elif free_bits > 0:
            from dyngraphvae.collapse.free_bits import free_bits as _free_bits

            reg = _free_bits(
                kl_el, free_bits, "dimension", reduce_over=(0, 1, 2), reduction="mean"
            ) * (T * n)
        else:
            reg = kl_t.sum()
        mask = graph.node_mask
        counts = (
            mask.sum(-1).to(torch.float64)
            if mask is not None
            else torch.full((T,), float(n), dtype=torch.float64)
        )
        pairs_t = counts * (counts - 1) * (1.0 if c.directed else 0.5)
        m_nodes, m_pairs = int(counts.sum().item()), int(pairs_t.sum().item())
        rec_f, rec_e = fl.sum(), el.sum()
        if reduction == "sum":
            loss = -(rec_f + rec_e - kl_weight * reg)
        elif reduction == "mean_node":
            loss = -(rec_f + rec_e - kl_weight * reg) / max(m_nodes, 1)
        else:
            loss = -(rec_e / max(m_pairs, 1) + (rec_f - kl_weight * reg) / max(m_nodes, 1))
        loc, scale = tr["loc"], tr["scale"]  # (S, T, N, d)
        post_loc = loc.mean(0)
        # law of total variance written out: Tensor.var over a leading dim takes a slow CPU
        # reduction path (0.6 s vs 0.04 s at N=1e5, T=5; benchmarks/speed.py)
        post_scale = (scale.pow(2) + (loc - post_loc).pow(2)).mean(0).sqrt()
        kl_per_dim = kl_el.mean((0, 1, 2)) if kl_el.size(-1) == c.latent_dim and kl_el.size(
            -2) == n else None
        return ELBOOutput(
            elbo=per_step.sum(),
            loss=loss,
            feature_ll=fl,
            edge_ll=el,
            kl=kl_t,
            per_step_elbo=per_step,
            kl_per_dim=kl_per_dim,
            posterior_loc=post_loc,
            posterior_scale=post_scale,
            regulariser=reg,
            reduction=reduction,
            teacher_forcing=float(teacher_forcing),
            num_samples=int(num_samples),
            is_bound=(c.divergence == "kl" and not c.deterministic_decoder
                      and teacher_forcing == 1.0 and weaken == 0.0),
            num_observed_nodes=m_nodes,
            num_observed_pairs=m_pairs,
        )

    def log_weights(
        self,
        graph: TemporalGraph,
        num_samples: int,
        *,
        adjacency: str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Whole-trajectory importance log-weights ``(K,)``:
        ``log w_k = Σ_t [log p(G_{t+1}|Z_t^k) + log p(Z_{t+1}^k|Z_t^k)
        − log q(Z_{t+1}^k|Z_t^k, G)]``, ``Z^k_{1:T} ~ q`` (vectorised over ``K``);
        ``E[log w] = ELBO``."""
        graph = self._prepare(graph, "log_weights")
        if self.config.deterministic_decoder:
            raise ValueError("log_weights: the deterministic decoder has no density (Problem 4.3)")
        method = self._method(adjacency)
        tr = self._trajectory(graph, num_samples, generator=generator, method=method)
        return (tr["fl"] + tr["el"] + tr["logp"] - tr["logq"]).sum(1)

    def iw_bound(
        self,
        graph: TemporalGraph,
        num_samples: int,
        *,
        batch_size: int | None = None,
        adjacency: str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Importance-weighted bound (Burda et al. 2016) with ``K = num_samples`` whole
        trajectories:

        ``L_K = logsumexp_k log w_k − log K ≤ log p(G_{1:T})``, ``E[L_1] = ELBO``, ``E[L_K]``
        non-decreasing in ``K`` (:meth:`log_weights`). Per-step resampling would be SMC instead.

        ``batch_size`` evaluates the ``K`` trajectories in chunks (memory). The edge evaluator
        defaults to ``"dense"`` when ``N <= dense_max_nodes`` (the sparse estimator is unbiased
        for ``log p(A)`` but not inside the log-sum-exp), else the configured one.
        """
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(
                f"iw_bound: num_samples must be a positive integer, got {num_samples!r}"
            )
        if adjacency is None:
            adjacency = (
                "dense" if self.config.num_nodes <= self.config.dense_max_nodes
                else self.config.adjacency
            )
        bs = num_samples if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError(f"iw_bound: batch_size must be >= 1, got {batch_size!r}")
        lw = torch.cat([
            self.log_weights(graph, min(bs, num_samples - i), adjacency=adjacency,
                             generator=generator)
            for i in range(0, num_samples, bs)
        ])
        return importance_weighted_bound(lw, 0)

    # ------------------------------------------------------------------ filtering & forecasting
    def initial_state(self, num_samples: int = 1) -> FilterState:
        """The state before any snapshot: ``Z_0`` repeated ``S`` times (``T = 0``)."""
        c = self.config
        z = self.initial_latent().expand(num_samples, c.num_nodes, c.latent_dim)
        ctx = self._empty_context() if self.autoregressive else None
        return FilterState(z=z, posterior=None, summary=None, num_snapshots=0, context=ctx)

    def filter(
        self,
        graph: TemporalGraph,
        num_samples: int = 1,
        *,
        generator: torch.Generator | None = None,
    ) -> FilterState:
        r"""Run the filtering posterior over ``G_{1:T}``: ``S`` joint samples of ``Z_T`` and
        ``q(Z_T | Z_{T-1}^{(s)}, G_{1:T})`` (see :class:`FilterState`)."""
        graph = self._prepare(graph, "filter")
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"filter: num_samples must be a positive integer, got {num_samples!r}")
        tr = self._trajectory(graph, int(num_samples), generator=generator, likelihood=False)
        q = None if self.config.deterministic else tr["q_last"]
        ctx = self.decoder_contexts(graph, len(graph))[-1] if self.autoregressive else None
        return FilterState(z=tr["z_last"], posterior=q, summary=tr["summary_last"],
                           num_snapshots=len(graph), context=ctx)

    def forecast(
        self,
        graph_or_state: TemporalGraph | FilterState,
        horizon: int,
        num_samples: int | None = None,
        *,
        generator: torch.Generator | None = None,
        requires_grad: bool = False,
    ) -> Forecast:
        r"""Roll out ``S`` futures over ``H`` steps, vectorised over samples (Problem 4.4):

        ``Ẑ_T ~ q`` (filtered), then for ``k = 0..H-1``: ``X̂_{T+k+1} ~ p(X | Ẑ_{T+k})`` and
        ``Ẑ_{T+k+1} ~ p(Z | Ẑ_{T+k})`` (edges ``Â ~ p(A | Ẑ)`` on demand from the returned
        :class:`Forecast`, since the transition is Markov in ``Z`` and does not read ``Â``).

        Args:
            graph_or_state: the history ``G_{1:T}`` (filtered here with ``S`` samples) or a
                :class:`FilterState` with ``S`` or 1 samples (1 is repeated ``S`` times).
            horizon: ``H >= 1``.
            num_samples: ``S`` (default: the state's, or 1 for a graph).
            generator: seeds all draws.
            requires_grad: keep the autograd graph (default: run under ``no_grad``).
        """
        if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
            raise ValueError(f"forecast: horizon must be a positive integer, got {horizon!r}")
        if num_samples is not None and (isinstance(num_samples, bool)
                                        or int(num_samples) != num_samples or num_samples < 1):
            raise ValueError(
                f"forecast: num_samples must be a positive integer, got {num_samples!r}")
        with torch.set_grad_enabled(requires_grad and torch.is_grad_enabled()):
            if isinstance(graph_or_state, FilterState):
                state = graph_or_state
            else:
                state = self.filter(graph_or_state, num_samples or 1, generator=generator)
            S = state.num_samples if num_samples is None else int(num_samples)
            z = state.z
            if z.size(0) != S:
                if z.size(0) != 1:
                    raise ValueError(
                        f"forecast: the state holds {z.size(0)} samples but num_samples={S}; "
                        "filter with the same number of samples or with 1"
                    )
                z = z.expand(S, *z.shape[1:])
            z = z.to(self.device)
            c = self.config
            if self.autoregressive:
                return self._forecast_autoregressive(state, z, int(horizon), generator)
            zs, means, vars_, xs = [], [], [], []
            for _ in range(int(horizon)):
                zs.append(z)
                if self.feature_decoder is not None:
                    out = self.feature_decoder(z)
                    step = feature_step(out, c.deterministic_decoder, generator)
                    for acc, v in zip((means, vars_, xs), step, strict=True):
                        acc.append(v)
                z = self.next_latent(z, generator)
            return self._assemble_forecast(state, zs, means, vars_, xs)

    def next_latent(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One rollout step ``Ẑ_{t+1} ~ p(Z | Ẑ_t)`` (its mean for the deterministic ablation),
        for any leading sample/origin dimensions of ``z (..., N, d)``."""
        p = self.prior(z)
        return p.mean if self.config.deterministic else _sample1(p, generator)

    def _assemble_forecast(self, state: FilterState, zs: list[Tensor], means: list[Tensor],
                           vars_: list[Tensor], xs: list[Tensor], **extra: Any) -> Forecast:
        """Stack per-step rollout lists along the horizon dim into a :class:`Forecast`."""
        c = self.config

        def stack(v: list[Tensor]) -> Tensor | None:
            return torch.stack(v, dim=1) if self.feature_decoder is not None else None

        return Forecast(
            z=torch.stack(zs, dim=1),
            feature_mean=stack(means),
            feature_var=stack(vars_),
            x=stack(xs),
            start=state.num_snapshots,
            directed=c.directed,
            deterministic=c.deterministic,
            edge_decoder=self.edge_decoder,
            dense_max_nodes=c.dense_max_nodes,
            **extra,
        )

    def _forecast_autoregressive(
        self, state: FilterState, z: Tensor, horizon: int, generator: torch.Generator | None
    ) -> Forecast:
        r"""Rollout of the autoregressive decoder: at step ``k`` sample
        ``X̂_{T+k+1} ~ p(X | Ẑ_{T+k}, X̂_{T+k})`` and ``Â_{T+k+1} ~ p(A | Ẑ_{T+k}, Â_{T+k}, Ĥ_{T+k})``
        (row blocks of pairs, O(S·N²) time and O(E) memory per step, any ``N``), feed them back
        as the next context (sparse keys, one row per sample), and ``Ẑ_{T+k+1} ~ p(Z | Ẑ_{T+k})``.
        Step 0's context is the observed history in ``state``."""
        c = self.config
        S, n = z.size(0), c.num_nodes
        ctx = state.context
        if ctx is None:
            if state.num_snapshots != 0:
                raise ValueError(
                    "forecast: the model's decoder is autoregressive but the FilterState has no "
                    "decoder context; build the state with model.filter(graph) (or pass the graph)"
                )
            ctx = self._empty_context()
        decay = c.history_decay if c.decoder_context == "history" else None
        zs, means, vars_, xs, ctxs, edges = [], [], [], [], [], []
        for k in range(horizon):
            zs.append(z)
            ctxs.append(ctx)
            x_next, e_next = ctx.x, ctx.edges
            if self.feature_decoder is not None:
                out = self.decode_features(z, ctx)
                step = feature_step(out, c.deterministic_decoder, generator)
                for acc, v in zip((means, vars_, xs), step, strict=True):
                    acc.append(v)
                x_next = xs[-1]
            if self.edge_decoder is not None:
                coords = _sample_edge_coords(self.edge_scorer(ctx), z, c.directed,
                                             c.deterministic, generator)  # (3, E): b, u, v
                edges.append(torch.cat([coords[:1], torch.full_like(coords[:1], k),
                                        coords[1:]]))
                e_next = EdgeContext.from_edges(coords, n, c.directed, S, ctx.edges, decay)
            ctx = DecoderContext(edges=e_next, x=x_next)
            z = self.next_latent(z, generator)
        return self._assemble_forecast(
            state, zs, means, vars_, xs,
            edge_context=self.edge_context,
            contexts=ctxs,
            sampled_edges=(torch.cat(edges, dim=1) if edges
                           else None),
        )

    def predictive_log_likelihood(
        self,
        graph: TemporalGraph,
        start: int,
        horizon: int = 1,
        num_samples: int = 100,
        *,
        adjacency: str | None = None,
        generator: torch.Generator | None = None,
    ) -> PredictiveLogLikelihood:
        r"""Monte Carlo ``log p(G_{T+h} | G_{1:T})`` for ``h = 1..H`` with ``T = start``.

        Conditions on snapshots ``0..start-1`` of ``graph`` (``start = 0``: on nothing, from
        ``Z_0``), forecasts ``S`` trajectories and scores snapshots ``start..start+H-1``:
        ``logsumexp_s log p(G_{T+h} | Ẑ^{(s)}_{T+h-1}) − log S`` (see
        :class:`PredictiveLogLikelihood`). Absent nodes are excluded.
        """
        graph = self._prepare(graph, "predictive_log_likelihood")
        if self.config.deterministic_decoder:
            raise ValueError(
                "predictive_log_likelihood: the deterministic decoder has no density (Problem 4.3)"
            )
        if isinstance(start, bool) or int(start) != start or start < 0:
            raise ValueError(
                f"predictive_log_likelihood: start must be an integer >= 0, got {start}"
            )
        graph.require_snapshots(start + horizon, f"predictive_log_likelihood(start={start}, "
                                                 f"horizon={horizon})")
        with torch.no_grad():
            if start == 0:
                state = self.initial_state(num_samples)
            else:
                state = self.filter(graph[:start], num_samples, generator=generator)
            fc = self.forecast(state, horizon, num_samples, generator=generator)
            method = self._method(adjacency)
            fls, els, fms = [], [], []
            for k in range(horizon):
                # autoregressive decoder: conditioned on the trajectory's own sampled past
                ctx = fc.contexts[k] if fc.autoregressive else None
                fl, el = self._step_ll(fc.z[:, k], graph, start + k, method, generator, ctx)
                fls.append(fl)
                els.append(el)
                if self.feature_decoder is not None:
                    fn = self._feature_ll(fc.z[:, k], graph, start + k, per_node=True,
                                          context=ctx)  # (S, N)
                    fms.append((torch.logsumexp(fn, dim=0) - math.log(num_samples)).sum())
            fl, el = torch.stack(fls), torch.stack(els)  # (H, S)
            log_s = math.log(num_samples)

            def lme(v: Tensor) -> Tensor:
                return torch.logsumexp(v, dim=1) - log_s

            mask = graph.node_mask
            counts = torch.tensor(
                [int(mask[start + k].sum()) if mask is not None else self.config.num_nodes
                 for k in range(horizon)]
            )
            return PredictiveLogLikelihood(
                feature=lme(fl) if self.feature_decoder is not None else None,
                feature_marginal=torch.stack(fms) if fms else None,
                edge=lme(el) if self.edge_decoder is not None else None,
                joint=lme(fl + el),
                num_observed_nodes=counts,
                num_samples=int(num_samples),
            )

    def amortization_gap(self, graph: TemporalGraph, **kwargs) -> TemporalAmortizationGap:
        """Amortization gap of the posterior on ``graph``: :func:`amortization_gap` (same
        keyword arguments)."""
        return amortization_gap(self, graph, **kwargs)

    def extra_repr(self) -> str:
        c = self.config
        return (f"N={c.num_nodes}, F={c.num_features}, d={c.latent_dim}, H={c.hidden_dim}, "
                f"K={c.transition_components}, divergence={c.divergence!r}")


# ==================================================================================================
# conversion helpers
# ==================================================================================================
def _edges_both(ei: Tensor, directed: bool) -> Tensor:
    return ei if directed else torch.cat([ei, ei.flip(0)], dim=1)


def forecast_to_data(
    forecast: Forecast, sample: int = 0, step: int = 0, generator: torch.Generator | None = None
):
    r"""One sampled future graph ``Ĝ_{T+step+1}`` of trajectory ``sample`` as a PyG ``Data``.

    Fields: ``edge_index`` (undirected: both directions, PyG's convention), ``x`` (sampled
    features, if any), ``num_nodes``, ``t`` (the snapshot index ``start + step``).
    """
    from torch_geometric.data import Data

    ei = forecast.sample_edge_index(sample, step, generator=generator)
    data = Data(edge_index=_edges_both(ei, forecast.directed), num_nodes=forecast.num_nodes)
    if forecast.x is not None:
        data.x = forecast.x[sample, step]
    data.t = forecast.start + step
    return data


def forecast_to_networkx(
    forecast: Forecast, sample: int = 0, step: int = 0, generator: torch.Generator | None = None
):
    """One sampled future graph as a ``networkx.Graph`` (``DiGraph`` if directed); nodes ``0..N-1``
    carry their sampled features as the attribute ``"x"`` (a list) when the model has features."""
    import networkx as nx

    ei = forecast.sample_edge_index(sample, step, generator=generator)
    g = nx.DiGraph() if forecast.directed else nx.Graph()
    if forecast.x is not None:
        xs = forecast.x[sample, step].detach().cpu().tolist()
        g.add_nodes_from((v, {"x": xs[v]}) for v in range(forecast.num_nodes))
    else:
        g.add_nodes_from(range(forecast.num_nodes))
    g.add_edges_from(ei.t().cpu().tolist())
    g.graph["t"] = forecast.start + step
    return g


def forecast_to_temporal_graph(
    forecast: Forecast, sample: int = 0, generator: torch.Generator | None = None
) -> TemporalGraph:
    """Trajectory ``sample`` (all ``H`` steps, sampled edges and features) as a TemporalGraph."""
    edges = [forecast.sample_edge_index(sample, k, generator=generator)
             for k in range(forecast.horizon)]
    x = None if forecast.x is None else forecast.x[sample].detach()
    return TemporalGraph(edges, forecast.num_nodes, directed=forecast.directed, x=x,
                         name=f"forecast[sample={sample}]")


# ==================================================================================================
# amortization gap (Cremer, Li & Duvenaud 2018) of the temporal posterior
# ==================================================================================================
AMORTIZATION_FAMILIES = ("residual", "mean_field")
"""Local variational families of :func:`amortization_gap`."""


@dataclass(frozen=True)
class TemporalAmortizationGap:
    r"""Result of :func:`amortization_gap` for one sequence (scalars are sequence ELBOs in nats).

    Attributes:
        elbo_encoder: ELBO of the amortised posterior ``q_φ`` (Monte Carlo over the evaluation
            noise).
        elbo_initial: ELBO of the local family at its initialisation (equal to ``elbo_encoder``
            for ``"residual"``, whose initialisation *is* ``q_φ``).
        elbo_refined: ELBO of the refined local posterior ``q_λ*`` (same evaluation noise).
        amortization_gap: ``elbo_refined − elbo_encoder`` (``"residual"``: the amortization gap
            with respect to the local family; ``"mean_field"``: it also contains the difference
            between the Markov and the mean-field families, so it may be negative).
        standard_error: Monte Carlo standard error of the paired difference.
        family: ``"residual"`` or ``"mean_field"``.
        loc, log_scale: ``(T, N, d)`` refined local parameters (offsets for ``"residual"``).
        history: training objective (fixed-noise ELBO) before each step and after the last.
    """

    elbo_encoder: Tensor
    elbo_initial: Tensor
    elbo_refined: Tensor
    amortization_gap: Tensor
    standard_error: Tensor
    family: str
    loc: Tensor
    log_scale: Tensor
    history: Tensor


def _local_elbo(
    model: TemporalGraphVAE,
    graph: TemporalGraph,
    summaries: Tensor,
    contexts: list[DecoderContext] | None,
    eps: Tensor,
    loc: Tensor,
    log_scale: Tensor,
    family: str,
    method: str,
    pair_seed: int,
) -> Tensor:
    r"""Per-trajectory ELBOs ``(K,)`` of the local posterior with fixed noise ``eps (K, T, N, d)``:
    ``Σ_t [log p(G_{t+1} | Z_t[, G_{≤t}]) − KL(q_λ(Z_{t+1} | Z_t) || p(Z_{t+1} | Z_t))]`` along
    ``Z_{t+1} = loc_t(Z_t) + scale_t(Z_t) ⊙ ε_t`` (reparameterised in ``λ``)."""
    K, n, d = eps.size(0), model.config.num_nodes, model.config.latent_dim
    z = model.initial_latent().detach().expand(K, n, d)
    gen = None
    if method == "sparse" or (method == "auto" and n > model.config.dense_max_nodes):
        gen = torch.Generator(device=eps.device).manual_seed(pair_seed)  # same pairs every call
    total = eps.new_zeros(K)
    for s in range(len(graph)):
        ctx = None if contexts is None else contexts[s]
        fl, el = model._step_ll(z, graph, s, method, gen, ctx)
        p = model.prior(z)
        if family == "residual":
            base = model.posterior(summaries[s], z).base_dist
            mu, sd = base.loc + loc[s], base.scale * log_scale[s].exp()
        else:
            mu, sd = loc[s].expand(K, n, d), log_scale[s].exp().expand(K, n, d)
        q = Independent(Normal(mu, sd), 1)
        z_next = mu + sd * eps[:, s]
        kl = model._kl_elements(q, p, z_next, "kl").sum((-1, -2))
        total = total + fl + el - kl
        z = z_next
    return total


def amortization_gap(
    model: TemporalGraphVAE,
    graph: TemporalGraph,
    *,
    family: str = "residual",
    steps: int = 200,
    lr: float = 5e-2,
    num_samples: int = 8,
    eval_samples: int = 256,
    init_samples: int = 256,
    adjacency: str | None = None,
    generator: torch.Generator | None = None,
) -> TemporalAmortizationGap:
    r"""Amortization gap of the temporal posterior on one sequence (Cremer, Li & Duvenaud,
    "Inference Suboptimality in Variational Autoencoders", ICML 2018; Problem 4 item 7).

    The amortised posterior is Markov, ``q_φ(Z_{t+1} | Z_t, G_{1:t+1}) = N(μ_φ(h_{t+1}, Z_t),
    diag σ_φ²(h_{t+1}, Z_t))``: its parameters are functions of the sampled ``Z_t``, not a fixed
    ``(T, N, d)`` array. Two local families with free parameters ``λ = (m, ℓ) ∈ R^{T×N×d} ×
    R^{T×N×d}`` replace it:

    * ``"residual"`` (default): ``q_λ(Z_{t+1} | Z_t) = N(μ_φ(h_{t+1}, Z_t) + m_t,
      diag (σ_φ(h_{t+1}, Z_t) e^{ℓ_t})²)``, initialised at ``λ = 0``, where it *is* ``q_φ`` (the
      Markov dependence on the sampled path is kept; each step's mean and log-scale are refined
      given the path). ``L[q_λ*] − L[q_φ] ≥ 0`` is the amortization gap with respect to this
      family (a lower bound on the gap of any larger family).
    * ``"mean_field"``: ``q_λ(Z_{1:T}) = Π_t N(m_t, diag e^{2ℓ_t})`` (no dependence on ``Z_t``),
      initialised at the encoder's Monte Carlo filtering marginals (mean and total-variance
      standard deviation over ``init_samples`` posterior trajectories, as
      ``ELBOOutput.posterior_loc/scale``). The reported difference mixes amortization with the
      change of family.

    ``λ`` is refined by :func:`dyngraphvae.amortization.refine_posterior` (Adam, ``steps``, ``lr``)
    on the reparameterised ELBO with ``num_samples`` fixed noise paths (sample-average
    approximation; the sparse edge estimator, if used, keeps the same pairs at every step); the
    model's parameters receive no gradient. The reported ELBOs use ``eval_samples`` fresh paths
    shared by ``q_φ`` and ``q_λ*`` (paired difference). The edge term is exact (dense) when
    ``N ≤ dense_max_nodes`` unless ``adjacency`` says otherwise. The autoregressive decoder
    conditions on the observed past (no input dropout).
    """
    from dyngraphvae.amortization import refine_posterior

    if not isinstance(model, TemporalGraphVAE):
        raise TypeError(f"amortization_gap: expected a TemporalGraphVAE, got "
                        f"{type(model).__name__}")
    if family not in AMORTIZATION_FAMILIES:
        raise ValueError(f"amortization_gap: family must be one of {AMORTIZATION_FAMILIES}, "
                         f"got {family!r}")
    c = model.config
    if c.deterministic_decoder or c.deterministic:
        raise ValueError("amortization_gap: the deterministic ablation has no ELBO (Problem 4.3)")
    for name, v in (("num_samples", num_samples), ("eval_samples", eval_samples),
                    ("init_samples", init_samples)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"amortization_gap: {name} must be a positive integer, got {v!r}")
    graph = model._prepare(graph, "amortization_gap")
    if adjacency is None:
        adjacency = "dense" if c.num_nodes <= c.dense_max_nodes else c.adjacency
    method = model._method(adjacency)
    T, n, d = len(graph), c.num_nodes, c.latent_dim
    dev = model.device
    with torch.no_grad():
        summaries = model.summarise(graph)
        contexts = model.decoder_contexts(graph) if model.autoregressive else None
        if family == "residual":
            loc0 = torch.zeros(T, n, d, device=dev)
            ls0 = torch.zeros(T, n, d, device=dev)
        else:
            tr = model._trajectory(graph, int(init_samples), generator=generator,
                                   likelihood=False)
            loc0 = tr["loc"].mean(0)
            ls0 = 0.5 * (tr["scale"].pow(2).mean(0) + tr["loc"].var(0, unbiased=False)).log()
    pair_seed = int(torch.randint(0, 2**62, (1,), generator=generator))

    def noise(k: int) -> Tensor:
        return torch.randn((k, T, n, d), generator=generator, device=dev)

    def make(eps: Tensor, fam: str) -> Callable[[Tensor, Tensor], Tensor]:
        def fn(mu: Tensor, ls: Tensor) -> Tensor:  # flat (1, T·N·d) -> (1,)
            return _local_elbo(model, graph, summaries, contexts, eps,
                               mu.reshape(T, n, d), ls.reshape(T, n, d), fam, method,
                               pair_seed).mean().reshape(1)

        return fn

    res = refine_posterior(loc0.reshape(1, -1), ls0.reshape(1, -1),
                           make(noise(int(num_samples)), family), steps=int(steps), lr=lr)
    eps = noise(int(eval_samples))
    with torch.no_grad():
        zero = torch.zeros(T, n, d, device=dev)
        enc = _local_elbo(model, graph, summaries, contexts, eps, zero, zero, "residual",
                          method, pair_seed)
        init = enc if family == "residual" else _local_elbo(
            model, graph, summaries, contexts, eps, loc0, ls0, family, method, pair_seed)
        ref = _local_elbo(model, graph, summaries, contexts, eps,
                          res.loc.reshape(T, n, d), res.log_scale.reshape(T, n, d), family,
                          method, pair_seed)
    diff = ref - enc
    se = diff.std() / math.sqrt(diff.numel()) if diff.numel() > 1 else diff.new_zeros(())
    return TemporalAmortizationGap(
        elbo_encoder=enc.mean(),
        elbo_initial=init.mean(),
        elbo_refined=ref.mean(),
        amortization_gap=diff.mean(),
        standard_error=se,
        family=family,
        loc=res.loc.reshape(T, n, d),
        log_scale=res.log_scale.reshape(T, n, d),
        history=res.history,
    )

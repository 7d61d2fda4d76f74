r"""Sampled futures: the :class:`Forecast` container, the edge sampler and converters to PyG,
networkx and :class:`~dyngraphvae.data.temporal_graph.TemporalGraph`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Distribution

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.distributions import sample as _draw
from dyngraphvae.models.context import (
    ContextScorer,
    DecoderContext,
    EdgeContextTerm,
    OffsetScorer,
)
from dyngraphvae.nn.decoders import EdgeDecoder

__all__ = [
    "Forecast",
    "feature_step",
    "forecast_to_data",
    "forecast_to_networkx",
    "forecast_to_temporal_graph",
    "sample_edge_coords",
    "sample_one",
]


def sample_one(d: Distribution, generator: torch.Generator | None) -> Tensor:
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
    return out.mean, out.variance, sample_one(out, generator)





def sample_edge_coords(
    decoder: EdgeDecoder,
    z: Tensor,
    directed: bool,
    deterministic: bool,
    generator: torch.Generator | None,
    max_block: int = 1 << 22,
) -> Tensor:
    r"""Sample ``A ~ Bernoulli(σ(s(z_u, z_v)))`` for every batch row of ``z (B, N, d)``.

    Returns a ``(3, E)`` long tensor of ``(batch, u, v)``; undirected edges once with ``u < v``,
    no self-loops. Evaluated in row blocks so memory stays ``O(max_block)`` for any ``N``; a
    scorer with ``block_logits`` (the edge decoder, with or without a decoder context) scores a
    block with one matrix product, otherwise the block's pairs are gathered.
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
        if hasattr(decoder, "block_logits"):  # one matrix product per block, same pair order
            block = decoder.block_logits(z, i, i + rows.numel())  # (B, R, N)
            logits = block.reshape(b, -1)[:, keep]
        else:
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
            (``decoder_context != "none"``), a list of one term per step for the direct
            multi-horizon decoder (``context_leads > 1``), else ``None``.
        contexts: autoregressive decoder only: the :class:`DecoderContext` used at each step
            ``k`` (``k = 0``: the observed history, shared; ``k ≥ 1``: the trajectory's own sampled
            ``Â_{T+k}``, ``Ĥ_{T+k}``, ``X̂_{T+k}``, one row per sample; with ``context_leads > 1``
            the edges are the observed history aged ``k`` snapshots, shared).
        sampled_edges: autoregressive decoder only: ``(4, E)`` rows ``(sample, step, u, v)`` of the
            sampled graphs ``Â_{T+k+1}`` (undirected: ``u < v`` once). They were drawn during the
            rollout (each feeds the next step), so :meth:`sample_adjacency` returns them.
        edge_offsets: ``(S, H)`` draws of the snapshot effect ``δ`` added to every logit of
            sample ``s`` at step ``k`` (``ForecasterConfig.snapshot_effect``; zeros with node
            effects alone), or ``None``.
        snapshot_scale: the standard deviation of all the random intercepts of a pair at each
            step (the snapshot effect's ``τ``, with node effects ``√(τ² + τ_out² + τ_in²)``).
        node_offsets: ``(2, S, H, N)`` draws of the sender and receiver intercepts (centred;
            ``ForecasterConfig.node_effect``), or ``None``.
        node_var: the variance they add to a pair's logit; with them every logit ``ℓ`` is
            first mapped to :func:`~dyngraphvae.models.random_effect.marginal_logit` ``m(ℓ)``, so
            that each pair keeps its probability.
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
    edge_context: EdgeContextTerm | list[EdgeContextTerm] | None = None
    contexts: list[DecoderContext] | None = None
    sampled_edges: Tensor | None = None
    edge_offsets: Tensor | None = None
    snapshot_scale: tuple[float, ...] | None = None
    node_offsets: Tensor | None = None
    node_var: float = 0.0

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

    def _scorer(self, k: int) -> EdgeDecoder | ContextScorer:
        dec = self._decoder()
        if not self.autoregressive or self.edge_context is None:
            return dec
        term = self.edge_context[k] if isinstance(self.edge_context, list) else self.edge_context
        scorer = ContextScorer(dec, term, self.contexts[k].edges)
        if self.edge_offsets is None:
            return scorer
        src, tgt = (None, None) if self.node_offsets is None else self.node_offsets[:, :, k]
        return OffsetScorer(scorer, self.edge_offsets[:, k], self.snapshot_scale[k], src, tgt,
                            self.node_var)

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
        r"""Edge probabilities ``π_uv(Ẑ_{T+k})``: ``(S, H, P)`` or dense ``(S, H, N, N)``,
        given each sample's drawn random intercepts (those its graphs were sampled with).

        Average :meth:`predictive_edge_prob` over the sample dimension for the Monte Carlo
        predictive ``p(A_uv = 1 | G_{1:T})``.
        """
        return torch.sigmoid(self.edge_logits(pairs))

    def predictive_edge_prob(self, pairs: Tensor | None = None) -> Tensor:
        r""":meth:`edge_prob` with each step's random intercepts (snapshot effect, node effects)
        integrated out instead of drawn (:meth:`OffsetScorer.predictive`; the same mean, far
        less Monte Carlo noise: a node intercept of scale 1.4 makes one sample's ``σ`` heavy
        tailed); equal to :meth:`edge_prob` without them. Average over the sample dimension for
        the Monte Carlo predictive ``p(A_uv = 1 | G_{1:T})``."""
        if not self.autoregressive or self.edge_decoder is None or self.edge_offsets is None:
            return self.edge_prob(pairs)
        if pairs is None:
            self._guard_dense("predictive_edge_prob")
        out = []
        with torch.set_grad_enabled(self.z.requires_grad):
            for k in range(self.horizon):
                sc, zk = self._scorer(k), self.z[:, k]
                base = (sc.scorer.dense_logits(zk) if pairs is None
                        else sc.scorer.logits(zk, pairs.to(self.z.device)))
                out.append(sc.predictive(base))
        return torch.stack(out, dim=1)

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
                coords = sample_edge_coords(
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
            c = sample_edge_coords(
                self._decoder(), z, self.directed, self.deterministic, generator
            )
        return c[1:]


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

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

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent

from dyngraphvae._checks import check_int
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import encoding, engine
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.context import (
    ContextScorer,
    DecoderContext,
    EdgeContext,
    EdgeContextTerm,
    align_rows,
    decoder_contexts,
    lag_inputs,
    shift_mean,
)
from dyngraphvae.models.forecast import (
    Forecast,
    feature_step,
    forecast_to_data,
    forecast_to_networkx,
    forecast_to_temporal_graph,
    sample_one,
)
from dyngraphvae.models.results import (
    FilterState,
    PredictiveLogLikelihood,
    predictive_log_likelihood,
)
from dyngraphvae.nn.adjacency import adjacency_log_likelihood
from dyngraphvae.nn.decoders import EdgeDecoder, GaussianFeatureDecoder, deterministic_score
from dyngraphvae.nn.encoders import NodeInput, PosteriorHead, SnapshotEncoder
from dyngraphvae.nn.transition import GraphMixtureTransition, GRUTransition
from dyngraphvae.objectives import divergence, importance_weighted_bound
from dyngraphvae.objectives.elbo import REDUCTIONS, ELBOOutput, TemporalELBO

__all__ = [
    "DecoderContext", "EdgeContext", "EdgeContextTerm", "ELBOOutput", "FilterState", "Forecast",
    "PredictiveLogLikelihood", "REDUCTIONS", "TemporalGraphVAE", "feature_step",
    "forecast_to_data", "forecast_to_networkx", "forecast_to_temporal_graph",
]

KLTransform = Callable[[Tensor], Tensor]


class TemporalGraphVAE(nn.Module):
    r"""Temporal graph VAE: GNN-GRU filtering posterior, GRU transition prior, Gaussian/Bernoulli
    decoders (equations in the module docstring and ``docs/model.md``).

    Args:
        config: a :class:`~dyngraphvae.models.config.ForecasterConfig` (sizes, options).
        node_input, encoder, posterior_head, transition, feature_decoder, edge_decoder: modules
            that replace the ones the config would build (as PyG's ``GAE(encoder, decoder)``);
            each must keep the interface of the default (e.g. ``transition(z)`` returns a
            distribution over ``Z_{t+1}``). A model saved with passed-in modules is loaded by
            building it the same way and loading its ``state_dict``.

    Everything returns values (distributions or small dataclasses); nothing is cached on ``self``
    between calls. All sampling accepts an optional ``torch.Generator`` and is vectorised over the
    ``S`` samples (the only Python loops are over time steps and over row blocks).
    """

    def __init__(
        self,
        config: ForecasterConfig,
        *,
        node_input: nn.Module | None = None,
        encoder: nn.Module | None = None,
        posterior_head: nn.Module | None = None,
        transition: nn.Module | None = None,
        feature_decoder: nn.Module | None = None,
        edge_decoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, ForecasterConfig):
            raise TypeError(f"config must be a ForecasterConfig, got {type(config).__name__}")
        self.config = c = config
        n, d = c.num_nodes, c.latent_dim
        # Modules passed in replace the config's; the rest are built from it, in a fixed order
        # (so that with one seed the parameters do not depend on what was passed).
        built = self.modules_from_config(c)
        self.node_input = built["node_input"] if node_input is None else node_input
        self.encoder = built["encoder"] if encoder is None else encoder
        self.summary = built["summary"]
        self.posterior_head = built["posterior_head"] if posterior_head is None else posterior_head
        self.transition = built["transition"] if transition is None else transition
        self.feature_decoder = built["feature_decoder"] if feature_decoder is None \
            else feature_decoder
        self.edge_decoder = built["edge_decoder"] if edge_decoder is None else edge_decoder
        if c.decode_features and self.feature_decoder is None:
            raise ValueError("TemporalGraphVAE: config.decode_features is true but no feature "
                             "decoder was built or passed")
        if c.initial_state == "learned":
            self.z0 = nn.Parameter(0.1 * torch.randn(n, d))
        else:
            self.register_buffer("z0", torch.zeros(n, d))
        # Autoregressive decoder context (created last, so that with the same seed the other
        # parameters equal those of the context-free model). Both start at zero.
        ar = c.decoder_context != "none"
        self.edge_context = (
            EdgeContextTerm(history=c.context_decay is not None, rates=c.context_rates,
                            directed=c.directed)
            if ar and self.edge_decoder is not None else None
        )
        # leads 2..K of the direct multi-horizon decoder (context_leads), each its own term
        self.lead_terms = nn.ModuleList(
            EdgeContextTerm(history=c.context_decay is not None, rates=c.context_rates,
                            directed=c.directed, offset=True) for _ in range(c.context_leads - 1)
        ) if self.edge_context is not None and c.context_leads > 1 else None
        if c.snapshot_effect:  # τ of the snapshot effect, fitted after training
            self.register_buffer("snapshot_scale", torch.zeros(()))
        if c.node_effect:  # (τ_out, τ_in) and ρ, fitted after training
            self.register_buffer("node_scale", torch.zeros(2))
            self.register_buffer("node_corr", torch.zeros(()))
        self.feature_context = None
        if ar and self.feature_decoder is not None:
            self.feature_context = nn.Linear(  # own lags [and their neighbour means]
                c.num_features * c.feature_lags * (2 if c.feature_neighbours else 1),
                c.num_features, bias=False)
            nn.init.zeros_(self.feature_context.weight)

    @staticmethod
    def modules_from_config(config: ForecasterConfig) -> dict[str, nn.Module | None]:
        """The building blocks a config describes, in construction order: ``node_input``,
        ``encoder`` (GNN), ``summary`` (GRU cell), ``posterior_head``, ``transition``
        (:class:`~dyngraphvae.nn.transition.GRUTransition`, or
        :class:`~dyngraphvae.nn.transition.GraphMixtureTransition` for
        ``transition_mixture="graph"``), ``feature_decoder`` and ``edge_decoder`` (``None`` when
        not decoded)."""
        c = config
        d, hdim = c.latent_dim, c.hidden_dim
        out: dict[str, nn.Module | None] = {}
        out["node_input"] = NodeInput(c.num_nodes, c.num_features, c.node_embedding_dim,
                                      c.node_input)
        out["encoder"] = SnapshotEncoder(out["node_input"].out_channels, hdim, hdim, c.encoder,
                                         c.encoder_layers, c.dropout)
        out["summary"] = nn.GRUCell(hdim, hdim)
        out["posterior_head"] = PosteriorHead(hdim, d, hdim, c.min_scale)
        trans = GraphMixtureTransition if c.transition_mixture == "graph" else GRUTransition
        out["transition"] = trans(d, hdim, c.transition_components, c.min_scale,
                                  tied_scale=c.transition_tied_scale)
        out["feature_decoder"] = (
            GaussianFeatureDecoder(
                d, c.num_features, hdim, c.feature_covariance, c.feature_rank,
                deterministic=c.deterministic_decoder, min_scale=c.feature_min_scale,
            )
            if c.decode_features else None
        )
        out["edge_decoder"] = (
            EdgeDecoder(d, c.edge_decoder, c.directed, hdim, bias=c.edge_bias)
            if c.decode_edges else None
        )
        return out

    @classmethod
    def from_config(cls, config: ForecasterConfig) -> TemporalGraphVAE:
        """The model a config describes (every module built from it)."""
        return cls(config)

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
        return getattr(self.transition, "num_components", self.config.transition_components) == 1

    def _prepare(self, graph: TemporalGraph, where: str) -> TemporalGraph:
        self.config.check_graph(graph, where)
        return graph if graph.device == self.device else graph.to(self.device)

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

    def _summaries(self, graph: TemporalGraph, initial: Tensor | None = None) -> list[Tensor]:
        """:meth:`summarise` as a list of ``(N, H)`` tensors, starting from ``h_0 = initial``
        (default zeros; a window of a longer sequence starts from the summary before it):
        :func:`dyngraphvae.models.encoding.summaries` (snapshot-parallel)."""
        return encoding.summaries(self, self._prepare(graph, "summarise"), initial)

    def posterior(self, summary: Tensor, z_prev: Tensor) -> Independent:
        r"""``q(Z_{t+1} | Z_t, G_{1:t+1}) = Π_v N(μ_v, diag σ_v²)`` from ``h_{t+1} (N, H)`` and
        ``Z_t (..., N, d)``; batch ``(..., N)``, event ``(d,)``."""
        return self.posterior_head(summary, z_prev)

    def prior(self, z: Tensor) -> Distribution:
        r"""Transition ``p(Z_{t+1} | Z_t)`` for ``z (..., N, d)``: batch ``(..., N)``, event
        ``(d,)`` (diagonal Normal or per-node mixture), or for ``transition_mixture="graph"`` batch
        ``(...)`` and event ``(N, d)``
        (:class:`~dyngraphvae.nn.transition.GraphMixtureTransition`)."""
        return self.transition(z)

    # ------------------------------------------------------------------ decoder context
    def decoder_contexts(
        self,
        graph: TemporalGraph,
        upto: int | None = None,
        *,
        dropout: float = 0.0,
        generator: torch.Generator | None = None,
        start: DecoderContext | None = None,
    ) -> list[DecoderContext]:
        r"""Contexts of the autoregressive decoder for snapshot indices ``0..upto`` (default
        ``upto = T - 1``): entry ``s`` is what decodes snapshot ``s`` (``G_{s+1}``) besides
        ``Z_s``, i.e. ``A_s``, ``H_s`` and ``x_s`` of snapshot ``s - 1`` (``G_s``); entry 0 is
        empty (no previous graph: ``A_0 = H_0 = 0``, ``x_0 = 0``). Computed once, shared by all
        samples, O(Σ_t E_t) memory (sparse keys). ``upto`` may equal ``T`` (the forecast's first
        step). Previous features of absent nodes are zero.

        ``dropout = p`` blanks each context input with probability ``p`` (fresh coins at every
        step): every stored previous/history pair is removed
        (:func:`dyngraphvae.objectives.drop_edges`) and every node's previous feature vector is
        zeroed (:func:`dyngraphvae.objectives.drop_inputs`). The history recursion itself runs on
        the clean data (:func:`dyngraphvae.models.context.decoder_contexts`).

        ``start``: the context of ``graph[0]`` when ``graph`` is a window of a longer sequence
        (:attr:`FilterState.context` of the prefix before it; default: the empty context).
        """
        if not self.autoregressive:
            raise ValueError("decoder_contexts: the model's decoder has no context "
                             "(decoder_context='none')")
        c = self.config
        return decoder_contexts(
            graph, self._empty_context() if start is None else start, upto=upto,
            directed=c.directed,
            decay=c.context_decay,
            dropout=dropout, generator=generator,
            neighbours=c.feature_neighbours and self.feature_context is not None,
        )

    def _empty_context(self) -> DecoderContext:
        """Context of snapshot 0: no previous graph (``A_0 = H_0 = 0``, ``x_0 = 0``)."""
        c = self.config
        edges = (EdgeContext.empty(c.num_nodes, c.directed, c.context_decay is not None,
                                   self.device, rates=c.context_rates)
                 if self.edge_context is not None else None)
        x = (torch.zeros(c.num_nodes, c.num_features * c.feature_lags, device=self.device)
             if self.feature_context is not None else None)
        return DecoderContext(edges=edges, x=x, observed=0)

    def decoder_context(self, graph: TemporalGraph, step: int) -> DecoderContext:
        """The autoregressive decoder's context of snapshot index ``step`` (``0..T``; see
        :meth:`decoder_contexts`)."""
        graph = self._prepare(graph, "decoder_context")
        return self.decoder_contexts(graph, step)[-1]

    def context_term(self, lead: int = 1) -> EdgeContextTerm | None:
        """The edge context term of forecast lead ``lead`` (1: the one-step term; leads beyond
        ``config.context_leads`` use the last one)."""
        if self.lead_terms is None or lead <= 1:
            return self.edge_context
        return self.lead_terms[min(int(lead), len(self.lead_terms) + 1) - 2]

    def snapshot_offsets(self, num_samples: int, generator: torch.Generator | None = None
                         ) -> Tensor | None:
        """``(S,)`` draws of the snapshot effect ``δ ~ N(0, τ²)`` (``config.snapshot_effect``),
        or ``None`` without it (and for the deterministic ablation: its mode, 0)."""
        if not self.config.snapshot_effect or self.config.deterministic:
            return None
        eps = torch.randn(num_samples, generator=generator, device=self.device)
        return eps * self.snapshot_scale

    def edge_scorer(self, context: DecoderContext | None = None,
                    lead: int = 1) -> EdgeDecoder | ContextScorer:
        r"""The edge scorer of ``p(A_{t+1} | Z_t[, G_t])``: the edge decoder itself, or (with a
        context) ``s(z_u, z_v) + α A_t(u, v) [+ γ H_t(u, v)]`` with the ``logits(z, pairs)`` /
        ``dense_logits(z)`` interface of :class:`~dyngraphvae.nn.decoders.EdgeDecoder`;
        ``lead``: the forecast step's term (:meth:`context_term`)."""
        if self.edge_decoder is None:
            raise ValueError("edge_scorer: the model has no edge decoder")
        if self.edge_context is None:
            return self.edge_decoder
        if context is None or context.edges is None:
            raise ValueError("edge_scorer: the autoregressive decoder needs a DecoderContext "
                             "(see TemporalGraphVAE.decoder_context)")
        return ContextScorer(self.edge_decoder, self.context_term(lead), context.edges)

    def decode_features(
        self, z: Tensor, context: DecoderContext | None = None
    ) -> Distribution | Tensor:
        """``p(X_{t+1} | Z_t)`` (batch ``(..., N)``, event ``(F,)``) or its mean when the decoder
        is deterministic. Autoregressive decoder: ``p(X_{t+1} | Z_t, x_{t-L+1..t})``, the mean
        moved by ``Σ_l W_l x_{t+1-l}`` (``context`` required; ``L = config.feature_lags``) and,
        with ``config.feature_neighbours``, by ``Σ_l V_l (P x)_{t+1-l}`` (neighbour means)."""
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
            x = align_rows(x, tuple(z.shape[:-2]))
        x = lag_inputs(x, context.neighbours, self.config.feature_neighbours)
        return shift_mean(out, self.feature_context(x))

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
        seen = None if context is None else context.observed
        if self.config.feature_full_lags and seen is not None and seen < self.config.feature_lags:
            score = torch.zeros_like(score)  # lags before snapshot 0: the AR(L)'s conditional
        return score if per_node else score.sum(-1)

    def _edge_ll(
        self, z: Tensor, graph: TemporalGraph, s: int, method: str,
        generator: torch.Generator | None, context: DecoderContext | None = None, lead: int = 1,
        scorer: Any = None,
    ) -> Tensor:
        c = self.config
        mask = None if graph.node_mask is None else graph.node_mask[s]
        # sparse: the pairs seen before are summed exactly (uniform draws miss their silence)
        ctx = None if context is None else context.edges
        stratum = ctx.coords()[1:] if ctx is not None and ctx.batch_size == 1 else None
        return adjacency_log_likelihood(
            scorer if scorer is not None else self.edge_scorer(context, lead), z, graph.edges(s),
            c.num_nodes, c.directed, method=method, num_negatives=c.num_negatives,
            generator=generator, dense_max_nodes=c.dense_max_nodes, node_mask=mask,
            validate=False, stratum=stratum,
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

    def _step_ll(self, z, graph, s, method, generator, context=None, lead=1, scorer=None):
        zero = z.new_zeros(z.shape[:-2])
        fl = (self._feature_ll(z, graph, s, context=context)
              if self.feature_decoder is not None else zero)
        el = zero
        if self.edge_decoder is not None:
            el = self._edge_ll(z, graph, s, method, generator, context, lead, scorer)
        return fl, el

    def _kl_elements(
        self, q: Independent, p: Distribution, z_next: Tensor, kind: str
    ) -> Tensor:
        """Element-wise divergence terms: ``(S, N, d)`` (factorised prior), ``(S, N, 1)`` (node
        mixture) or ``(S, 1, 1)`` (graph mixture); they sum to the step's divergence. The kind of
        prior is read from ``p`` itself (so a transition passed in needs no config flag)."""
        if self.config.deterministic:
            return 0.5 * (z_next - p.mean).pow(2)
        if isinstance(p, Independent):
            return divergence(q.base_dist, p.base_dist, kind)
        if len(p.event_shape) == 2:  # one component for the whole graph
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
        start: FilterState | None = None,
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
            start: continue the chain from a filtered state (truncated back-propagation
                through time): ``graph`` is then the window ``G_{T+1:T+W}`` after the ``T``
                snapshots that ``start`` summarises (:meth:`filter_states`), and the result is
                the ELBO of the window given ``Z_T = start.z``, ``h_T = start.summary`` and the
                decoder context ``start.context``: ``Σ_{t=T}^{T+W-1} (F_t + E_t − KL_t)``.
                Gradients do not flow into ``start`` (detach it). ``None``: from ``Z_0``.

        Autoregressive decoder (``decoder_context != "none"``): ``F_t``, ``E_t`` condition on the
        observed ``G_{≤t}`` (teacher forcing of the context). In ``train()`` mode with
        ``decoder_input_dropout = p > 0`` each context input is blanked with probability ``p``
        (:meth:`decoder_contexts`); the result is then the ELBO of a randomly weakened decoder,
        a training objective (``is_bound=False``). Never applied in ``eval()`` mode, nor by
        :meth:`log_weights`, :meth:`iw_bound`, :meth:`filter`, :meth:`forecast`.
        """
        graph = self._prepare(graph, "elbo")
        c = self.config
        check_int(num_samples, "elbo: num_samples")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"elbo: teacher_forcing must lie in [0, 1], got {teacher_forcing}")
        if free_bits > 0 and kl_transform is None and not self.factorised_prior:
            raise ValueError(
                "elbo: per-dimension free bits need a factorised prior, but the transition is a "
                f"{c.transition_components}-component mixture whose KL does not split over "
                "dimensions; pass kl_transform= to regularise the per-node/per-graph terms"
            )
        objective = TemporalELBO(kl_weight=float(kl_weight), free_bits=float(free_bits),
                                 kl_transform=kl_transform, reduction=reduction)
        # Decoder weakening (word dropout): only for the teacher-forced context, only in training.
        weaken = c.decoder_input_dropout if (self.training and self.autoregressive) else 0.0
        chain: dict[str, Any] = {}
        if start is not None:
            chain = engine.window_inputs(self, graph, start, int(num_samples), weaken, generator)
        tr = engine.posterior_chain(
            self, graph, int(num_samples), teacher_forcing=float(teacher_forcing),
            generator=generator, method=self._method(adjacency), context_dropout=weaken,
            densities=False, **chain,
        )
        return objective(
            tr, num_nodes=c.num_nodes, directed=c.directed, node_mask=graph.node_mask,
            teacher_forcing=float(teacher_forcing),
            exact=c.divergence == "kl" and not c.deterministic_decoder and weaken == 0.0,
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
        return engine.posterior_chain(self, graph, num_samples, generator=generator,
                                      method=method).log_weights

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
        check_int(num_samples, "iw_bound: num_samples")
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
        check_int(num_samples, "filter: num_samples")
        return engine.filter_state(self, graph, int(num_samples), generator)

    def filter_states(
        self,
        graph: TemporalGraph,
        at: Sequence[int],
        num_samples: int = 1,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[int, FilterState]:
        r"""The filtered states after ``T`` snapshots for every ``T`` in ``at``, from one pass of
        the posterior chain (:func:`dyngraphvae.models.engine.filter_states`): the starts of
        windowed training (:meth:`elbo` with ``start=``)."""
        graph = self._prepare(graph, "filter_states")
        check_int(num_samples, "filter_states: num_samples")
        return engine.filter_states(self, graph, at, int(num_samples), generator)

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
        check_int(horizon, "forecast: horizon")
        if num_samples is not None:
            check_int(num_samples, "forecast: num_samples")
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
            ctx = None
            if self.autoregressive:
                ctx = state.context
                if ctx is None:
                    if state.num_snapshots != 0:
                        raise ValueError(
                            "forecast: the model's decoder is autoregressive but the FilterState "
                            "has no decoder context; build the state with model.filter(graph) "
                            "(or pass the graph)")
                    ctx = self._empty_context()
            ro = engine.rollout(self, z, int(horizon), context=ctx, generator=generator,
                                terms=state.lead_terms)
            return engine.assemble_forecast(self, state.num_snapshots, ro)

    def next_latent(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One rollout step ``Ẑ_{t+1} ~ p(Z | Ẑ_t)`` (its mean for the deterministic ablation),
        for any leading sample/origin dimensions of ``z (..., N, d)``."""
        p = self.prior(z)
        return p.mean if self.config.deterministic else sample_one(p, generator)

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
        r"""Monte Carlo ``log p(G_{T+h} | G_{1:T})`` for ``h = 1..H`` with ``T = start``:
        :func:`dyngraphvae.models.results.predictive_log_likelihood`."""
        return predictive_log_likelihood(self, graph, start, horizon, num_samples,
                                         adjacency=adjacency, generator=generator)

    def extra_repr(self) -> str:
        c = self.config
        return (f"N={c.num_nodes}, F={c.num_features}, d={c.latent_dim}, H={c.hidden_dim}, "
                f"K={c.transition_components}, divergence={c.divergence!r}")

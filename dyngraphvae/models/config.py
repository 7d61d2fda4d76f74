"""Configuration of :class:`~dyngraphvae.models.TemporalGraphVAE` (dataclass, JSON round-trip)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dyngraphvae._config import ConfigBase
from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = ["ForecasterConfig"]

_CHOICES: dict[str, tuple] = {
    "encoder": ("gcn", "sage", "gat", "gin", "graphconv"),
    "node_input": ("learned", "identity", "features", "both"),
    "edge_decoder": ("inner", "bilinear", "mlp"),
    "feature_covariance": ("diag", "lowrank", "full"),
    "transition_mixture": ("node", "graph"),
    "adjacency": ("auto", "dense", "sparse"),
    "divergence": ("kl", "cs"),
    "initial_state": ("learned", "zero"),
    "decoder_context": ("none", "previous", "history", "pair_history"),
    "context_refit_degree_form": ("cumulative", "rate"),
    "context_refit_level": ("iid", "ar1"),
}


#: above this many nodes :meth:`ForecasterConfig.for_graph` uses the sparse edge likelihood
RECIPE_DENSE_MAX_NODES = 1000
#: lags of the autoregressive feature mean that ``for_graph`` gives a model with a decoder context
#: and node features: on chickenpox (train ratio 0.2) the validation CRPS was 0.3773 with one
#: lag and 0.3744 with four (``docs/results.md``, section 2)
RECIPE_FEATURE_LAGS = 4
#: neighbour-mean lags in the autoregressive feature mean that ``for_graph`` gives the same models:
#: the validation CRPS fell on all five PyG Temporal splits (``docs/results.md``, section 2c)
RECIPE_FEATURE_NEIGHBOURS = True


@dataclass
class ForecasterConfig(ConfigBase):
    """Hyper-parameters of the temporal graph VAE forecaster.

    Args:
        num_nodes: ``N``, size of the fixed node universe.
        num_features: ``F``; 0 for a featureless graph.
        latent_dim: ``d``, per-node latent width.
        hidden_dim: width of the GNN embeddings, the recurrent summary ``h_t`` and all MLPs.
        encoder: PyG convolution of the snapshot encoder (``gcn|sage|gat|gin|graphconv``).
        encoder_layers: number of convolutions.
        node_input: per-node encoder input (``learned`` embedding, one-hot ``identity``,
            ``features`` or ``both``); see :class:`dyngraphvae.nn.encoders.NodeInput`.
        node_embedding_dim: width of the learned node embedding.
        edge_decoder: edge score ``inner|bilinear|mlp``.
        edge_bias: learn an offset in the inner/bilinear edge score (density calibration).
        feature_covariance: ``diag|lowrank|full`` covariance of the Gaussian feature decoder.
        feature_rank: rank of the low-rank factor.
        transition_components: ``K``; ``K > 1`` makes ``p(Z_{t+1}|Z_t)`` a Gaussian mixture.
        transition_mixture: for ``K > 1``: ``"node"`` draws a component independently for every
            node; ``"graph"`` draws ONE component for the whole graph (all nodes switch together,
            the multimodality of a global event such as a fork). See ``docs/model.md``.
        transition_tied_scale: for ``K > 1``: the components share one scale per node and
            dimension and differ by mean and weight only (a "tied" Gaussian mixture; see
            :class:`dyngraphvae.nn.transition.GRUTransition` for when it helps and when not).
        directed: model directed edges.
        adjacency: edge log-likelihood evaluator: ``dense`` (exact, O(N²)), ``sparse`` (unbiased,
            O(E + K)) or ``auto`` (dense iff ``N <= dense_max_nodes``).
        num_negatives: non-edge pairs sampled per step by the sparse evaluator (None: its default).
        dense_max_nodes: threshold of ``auto`` and of dense edge-probability summaries.
        decode_features: model ``p(X_{t+1}|Z_t)``; None means "iff num_features > 0". Set False to
            use features as encoder input only (e.g. static features).
        decode_edges: model ``p(A_{t+1}|Z_t)``.
        deterministic_decoder: the Σ→0 feature-decoder ablation (Problem 4.3): features are
            scored by the squared error ``−½‖x − μ‖²`` and forecasts emit ``μ``.
        deterministic: the fully deterministic ablation: point-mass posterior, transition mean
            instead of a sample, Σ→0 decoder; its "KL" is ``½‖μ_q − μ_p‖²``. Implies
            ``deterministic_decoder``. A recurrent graph auto-encoder trained with squared error.
        divergence: ``kl`` (the ELBO) or ``cs`` (Cauchy–Schwarz: not a bound; see docs).
        initial_state: ``Z_0`` is a ``learned`` parameter ``(N, d)`` or ``zero``.
        dropout: dropout inside the snapshot encoder.
        min_scale: floor on the posterior and transition standard deviations.
        feature_min_scale: floor on the feature decoder's standard deviations.
        decoder_context: what the decoder sees of the observed past besides ``Z_t`` (the
            autoregressive decoder ``p(X_{t+1}, A_{t+1} | Z_t, G_{≤t})``; equations in
            ``docs/model.md``): ``"none"`` (the plain decoder ``p(G_{t+1} | Z_t)``),
            ``"previous"`` (edge logit ``s(z_u, z_v) + α A_t(u, v)``, feature mean
            ``μ(z_v) + W x_t^v``) or ``"history"`` (also ``+ γ H_t(u, v)`` with the decayed count
            ``H_t = A_t + λ H_{t-1}``) or ``"pair_history"`` (also a learned linear function of the
            pair's decayed counts at several rates, in both directions, and of its endpoints'
            decayed degrees: a logistic regression on pair history as a special case;
            :class:`~dyngraphvae.models.context.EdgeContextTerm`). In forecasts the context is the
            model's own sampled graph.
        history_decay: ``λ`` in ``(0, 1)`` of the ``"history"`` and ``"pair_history"`` contexts.
        decoder_input_dropout: probability of blanking each teacher-forced context input during
            training (a previous edge / history pair is removed, a node's previous feature vector
            zeroed; word dropout, Bowman et al. 2016); never at evaluation or in forecasts.
        history_rates: the decay rates ``r`` in ``(0, 1]`` of the ``"pair_history"`` context
            (``r = 1``: the undecayed count of snapshots with the pair, and cumulative degrees).
        feature_lags: ``L``, the lags of the autoregressive feature mean: with a decoder context
            the mean is ``μ(z_v) + Σ_{l=1..L} W_l x_{t+1-l}^v``, an AR(L) on the observed lags
            plus the latent part (so it contains the linear regression on the last ``L`` lags).
        feature_full_lags: the feature likelihood of snapshot ``s`` counts only where its ``L``
            lags are all observed (``s ≥ L``): the conditional likelihood of an AR(L), instead
            of reading zeros for the lags before snapshot 0 (and the AR warm start fits those
            rows only). No effect without the autoregressive feature mean. Off by default: it
            raised the validation CRPS on three of the PyG Temporal splits, by up to 1.7 %
            (``docs/results.md``, 2d).
        feature_neighbours: the autoregressive feature mean also reads the neighbour means of
            its lags, ``+ Σ_l V_l (P x)_{t+1-l}`` with ``P`` the neighbour-mean operator of the
            last observed graph (a space-time autoregression, STAR; it contains the linear
            regression on own and neighbour lags). Needs a decoder context.
        context_leads: ``K``, the direct multi-horizon edge decoder. ``1``: forecasts feed their
            own sampled graphs back into the edge context (the one-step decoder iterated).
            ``K > 1`` (needs an edge context): a forecast's edge context stays the origin's
            observed one, aged one snapshot per step with no edge, and lead ``k`` (step ``k`` of
            the forecast) decodes with its own context term (leads beyond ``K`` use term ``K``),
            trained by the overshooting terms of :mod:`dyngraphvae.models.overshooting`. It
            contains the pair-history regression fitted per horizon (``docs/model.md``).
        snapshot_effect: a snapshot-level random intercept of the edges (needs an edge context):
            ``logit π_uv = ℓ_uv + δ_{t+1}``, ``δ_{t+1} ~ N(0, τ²)`` shared by all pairs of a
            snapshot, so that forecast edge counts carry the snapshot-to-snapshot swings of real
            activity; ``τ`` (with a shift of the edge offset) is fitted by marginal likelihood on
            the training snapshots after the ELBO (:mod:`dyngraphvae.training.snapshot_effect`).
        node_effect: sender and receiver random intercepts of the edges (needs an edge
            context): ``logit π_uv = m(ℓ_uv) + a_u + c_v`` with ``a_u ~ N(0, τ_out²)``,
            ``c_v ~ N(0, τ_in²)`` drawn per sampled future and step, a node's two with
            correlation ``ρ`` (undirected: one ``a_u`` per node on both ends) and ``m`` the map
            that keeps every pair's probability, so that a few nodes can be busy on a step as in
            real data, instead of the under-dispersed degrees of pairs independent given the
            latent (``docs/results.md``, 3o). ``τ`` and ``ρ`` by the rows' and columns' marginal
            likelihood on the training snapshots after the ELBO
            (:mod:`dyngraphvae.training.node_effect`). Off in the config: where forecasts
            feed their sampled graphs back (bitcoin_alpha's chosen forecasts) it lowered MRR at
            h ≥ 4 (``docs/results.md``, 3p). ``dyngraphvae train`` turns it on where the chosen
            forecasts are direct (:func:`dyngraphvae.selection.select_node_effect`, 3q), where
            the ranking is unchanged and the sampled degrees come closer to the truth.
        context_refit: ``W``, the per-origin refit of the edge context term (needs an edge
            context; ``0``: off). At every forecast origin the term of each lead ``k`` is
            re-estimated by maximum a posteriori on the last ``W`` observed snapshots, the latent
            score held as an offset, with a Gaussian prior of scale ``context_refit_prior`` at
            the trained weights; the forecast is then direct (step ``k`` reads the origin's
            observed context aged ``k − 1`` snapshots, never a sample). It contains the
            likelihood-fitted pair-history regression as fitted (:mod:`dyngraphvae.models.refit`).
        context_refit_prior: ``σ > 0``, the prior scale of the refitted weights.
        context_refit_leads: the leads refitted (later leads reuse the last one's term).
        context_refit_effect: with the refit (``context_refit > 0``; without it, no effect), a
            snapshot effect per lead refitted with the term: ``δ ~ N(0, τ_k²)`` added to every
            logit of a forecast snapshot, ``τ_k`` the random-effects fit of the window snapshots'
            own offsets, and an intercept shift that keeps the window's expected edge count; it
            replaces the trained ``snapshot_effect``.
            On by default: on the validation origins it widened the edge-count intervals
            (coverage 37 → 73 % on uci_collegemsg, 23 → 43 % on bitcoin_alpha) at equal ranking
            (``docs/results.md``, section 3j).
        context_refit_level: the refit's snapshot effect over time: ``"iid"`` (independent
            per snapshot, as above) or ``"ar1"``: the window snapshots' offsets a stationary
            AR(1), so a forecast snapshot's offset is drawn from its law given the window's
            (:func:`~dyngraphvae.models.random_effect.level_forecast`): a persistent level, as
            real activity has (candidates ending in ``"+ar"``).
        context_refit_degrees: with the refit, columns the trained term lacks: the endpoints'
            cumulative (undecayed) out-, in- and total degrees over the origin's whole history,
            refitted with prior mean 0 (a fit made once extrapolates them badly, section 3h;
            refitted at every origin they follow the growing history).
        context_refit_degree_form: those columns as ``"cumulative"`` ``log(1 + d)`` (the
            pair-history regression's features) or ``"rate"`` ``log(1 + d) − log T``, ``T`` the
            snapshots of the history (one scale as the history grows; section 3k).
        context_refit_neighbours: with the refit, one more column the trained term lacks:
            ``log(1 + CN_T(u, v))``, the common neighbours of the pair in the symmetrised union
            of the origin's history (:mod:`dyngraphvae.data.neighbours`; the regression's
            feature 12), refitted with prior mean 0. On the validation snapshots of the
            likelihood-fitted regression it is worth +2.3 AUC on vgrnn_enron10 and +5.7 on
            vgrnn_colab, and costs 0.9 on uci_collegemsg (``docs/results.md``, section 3m), so
            it is a candidate of the choice, not a default.
        context_refit_counts: with the refit, the pair's undecayed counts over the origin's
            whole history, ``log(1 + n_T(u, v))`` and (directed) ``log(1 + n_T(v, u))``
            (:mod:`dyngraphvae.data.pair_counts`; the regression's features 1–3), refitted
            with prior mean 0: whether a pair was ever seen, which the decayed rates forget
            (candidate suffix ``"+pc"``, ``docs/results.md``, section 3s).
        context_refit_latent: with the refit, the latent score gets a refitted weight too:
            ``logit = β_k s(z_u, z_v) + term``, ``β_k`` with prior mean 1 (the trained model),
            so that the refit contains the likelihood-fitted regression on its columns
            (``β = 0``) and can lower the latent's share at leads where it forecasts worse
            (``docs/results.md``, section 3n). Candidate suffix ``"+lw"``; on validation it did
            not beat the refit without it, so ``dyngraphvae train`` does not offer it.
    """

    num_nodes: int
    num_features: int = 0
    latent_dim: int = 16
    hidden_dim: int = 32
    encoder: str = "gcn"
    encoder_layers: int = 2
    node_input: str = "learned"
    node_embedding_dim: int = 32
    edge_decoder: str = "inner"
    edge_bias: bool = True
    feature_covariance: str = "diag"
    feature_rank: int = 2
    transition_components: int = 1
    transition_mixture: str = "node"
    transition_tied_scale: bool = False
    directed: bool = False
    adjacency: str = "auto"
    num_negatives: int | None = None
    dense_max_nodes: int = 2000
    decode_features: bool | None = None
    decode_edges: bool = True
    deterministic_decoder: bool = False
    deterministic: bool = False
    divergence: str = "kl"
    initial_state: str = "learned"
    dropout: float = 0.0
    min_scale: float = 1e-4
    feature_min_scale: float = 1e-3
    decoder_context: str = "none"
    history_decay: float = 0.5
    decoder_input_dropout: float = 0.0
    history_rates: tuple[float, ...] = (0.5, 0.8, 0.95)
    feature_lags: int = 1
    feature_full_lags: bool = False
    feature_neighbours: bool = False
    context_leads: int = 1
    snapshot_effect: bool = False
    context_refit: int = 0
    context_refit_prior: float = 1.0
    context_refit_leads: int = 5
    context_refit_effect: bool = True
    context_refit_level: str = "iid"
    context_refit_degrees: bool = False
    context_refit_degree_form: str = "cumulative"
    context_refit_neighbours: bool = False
    context_refit_counts: bool = False
    context_refit_latent: bool = False
    node_effect: bool = False

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"ForecasterConfig.{name}: expected one of {choices}, "
                    f"got {getattr(self, name)!r}"
                )
        for name in ("num_nodes", "latent_dim", "hidden_dim", "encoder_layers",
                     "node_embedding_dim", "feature_rank", "transition_components",
                     "dense_max_nodes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"ForecasterConfig.{name}: expected a positive integer, got {v!r}")
        if isinstance(self.num_features, bool) or not isinstance(self.num_features, int) \
                or self.num_features < 0:
            raise ValueError(
                "ForecasterConfig.num_features: expected an integer >= 0, "
                f"got {self.num_features!r}"
            )
        if self.num_negatives is not None and (not isinstance(self.num_negatives, int)
                                               or self.num_negatives < 1):
            raise ValueError(
                f"ForecasterConfig.num_negatives: expected None or a positive integer, "
                f"got {self.num_negatives!r}"
            )
        if self.decode_features is None:
            self.decode_features = self.num_features > 0
        if self.decode_features and self.num_features == 0:
            raise ValueError(
                "ForecasterConfig.decode_features=True needs num_features > 0 (there are no node "
                "features to decode); for a featureless graph leave decode_features=None, or build "
                "the config with ForecasterConfig.for_graph(graph)"
            )
        if self.node_input in ("features", "both") and self.num_features == 0:
            raise ValueError(
                f"ForecasterConfig.node_input={self.node_input!r} needs num_features > 0"
            )
        if not (self.decode_features or self.decode_edges):
            raise ValueError("ForecasterConfig: decode_features and decode_edges are both False; "
                             "the model would have no likelihood")
        if self.deterministic:
            self.deterministic_decoder = True
            if self.divergence != "kl":
                raise ValueError("ForecasterConfig.deterministic=True has no divergence (its "
                                 "latent term is a squared error); leave divergence='kl'")
        if self.transition_tied_scale and self.transition_components < 2:
            raise ValueError("ForecasterConfig.transition_tied_scale=True needs "
                             "transition_components >= 2 (there is nothing to tie)")
        if self.transition_mixture == "graph" and self.transition_components < 2:
            raise ValueError("ForecasterConfig.transition_mixture='graph' needs "
                             "transition_components >= 2")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ForecasterConfig.dropout: expected [0, 1), got {self.dropout}")
        if not 0.0 < self.history_decay < 1.0:
            raise ValueError(
                f"ForecasterConfig.history_decay: expected (0, 1), got {self.history_decay}"
            )
        self.history_rates = tuple(float(r) for r in self.history_rates)
        if not self.history_rates or not all(0.0 < r <= 1.0 for r in self.history_rates):
            raise ValueError("ForecasterConfig.history_rates: expected one or more rates in "
                             f"(0, 1], got {self.history_rates}")
        if not 0.0 <= self.decoder_input_dropout <= 1.0:
            raise ValueError("ForecasterConfig.decoder_input_dropout: expected [0, 1], got "
                             f"{self.decoder_input_dropout}")
        if self.decoder_input_dropout > 0 and self.decoder_context == "none":
            raise ValueError("ForecasterConfig.decoder_input_dropout > 0 needs a decoder context "
                             "to drop (decoder_context='previous', 'history' or 'pair_history')")
        if isinstance(self.feature_lags, bool) or not isinstance(self.feature_lags, int) \
                or self.feature_lags < 1:
            raise ValueError(f"ForecasterConfig.feature_lags: expected an integer >= 1, got "
                             f"{self.feature_lags!r}")
        if self.feature_lags > 1 and self.decoder_context == "none":
            raise ValueError("ForecasterConfig.feature_lags > 1 needs a decoder context (the "
                             "lags enter the autoregressive feature mean): set decoder_context")
        if not isinstance(self.feature_neighbours, bool):
            raise ValueError("ForecasterConfig.feature_neighbours: expected a bool, got "
                             f"{self.feature_neighbours!r}")
        if self.feature_neighbours and self.decoder_context == "none":
            raise ValueError("ForecasterConfig.feature_neighbours needs a decoder context (the "
                             "neighbour lags enter the autoregressive feature mean): set "
                             "decoder_context")
        if isinstance(self.context_leads, bool) or not isinstance(self.context_leads, int) \
                or self.context_leads < 1:
            raise ValueError(f"ForecasterConfig.context_leads: expected an integer >= 1, got "
                             f"{self.context_leads!r}")
        for name, low in (("context_refit", 0), ("context_refit_leads", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"ForecasterConfig.{name}: expected an integer >= {low}, got "
                                 f"{v!r}")
        if not float(self.context_refit_prior) > 0:
            raise ValueError("ForecasterConfig.context_refit_prior: expected a scale > 0, got "
                             f"{self.context_refit_prior!r}")
        edge_context = self.decoder_context != "none" and self.decode_edges
        for name, used in (("context_leads > 1", self.context_leads > 1),
                           ("snapshot_effect", self.snapshot_effect),
                           ("node_effect", self.node_effect),
                           ("context_refit > 0", self.context_refit > 0)):
            if used and not edge_context:
                raise ValueError(f"ForecasterConfig.{name} needs an edge context (set "
                                 "decoder_context and decode_edges=True)")
        for name in ("min_scale", "feature_min_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ForecasterConfig.{name}: must be > 0, got {getattr(self, name)}")

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def for_graph(cls, graph: Any, **overrides: Any) -> ForecasterConfig:
        """A config matching ``graph`` (``num_nodes``, ``num_features``, ``directed``).

        ``node_input`` defaults to ``"both"`` (features and a learned embedding) when the graph has
        features, else ``"learned"``. ``adjacency`` defaults to ``"sparse"`` above
        :data:`RECIPE_DENSE_MAX_NODES` nodes (else ``"auto"``): on uci_collegemsg (1899 nodes) a
        training pass with the exact dense likelihood and the pair-history decoder took 14.4 s
        against 0.60 s with the sparse one, which the published uci results use
        (``docs/benchmarks.md``, "Time to the validation optimum"). With a decoder context and
        node features, ``feature_lags`` defaults to :data:`RECIPE_FEATURE_LAGS` and
        ``feature_neighbours`` to :data:`RECIPE_FEATURE_NEIGHBOURS`. ``overrides`` replace
        any field.
        """
        base = dict(num_nodes=graph.num_nodes, num_features=graph.num_features,
                    directed=graph.directed,
                    node_input="both" if graph.num_features > 0 else "learned",
                    adjacency="sparse" if graph.num_nodes > RECIPE_DENSE_MAX_NODES else "auto")
        base.update(overrides)
        ar_features = (base.get("decoder_context", "none") != "none"
                       and base["num_features"] > 0 and base.get("decode_features") is not False)
        if ar_features and "feature_lags" not in overrides:
            base["feature_lags"] = RECIPE_FEATURE_LAGS
        if ar_features and "feature_neighbours" not in overrides:
            base["feature_neighbours"] = RECIPE_FEATURE_NEIGHBOURS
        return cls(**base)

    @property
    def context_decay(self) -> float | None:
        """``λ`` of the decayed pair count ``H_t`` when the decoder context keeps one."""
        return self.history_decay if self.decoder_context in ("history", "pair_history") \
            else None

    @property
    def direct_forecasts(self) -> bool:
        """Whether every lead's forecast reads only the observed history: a per-origin refit
        (``context_refit > 0``) or the direct multi-horizon decoder (``context_leads > 1``), so
        no sampled graph is read back as the next step's context."""
        return self.context_refit > 0 or self.context_leads > 1

    @property
    def context_rates(self) -> tuple[float, ...]:
        """The rates of the pair-history context (empty for the other contexts)."""
        return self.history_rates if self.decoder_context == "pair_history" else ()

    def check_graph(self, graph: Any, where: str) -> None:
        """Raise a ``TypeError``/``ValueError`` naming ``where`` and the fix when ``graph`` is not a
        :class:`~dyngraphvae.data.TemporalGraph` this config fits (node count, direction, number
        of node features)."""
        if not isinstance(graph, TemporalGraph):
            raise TypeError(f"{where}: expected a TemporalGraph, got {type(graph).__name__}")
        c = self
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



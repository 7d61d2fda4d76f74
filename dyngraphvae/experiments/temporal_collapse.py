r"""Does the temporal forecaster's latent collapse when its decoder sees the previous graph?

The forecaster (:class:`~dyngraphvae.models.TemporalGraphVAE`, ``docs/model.md``) decodes
``G_{t+1}`` from ``Z_t``. With ``decoder_context="previous"`` the decoder also reads the observed
previous graph ``G_t`` (an autoregressive decoder, the graph analogue of a language-model decoder
fed ``x_{<t}``):

.. math::
    \operatorname{logit} p(A_{t+1}(u,v)=1 \mid Z_t, G_t) = s(z_u, z_v) + \alpha A_t(u,v),\qquad
    \mathbb E[X_{t+1}^v \mid Z_t, G_t] = \mu(z_v) + W x_t^v .

Persistence makes that decoder strong on real data, so the information the filtering posterior
``q(Z_{t+1} \mid Z_t, G_{1:t+1})`` injects into ``Z`` (its KL to the transition prior
``p(Z_{t+1} \mid Z_t)``) may stop paying for itself: posterior collapse (Problem 3; Bowman et al.
2016; He et al. 2019). This module trains the forecaster with and without the autoregressive
decoder under the plain ELBO and three cures — free bits (Kingma et al. 2016), cyclical KL
annealing (Fu et al. 2019) and decoder input dropout (word dropout, Bowman et al. 2016), each
optionally after a linear KL warm-up (``warmup_steps``) — and under a constant KL weight
``β = kl_weight < 1`` (a β-VAE, not a bound; on Enron, with a learned ``Z_0``, β = 0.01 is what
beats persistence), and measures

* the **rate** ``KL(q || p_transition)`` per latent dimension, per node and step (exact, averaged
  over ``S`` posterior trajectories): by ELBO surgery (Hoffman & Johnson 2016) it upper-bounds the
  information about the graphs that enters ``Z``; 0 means collapse;
* **active units** and **I_q** (He et al. 2019) of the marginal filtering posteriors
  ``q(Z_{t,v} \mid G_{1:t})`` (moments over ``S`` trajectories, ``ELBOOutput.posterior_loc`` /
  ``posterior_scale``), computed over the nodes of each step with
  :func:`dyngraphvae.collapse.collapse_diagnostics` and averaged over steps. The initial state is
  ``Z_0 = 0`` so that nodes are exchangeable under the prior: node-to-node variation of
  ``E_q[Z_{t,v}]`` can only come from the observed graphs (up to Monte Carlo error ``O(1/S)``);
  a learned ``Z_0`` (``initial_state="learned"``) would be a static node embedding that costs
  no KL, so with it only the rate isolates what ``Z`` learnt from the graphs;
* **forecast quality** on held-out snapshots: one-step edge AUC over all node pairs (the
  Monte Carlo predictive ``\bar\pi_{uv}``, :func:`dyngraphvae.evaluation.rolling_forecast`),
  next to persistence, and the one-step predictive log-likelihood
  ``log p(G_{T+1} \mid G_{1:T})`` (:meth:`TemporalGraphVAE.predictive_log_likelihood`).

Measured results: ``docs/collapse.md``; run by ``examples/collapse_temporal.py``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.collapse.diagnostics import collapse_diagnostics
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.objectives.schedules import (
    ConstantSchedule,
    CyclicalSchedule,
    KLSchedule,
    LinearSchedule,
)
from dyngraphvae.training.objective_fit import fit_objective

__all__ = [
    "CURES",
    "TemporalCollapseConfig",
    "TemporalCollapseResult",
    "forecast_quality",
    "latent_usage",
    "load_study_graph",
    "run_temporal_study",
    "train_temporal",
]

CURES = ("none", "free_bits", "cyclical", "dropout")


@dataclass
class TemporalCollapseConfig:
    """One training run of the study.

    Args:
        dataset: ``"dynamic_sbm"`` (:func:`dyngraphvae.data.synthetic.dynamic_sbm` with the
            ``sbm_*`` sizes) or any name :func:`dyngraphvae.load_dataset` accepts (e.g.
            ``"vgrnn_enron10"``, read from ``data_root``).
        decoder_context: ``"none"`` (decoder ``p(G_{t+1} | Z_t)``) or ``"previous"``
            (autoregressive, also reads ``G_t``).
        cure: ``"none"`` (plain ELBO), ``"free_bits"`` (λ = ``free_bits`` nats per latent
            dimension, per node and step), ``"cyclical"`` (β of the KL term cycles ``num_cycles``
            times, rising for a proportion ``ratio`` of each cycle) or ``"dropout"`` (decoder input
            dropout with probability ``dropout``; needs ``decoder_context="previous"``).
        steps: Adam steps; each is one ELBO of the whole training window (``reduction=
            "mean_node"``, one trajectory, gradient norm clipped at 5, the training engine's
            defaults).
        test_snapshots: the last ``k`` snapshots are held out; the model trains on the others and
            forecasts each held-out snapshot one step ahead from the observed history before it.
        eval_samples: ``S`` trajectories for the diagnostics and the forecasts.
        initial_state: ``"zero"`` (default: nodes exchangeable under the prior, so any
            node-to-node variation of ``Z`` is information from the graphs) or ``"learned"`` (a
            free ``Z_0``: a static node embedding that costs no KL).
        warmup_steps: with ``cure`` ``"none"``, ``"free_bits"`` or ``"dropout"``, β of the KL
            term rises linearly from 0 to 1 over the first ``warmup_steps`` steps (KL warm-up,
            Bowman et al. 2016; He et al. 2019), combined with the cure; 0 (default) keeps β = 1.
            Not allowed with ``"cyclical"``, which has its own schedule.
        kl_weight: the constant β of the KL term (the end point of a warm-up), default 1 (the
            ELBO). β < 1 is the β-VAE objective below the ELBO's weight (Alemi et al. 2018,
            "Fixing a broken ELBO"): not a bound on ``log p(G)``, a rate-distortion trade-off.
            Not allowed with ``"cyclical"``.
    """

    dataset: str = "dynamic_sbm"
    decoder_context: str = "none"
    cure: str = "none"
    steps: int = 400
    lr: float = 1e-2
    latent_dim: int = 8
    hidden_dim: int = 32
    free_bits: float = 0.1
    num_cycles: int = 4
    ratio: float = 0.5
    dropout: float = 0.5
    test_snapshots: int = 3
    eval_samples: int = 128
    seed: int = 0
    data_root: str | None = None
    sbm_nodes: int = 60
    sbm_snapshots: int = 16
    sbm_features: int = 4
    initial_state: str = "zero"
    warmup_steps: int = 0
    kl_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.cure not in CURES:
            raise ValueError(f"TemporalCollapseConfig.cure: expected one of {CURES}, "
                             f"got {self.cure!r}")
        if self.decoder_context not in ("none", "previous"):
            raise ValueError("TemporalCollapseConfig.decoder_context: expected 'none' or "
                             f"'previous', got {self.decoder_context!r}")
        if self.cure == "dropout" and self.decoder_context == "none":
            raise ValueError("TemporalCollapseConfig: cure='dropout' drops the decoder's "
                             "previous-graph input; it needs decoder_context='previous'")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) \
                or self.warmup_steps < 0:
            raise ValueError("TemporalCollapseConfig.warmup_steps: expected an integer >= 0, "
                             f"got {self.warmup_steps!r}")
        if not (isinstance(self.kl_weight, (int, float)) and math.isfinite(self.kl_weight)
                and self.kl_weight >= 0) or isinstance(self.kl_weight, bool):
            raise ValueError("TemporalCollapseConfig.kl_weight: expected a finite number >= 0, "
                             f"got {self.kl_weight!r}")
        if self.kl_weight != 1.0 and self.cure == "cyclical":
            raise ValueError("TemporalCollapseConfig: kl_weight != 1 with cure='cyclical'; "
                             "the cyclical schedule sets β itself")
        if self.warmup_steps and self.cure == "cyclical":
            raise ValueError("TemporalCollapseConfig: warmup_steps > 0 with cure='cyclical'; "
                             "the cyclical schedule already sets β")
        for name in ("steps", "latent_dim", "hidden_dim", "test_snapshots", "eval_samples",
                     "num_cycles"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TemporalCollapseConfig.{name}: expected a positive integer, "
                                 f"got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TemporalCollapseResult:
    """Measured latent usage and forecast quality of one run (``docs/collapse.md``).

    ``kl_per_dim`` (nats per node and step, to the transition prior) and ``rate`` (its sum) are
    on the training window; ``active_units`` / ``mutual_information`` are means over its steps
    (nodes as datapoints); ``auc`` / ``persistence_auc`` / ``predictive_ll`` are means over the
    held-out snapshots (log-likelihood in nats per node); ``kl_trace`` holds
    ``(step, training rate)``.
    """

    config: TemporalCollapseConfig
    rate: float
    kl_per_dim: list[float]
    active_units: float
    mutual_information: float
    train_elbo_per_node: float
    auc: float
    persistence_auc: float
    predictive_ll: float
    seconds: float
    kl_trace: list[tuple[int, float]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "dataset": self.config.dataset,
            "decoder": "previous G_t" if self.config.decoder_context == "previous" else "Z only",
            "cure": self.config.cure,
            "λ": self.config.free_bits if self.config.cure == "free_bits" else 0.0,
            "warm-up": self.config.warmup_steps,
            "β": self.config.kl_weight,
            "Z_0": self.config.initial_state,
            "seed": self.config.seed,
            "rate": round(self.rate, 4),
            "AU": round(self.active_units, 2),
            "MI": round(self.mutual_information, 3),
            "AUC": round(self.auc, 4),
            "persist AUC": round(self.persistence_auc, 4),
            "pred LL/node": round(self.predictive_ll, 3),
            "s": round(self.seconds, 1),
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["config"] = self.config.to_dict()
        return out


def load_study_graph(cfg: TemporalCollapseConfig) -> TemporalGraph:
    """The study's graph: a seeded dynamic SBM (seed 0, independent of the training seed) or a
    dataset from :func:`dyngraphvae.load_dataset`."""
    if cfg.dataset == "dynamic_sbm":
        from dyngraphvae.data.synthetic import dynamic_sbm

        return dynamic_sbm(num_nodes=cfg.sbm_nodes, num_snapshots=cfg.sbm_snapshots,
                           num_features=cfg.sbm_features, seed=0)
    from dyngraphvae.data.io import load_dataset

    return load_dataset(cfg.dataset, root=cfg.data_root)


def _schedule(cfg: TemporalCollapseConfig) -> KLSchedule:
    if cfg.cure == "cyclical":
        return CyclicalSchedule(cfg.steps, num_cycles=cfg.num_cycles, ratio=cfg.ratio)
    if cfg.warmup_steps > 0:
        return LinearSchedule(cfg.warmup_steps, stop=float(cfg.kl_weight))
    return ConstantSchedule(float(cfg.kl_weight))


def _model_config(cfg: TemporalCollapseConfig, graph: TemporalGraph):
    from dyngraphvae.models.config import ForecasterConfig

    return ForecasterConfig.for_graph(
        graph, latent_dim=cfg.latent_dim, hidden_dim=cfg.hidden_dim,
        initial_state=cfg.initial_state,
        decoder_context=cfg.decoder_context,
        decoder_input_dropout=cfg.dropout if cfg.cure == "dropout" else 0.0,
    )


def latent_usage(
    model: Any, graph: TemporalGraph, num_samples: int = 128,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    r"""Latent usage of a trained forecaster on ``graph`` (module docstring).

    Returns ``rate`` (Σ_d of ``kl_per_dim``: mean KL(q(Z_{t+1,v}|Z_t, G_{1:t+1}) ||
    p(Z_{t+1,v}|Z_t)) per node and step over ``S`` trajectories), ``kl_per_dim`` (d,),
    ``active_units`` and ``mutual_information`` (means over steps of
    :func:`collapse_diagnostics` on the ``N`` moment-matched marginal posteriors of each step),
    ``per_step`` (the per-step diagnostics) and ``elbo_per_node`` (the ELBO over node-steps).
    """
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model.elbo(graph, num_samples=num_samples, generator=generator)
    finally:
        model.train(was)
    loc, scale = out.posterior_loc, out.posterior_scale  # (T, N, d)
    mask = graph.node_mask
    per_step = [
        collapse_diagnostics(loc[t], scale[t], mask=None if mask is None else mask[t],
                             generator=generator)
        for t in range(loc.shape[0])
    ]
    kl_dim = out.kl_per_dim
    return {
        "rate": float(kl_dim.sum()),
        "kl_per_dim": [round(float(v), 4) for v in kl_dim],
        "active_units": sum(d.active_units for d in per_step) / len(per_step),
        "mutual_information": sum(d.mutual_information for d in per_step) / len(per_step),
        "per_step": per_step,
        "elbo_per_node": float(out.elbo) / max(out.num_observed_nodes, 1),
    }


def _labels(graph: TemporalGraph, s: int, pairs: Tensor) -> Tensor:
    adj = graph.dense_adjacency(s) != 0
    return adj[pairs[0], pairs[1]]


def forecast_quality(
    model: Any, graph: TemporalGraph, origins: list[int], num_samples: int = 128,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    r"""One-step forecasts of snapshots ``origins`` (origin ``T`` conditions on ``0..T-1``).

    Edge AUC over all node pairs of snapshot ``T`` (present nodes only) of the Monte Carlo
    predictive ``\bar\pi_{uv}``; the persistence score ``A_{T-1}(u, v)`` on the same pairs (ties
    count one half); and ``log p(G_{T+1} | G_{1:T})`` per present node. Returns per-origin lists
    and their means.
    """
    from dyngraphvae.evaluation.links import roc_auc
    from dyngraphvae.models.rolling import rolling_forecast
    from dyngraphvae.nn.adjacency import valid_pairs

    n, directed = graph.num_nodes, graph.directed
    pairs = valid_pairs(n, directed)
    fc = rolling_forecast(model, graph, origins, 1, num_samples, generator=generator)
    aucs, paucs, lls = [], [], []
    for i, t in enumerate(origins):
        keep = torch.ones(pairs.shape[1], dtype=torch.bool)
        if graph.node_mask is not None:
            m = graph.node_mask[t]
            keep = m[pairs[0]] & m[pairs[1]]
        p = pairs[:, keep]
        labels = _labels(graph, t, p).to(torch.float64)
        prob = fc.edge_prob(i, 0, p).double()
        aucs.append(float(roc_auc(prob, labels)))
        persist = _labels(graph, t - 1, p).to(torch.float64) if t > 0 else torch.zeros_like(prob)
        paucs.append(float(roc_auc(persist, labels)))
        was = model.training
        model.eval()
        try:
            pll = model.predictive_log_likelihood(graph, t, 1, num_samples, generator=generator)
        finally:
            model.train(was)
        lls.append(float(pll.joint[0]) / max(int(pll.num_observed_nodes[0]), 1))
    return {
        "auc": sum(aucs) / len(aucs), "persistence_auc": sum(paucs) / len(paucs),
        "predictive_ll": sum(lls) / len(lls), "auc_per_origin": aucs,
        "persistence_auc_per_origin": paucs, "predictive_ll_per_origin": lls,
    }


def train_temporal(
    cfg: TemporalCollapseConfig, graph: TemporalGraph | None = None
) -> tuple[Any, TemporalCollapseResult]:
    """Train one forecaster on all but the last ``cfg.test_snapshots`` snapshots of ``graph``
    (default: :func:`load_study_graph`) with the configured decoder and cure; measure latent
    usage on the training window and one-step forecasts of the held-out snapshots."""
    from dyngraphvae.models.forecaster import TemporalGraphVAE

    graph = load_study_graph(cfg) if graph is None else graph
    k = cfg.test_snapshots
    if len(graph) < k + 2:
        raise ValueError(f"train_temporal: graph has {len(graph)} snapshots; need at least "
                         f"test_snapshots + 2 = {k + 2}")
    train = graph[: len(graph) - k]
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    model = TemporalGraphVAE(_model_config(cfg, graph))
    sched = _schedule(cfg)
    fb = cfg.free_bits if cfg.cure == "free_bits" else 0.0
    trace: list[tuple[int, float]] = []
    every = max(1, cfg.steps // 10)
    last: dict[str, Any] = {}

    def loss_fn(step: int) -> Tensor:
        out = model.elbo(train, kl_weight=sched(step), free_bits=fb, reduction="mean_node",
                         generator=gen)
        last["out"] = out
        return out.loss

    def record(step: int, loss: Tensor) -> None:
        if step % every == 0 or step == cfg.steps - 1:
            out = last["out"]
            rate = float(out.kl.detach().sum()) / max(out.num_observed_nodes, 1)
            trace.append((step, round(rate, 4)))

    t0 = time.perf_counter()
    fit_objective(model, loss_fn, cfg.steps, lr=cfg.lr, grad_clip=5.0, on_step=record)
    seconds = time.perf_counter() - t0
    eval_gen = torch.Generator().manual_seed(10_000 + cfg.seed)
    usage = latent_usage(model, train, cfg.eval_samples, eval_gen)
    origins = list(range(len(graph) - k, len(graph)))
    quality = forecast_quality(model, graph, origins, cfg.eval_samples, eval_gen)
    return model, TemporalCollapseResult(
        config=cfg, rate=usage["rate"], kl_per_dim=usage["kl_per_dim"],
        active_units=usage["active_units"], mutual_information=usage["mutual_information"],
        train_elbo_per_node=usage["elbo_per_node"], auc=quality["auc"],
        persistence_auc=quality["persistence_auc"], predictive_ll=quality["predictive_ll"],
        seconds=seconds, kl_trace=trace,
    )


def run_temporal_study(
    decoders: tuple[str, ...] = ("none", "previous"),
    cures: tuple[str, ...] = CURES,
    seeds: tuple[int, ...] = (0,),
    **overrides: Any,
) -> list[TemporalCollapseResult]:
    """Every (decoder, cure, seed) combination on one graph; ``"dropout"`` only with the
    autoregressive decoder."""
    base = TemporalCollapseConfig(**overrides)
    graph = load_study_graph(base)
    results = []
    for dec in decoders:
        for cure in cures:
            if cure == "dropout" and dec == "none":
                continue
            for seed in seeds:
                cfg = TemporalCollapseConfig(
                    **{**base.to_dict(), "decoder_context": dec, "cure": cure, "seed": seed}
                )
                results.append(train_temporal(cfg, graph)[1])
    return results

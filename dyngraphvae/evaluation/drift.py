r"""Forecast drift against the horizon, growth fits and exact oracles.

For every forecast origin ``T`` in a test range the model conditions on ``G_{1:T}``, samples ``S``
futures of ``H`` steps (:func:`~dyngraphvae.models.rolling.rolling_forecast`, one filtering
pass for all origins) and each horizon ``h = 1..H`` is scored against the true ``G_{T+h}``:

* links: AUC and AP of the Monte Carlo predictive edge probability
  :math:`\bar\pi_{uv} = \frac1S\sum_s\sigma(s(\hat z^{(s)}_u, \hat z^{(s)}_v))` on all edges of
  ``G_{T+h}`` and as many uniform non-edges (VGRNN pairs; the pairs of a snapshot are the same for
  every origin; or historical / inductive negatives, :mod:`dyngraphvae.evaluation.negatives`),
  next to persistence :math:`A_T`, edge frequency, EdgeBank (unlimited and ``H``-step window) and
  the pair-history regression;
* features: the fair sample CRPS (Ferro 2014), the squared error of the predictive mean, the
  central-interval coverage from the samples, and the log score of the per-feature marginal
  predictive mixture :math:`-\log\frac1S\sum_s\mathcal N(y; \mu^{(s)}, \sigma^{2(s)})`, next to
  persistence :math:`\hat x_{T+h} = x_T`.

The mean ± standard deviation over origins of each metric at each ``h`` is the *drift curve*.
:func:`fit_growth` fits ``e(h) = a + b h`` and ``e(h) = a e^{r h}`` to a loss-oriented curve
(CRPS, MSE, 1 − AUC, ...) by least squares and says which fits better (both have two
parameters, so the residual sums of squares compare directly).

On :func:`~dyngraphvae.data.synthetic.linear_gaussian` data the exact predictive law is known:
:func:`kalman_feature_predictive` is the Kalman-filter law of ``X_{T+h}`` given the observed
features ``X_{1:T}`` (exact, float64), and ``data.predictive(latents[T], h)`` the law given the
true latent state ``Z_T``; :func:`oracle_drift` scores both exactly (closed-form Gaussian CRPS,
log score, coverage). No learned model can beat the state oracle in expectation; the Kalman oracle
is the best forecaster that reads the features only (the model also reads the edges, which carry
information about ``Z``).

References: Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and Estimation",
JASA 2007; Ferro, "Fair scores for ensemble forecasts", QJRMS 2014; Kalman, 1960; Bengio et al.,
"Scheduled Sampling", NeurIPS 2015.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.distributions import MultivariateNormal

from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = [
    "DriftResult",
    "GrowthFit",
    "drift_curve",
    "evaluate_model",
    "fit_growth",
    "kalman_feature_predictive",
    "oracle_drift",
]

#: metrics whose growth is fitted, and how to turn them into a loss (higher = worse).
LOSS_VIEW = {
    "link/auc": lambda v: 1.0 - v,
    "link/ap": lambda v: 1.0 - v,
    "feature/crps": lambda v: v,
    "feature/mse": lambda v: v,
    "feature/log_score": lambda v: v,
}


# ==================================================================================================
# growth fits
# ==================================================================================================
@dataclass
class GrowthFit:
    r"""Least-squares fits of a drift curve ``e(h)``, ``h = 1..H``.

    Attributes:
        linear: ``{"a", "b", "rss", "r2"}`` of ``e = a + b h``.
        exponential: ``{"a", "r", "rss", "r2"}`` of ``e = a e^{r h}`` (``None`` if some ``e <= 0``
            or the fit failed); ``e^{r}`` is the per-step growth factor.
        best: ``"linear"`` or ``"exponential"`` (smaller residual sum of squares; same number of
            parameters).
    """

    linear: dict[str, float]
    exponential: dict[str, float] | None
    best: str
    num_points: int

    def to_dict(self) -> dict[str, Any]:
        return {"linear": self.linear, "exponential": self.exponential, "best": self.best,
                "num_points": self.num_points}


def _r2(y: Tensor, pred: Tensor) -> float:
    ss_tot = float((y - y.mean()).pow(2).sum())
    ss_res = float((y - pred).pow(2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)


def fit_growth(h: Sequence[float] | Tensor, values: Sequence[float] | Tensor) -> GrowthFit:
    r"""Fit ``e(h) = a + b h`` (ordinary least squares) and ``e(h) = a e^{r h}`` (nonlinear least
    squares on the original scale, Gauss–Newton via ``scipy.optimize.curve_fit`` started from the
    log-linear fit) to the points ``(h_i, e_i)``; NaN points are dropped. Needs >= 3 points."""
    hh = torch.as_tensor(h, dtype=torch.float64).flatten()
    y = torch.as_tensor(values, dtype=torch.float64).flatten()
    if hh.shape != y.shape:
        raise ValueError(f"fit_growth: h {tuple(hh.shape)} and values {tuple(y.shape)} differ")
    keep = torch.isfinite(y) & torch.isfinite(hh)
    hh, y = hh[keep], y[keep]
    if hh.numel() < 3:
        raise ValueError(f"fit_growth: needs at least 3 finite points, got {hh.numel()}")
    X = torch.stack([torch.ones_like(hh), hh], 1)
    coef = torch.linalg.lstsq(X, y.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    pred = X @ coef
    linear = {"a": float(coef[0]), "b": float(coef[1]),
              "rss": float((y - pred).pow(2).sum()), "r2": _r2(y, pred)}
    expo = None
    if bool((y > 0).all()):
        import numpy as np
        from scipy.optimize import curve_fit

        c0 = torch.linalg.lstsq(X, y.log().unsqueeze(1), driver="gelsd").solution.squeeze(1)
        p0 = [math.exp(float(c0[0])), float(c0[1])]

        def f(x, a, r):
            return a * np.exp(r * x)

        try:
            (a, r), _ = curve_fit(f, hh.numpy(), y.numpy(), p0=p0, maxfev=20000)
            pe = torch.as_tensor(f(hh.numpy(), a, r), dtype=torch.float64)
            if bool(torch.isfinite(pe).all()):
                expo = {"a": float(a), "r": float(r), "rss": float((y - pe).pow(2).sum()),
                        "r2": _r2(y, pe)}
        except (RuntimeError, ValueError):
            expo = None
    best = "exponential" if expo is not None and expo["rss"] < linear["rss"] else "linear"
    return GrowthFit(linear=linear, exponential=expo, best=best, num_points=int(hh.numel()))


# ==================================================================================================
# drift curves
# ==================================================================================================
@dataclass
class DriftResult:
    r"""Per-origin, per-horizon scores and their summary.

    Attributes:
        origins: the origins ``T`` (number of conditioning snapshots).
        horizon: ``H``.
        values: ``name -> (O, H)`` float64 tensor (NaN where the truth ``G_{T+h}`` is beyond the
            data or the metric is undefined). Names: ``link/auc``, ``link/ap`` (in [0, 1]),
            ``link/persistence_auc`` ..., ``feature/crps``, ``feature/mse``, ``feature/coverage``,
            ``feature/log_score``, ``feature/persistence_mse``, ``feature/persistence_crps``,
            ``feature/{linear,spatial}_lags_{mse,crps}`` (the Gaussian linear models on 4 own
            lags, and on them and their neighbour means, fitted on each origin's history), and
            for oracles ``oracle_kalman/...``, ``oracle_state/...``.
        fits: ``name -> GrowthFit`` of the loss view (:data:`LOSS_VIEW`) of the mean curve.
        meta: settings (samples, seed, level, model label).
    """

    origins: list[int]
    horizon: int
    values: dict[str, Tensor]
    fits: dict[str, GrowthFit] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def mean(self, name: str) -> Tensor:
        """``(H,)`` mean over origins (NaN-aware)."""
        return self.values[name].nanmean(0)

    def std(self, name: str) -> Tensor:
        """``(H,)`` population standard deviation over origins (NaN-aware)."""
        v = self.values[name]
        m = v.nanmean(0, keepdim=True)
        return (v - m).pow(2).nanmean(0).sqrt()

    def count(self, name: str) -> Tensor:
        return torch.isfinite(self.values[name]).sum(0)

    def refit(self) -> DriftResult:
        """A copy with :attr:`fits` recomputed from the mean curves (>= 3 finite horizons)."""
        fits = {}
        h = torch.arange(1, self.horizon + 1, dtype=torch.float64)
        for name in self.values:
            base = name.split("/", 1)[-1]
            key = next((k for k in LOSS_VIEW if name == k or name.endswith("/" + base)
                        and k.endswith("/" + base)), None)
            if key is None or any(b in name for b in ("persistence", "frequency", "edgebank",
                                                      "pair_history")):
                continue
            m = LOSS_VIEW[key](self.mean(name))
            if int(torch.isfinite(m).sum()) >= 3:
                try:
                    fits[name] = fit_growth(h, m)
                except ValueError:
                    continue
        return DriftResult(self.origins, self.horizon, self.values, fits, dict(self.meta))

    def table(self) -> list[dict[str, Any]]:
        """One row per horizon: ``{"h", name: [mean, std, count], ...}``."""
        rows = []
        for k in range(self.horizon):
            row: dict[str, Any] = {"h": k + 1}
            for name in self.values:
                row[name] = [_f(self.mean(name)[k]), _f(self.std(name)[k]),
                             int(self.count(name)[k])]
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN -> None)."""
        return {
            "origins": list(self.origins),
            "horizon": self.horizon,
            "mean": {k: [_f(v) for v in self.mean(k)] for k in self.values},
            "std": {k: [_f(v) for v in self.std(k)] for k in self.values},
            "count": {k: [int(v) for v in self.count(k)] for k in self.values},
            "values": {k: [[_f(x) for x in row] for row in v] for k, v in self.values.items()},
            "fits": {k: v.to_dict() for k, v in self.fits.items()},
            "meta": self.meta,
        }


def _f(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _pairs_generator(seed: int, t: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(t) + 7)


def drift_curve(
    model: Any,
    graph: TemporalGraph,
    origins: Sequence[int],
    horizon: int,
    *,
    num_samples: int = 50,
    seed: int = 0,
    level: float = 0.9,
    baselines: bool = True,
    label: str | None = None,
    negatives: str = "random",
    train_end: int | None = None,
) -> DriftResult:
    r"""Score ``H``-step forecasts from every origin (module docstring). With an
    autoregressive decoder, the sampled graphs are scored too
    (:func:`~dyngraphvae.evaluation.futures.future_stats`): ``future/count_cover``,
    ``future/count_ratio``, ``future/mmd_degree`` and persistence's ratio and MMD.

    Args:
        model: a trained :class:`~dyngraphvae.models.TemporalGraphVAE`.
        graph: the whole sequence (history and truth).
        origins: origins ``T >= 1``; horizons whose truth lies beyond ``graph`` are NaN.
        horizon: ``H``.
        num_samples: ``S``.
        seed: seeds the forecast and the negative pairs (the pairs of snapshot ``t`` depend only on
            ``(seed, t)``, so every origin and every model sees the same pairs).
        level: nominal coverage of the central interval.
        baselines: also score persistence (links and features), edge frequency and EdgeBank
            (links; unlimited memory and a window of ``H`` snapshots).
        label: stored in ``meta``.
        negatives: ``"random"`` (default), ``"historical"`` or ``"inductive"`` negatives for
            the link AUC/AP (:mod:`dyngraphvae.evaluation.negatives`).
        train_end: end of the training span for inductive negatives (default: the first
            origin).
    """
    from dyngraphvae.evaluation.baselines import lag_baseline_paths, link_baselines
    from dyngraphvae.evaluation.futures import future_stats
    from dyngraphvae.evaluation.links import link_metrics
    from dyngraphvae.evaluation.negatives import link_pairs
    from dyngraphvae.evaluation.scores import crps_ensemble, interval_coverage
    from dyngraphvae.models.rolling import rolling_forecast

    origins = [int(o) for o in origins]
    if not origins or min(origins) < 1:
        raise ValueError(f"drift_curve: origins must be >= 1, got {origins}")
    H = int(horizon)
    t_end = min(origins) if train_end is None else int(train_end)
    link_base = [link_baselines(H, horizon=k + 1) for k in range(H)]
    gen = torch.Generator().manual_seed(int(seed))
    fc = rolling_forecast(model, graph, origins, H, num_samples, generator=gen)
    O, T_all = len(origins), len(graph)
    vals: dict[str, Tensor] = {}

    def put(name: str, i: int, k: int, v: float) -> None:
        vals.setdefault(name, torch.full((O, H), float("nan"), dtype=torch.float64))[i, k] = v

    link_ok = fc.edge_decoder is not None
    feat_ok = fc.x is not None and graph.has_features
    det = bool(model.config.deterministic_decoder)
    pairs_cache: dict[tuple[int, int | None], tuple[Tensor, Tensor] | None] = {}
    from dyngraphvae.progress import progress

    for i, o in progress(list(enumerate(origins)), "scoring origins"):
        hist = graph[:o]
        lag_paths = lag_baseline_paths(hist, H, num_samples, seed + o) if (
            baselines and feat_ok) else {}
        for k in range(H):
            t = o + k
            if t >= T_all:
                break
            if link_ok:
                # random pairs depend on the target only; historical / inductive candidates on
                # the origin too (the forecaster's history ends there)
                key = (t, None if negatives == "random" else o)
                if key not in pairs_cache:
                    try:
                        pairs_cache[key] = link_pairs(
                            graph, t, negatives, train_end=min(t_end, o), history_end=o,
                            generator=_pairs_generator(seed, t))
                    except ValueError:
                        pairs_cache[key] = None
                pn = pairs_cache[key]
                if pn is not None:
                    pos, neg = pn
                    pairs = torch.cat([pos, neg], 1)
                    p = pos.size(1)
                    prob = fc.edge_prob(i, k, pairs).double()
                    m = link_metrics(prob[:p], prob[p:])
                    put("link/auc", i, k, m.auc)
                    put("link/ap", i, k, m.ap)
                    if baselines:
                        for bname, b in link_base[k].items():
                            s = b.score_pairs(hist, pairs)
                            mb = link_metrics(s[:p], s[p:])
                            put(f"link/{bname}_auc", i, k, mb.auc)
                            put(f"link/{bname}_ap", i, k, mb.ap)
            if link_ok and fc.sampled_edges is not None and graph.num_edges(t) > 0:
                for m, (ours, last) in future_stats(fc.sampled_edges[i], k, graph, o,
                                                    num_samples, level).items():
                    put(f"future/{m}", i, k, ours)
                    if last is not None:
                        put(f"future/persistence_{m}", i, k, last)
            if feat_ok:
                y = graph.features(t).double()
                keep = graph.node_mask[t] if graph.node_mask is not None else torch.ones(
                    y.size(0), dtype=torch.bool)
                xs = fc.x[:, i, k].double()  # (S, N, F)
                mean = fc.feature_mean[:, i, k].double().mean(0)
                est = "fair" if num_samples > 1 else "nrg"
                put("feature/crps", i, k,
                    float(crps_ensemble(y, xs, dim=0, estimator=est)[keep].mean()))
                put("feature/mse", i, k, float((mean - y).pow(2)[keep].mean()))
                put("feature/coverage", i, k,
                    float(interval_coverage(y, xs, level, dim=0)[keep].mean()))
                if not det:
                    mu = fc.feature_mean[:, i, k].double()
                    var = fc.feature_var[:, i, k].double().clamp(min=1e-12)
                    lp = -0.5 * ((y - mu).pow(2) / var + var.log() + math.log(2 * math.pi))
                    ls = -(torch.logsumexp(lp, 0) - math.log(num_samples))
                    put("feature/log_score", i, k, float(ls[keep].mean()))
                if baselines:
                    last = graph.features(o - 1).double()
                    put("feature/persistence_mse", i, k, float((last - y).pow(2)[keep].mean()))
                    put("feature/persistence_crps", i, k, float((last - y).abs()[keep].mean()))
                for name, (point, paths) in lag_paths.items():
                    put(f"feature/{name}_mse", i, k,
                        float((point[k].double() - y).pow(2)[keep].mean()))
                    put(f"feature/{name}_crps", i, k, float(crps_ensemble(
                        y, paths[:, k].double(), dim=0, estimator=est)[keep].mean()))
    meta = {"num_samples": int(num_samples), "seed": int(seed), "level": float(level),
            "label": label, "negatives": negatives,
            "crps_estimator": "fair" if num_samples > 1 else "nrg"}
    return DriftResult(origins, H, vals, {}, meta).refit()


# ==================================================================================================
# linear-Gaussian oracles
# ==================================================================================================
def kalman_feature_predictive(data: Any, start: int, h: int) -> MultivariateNormal:
    r"""Exact law of the features of snapshot ``start + h − 1`` given the features of snapshots
    ``0..start−1`` of a :class:`~dyngraphvae.data.synthetic.LinearGaussianData` (edges ignored).

    Per node (independent, same parameters): ``Z_0 ~ N(0, I)``, ``X_s = C Z_s + e``,
    ``Z_{s+1} = A Z_s + w``. The Kalman filter (float64) gives ``Z_{start} | X_{0:start-1} ~
    N(m, P)``; then ``Z_{start+h-1} ~ N(A^{h-1} m, A^{h-1} P A^{(h-1)T} + Σ_{h-1})`` and
    ``X ~ N(C·, C(·)C^T + R)``. Returns batch ``(N,)``, event ``(F,)`` (float64).
    """
    if isinstance(h, bool) or int(h) != h or h < 1:
        raise ValueError(f"kalman_feature_predictive: h must be a positive integer, got {h!r}")
    g = data.graph
    if not 0 <= start <= len(g):
        raise ValueError(f"kalman_feature_predictive: start must be in [0, {len(g)}], got {start}")
    A, Q, C, R = (t.double() for t in (data.A, data.Q, data.C, data.R))
    d = A.size(0)
    N = g.num_nodes
    m = torch.zeros(N, d, dtype=torch.float64)
    P = torch.eye(d, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    for s in range(start):
        x = g.features(s).double()  # (N, F)
        S_ = C @ P @ C.T + R
        K = torch.linalg.solve(S_, C @ P).T  # P C^T S^{-1}  (d, F)
        m = m + (x - m @ C.T) @ K.T
        P = (eye - K @ C) @ P
        P = 0.5 * (P + P.T)
        m = m @ A.T
        P = A @ P @ A.T + Q
    for _ in range(h - 1):
        m = m @ A.T
        P = A @ P @ A.T + Q
    cov = C @ P @ C.T + R
    return MultivariateNormal(m @ C.T, covariance_matrix=0.5 * (cov + cov.T))


def _gauss_scores(law: MultivariateNormal, y: Tensor, level: float) -> dict[str, float]:
    from dyngraphvae.evaluation.scores import (
        crps_gaussian,
        gaussian_log_score,
        interval_coverage_gaussian,
    )

    mu = law.mean
    sd = law.covariance_matrix.diagonal(dim1=-2, dim2=-1).sqrt().expand_as(mu)
    return {
        "crps": float(crps_gaussian(y, mu, sd).mean()),
        "mse": float((mu - y).pow(2).mean()),
        "coverage": float(interval_coverage_gaussian(y, mu, sd, level).mean()),
        "log_score": float(gaussian_log_score(y, mu, sd).mean()),
    }


def oracle_drift(
    data: Any,
    origins: Sequence[int],
    horizon: int,
    *,
    level: float = 0.9,
    edge_samples: int = 200,
    seed: int = 0,
) -> DriftResult:
    r"""Exact scores of the two linear-Gaussian oracles at every origin and horizon.

    ``oracle_kalman/*``: :func:`kalman_feature_predictive`; ``oracle_state/*``:
    ``data.predictive(latents[T], h)`` (knows ``Z_T``). Feature scores are per-feature marginal
    and exact: Gaussian CRPS, squared error of the mean, log score, ``level`` coverage indicator,
    averaged over nodes and features (comparable with :func:`drift_curve`'s ``feature/*``).
    ``oracle_state/auc``/``ap``: the state oracle's edge probability
    :math:`E[\sigma(b + a\,z_u^\top z_v)]` (exact at ``h = 1``, ``edge_samples`` Monte Carlo draws
    of ``Z_{T+h-1} | Z_T`` beyond) on the same pairs as :func:`drift_curve` with the same seed.
    """
    from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs

    g = data.graph
    origins = [int(o) for o in origins]
    H = int(horizon)
    O = len(origins)
    vals: dict[str, Tensor] = {}
    gen = torch.Generator().manual_seed(int(seed) + 99)

    def put(name: str, i: int, k: int, v: float) -> None:
        vals.setdefault(name, torch.full((O, H), float("nan"), dtype=torch.float64))[i, k] = v

    for i, o in enumerate(origins):
        z = data.latents[o].double()
        for k in range(H):
            t = o + k
            if t >= len(g):
                break
            y = g.features(t).double()
            for name, law in (("oracle_kalman", kalman_feature_predictive(data, o, k + 1)),
                              ("oracle_state", _double_law(data.predictive(z, k + 1)))):
                for key, v in _gauss_scores(law, y, level).items():
                    put(f"{name}/{key}", i, k, v)
            try:
                pos, neg = link_prediction_pairs(g, t, generator=_pairs_generator(seed, t))
            except ValueError:
                continue
            pairs = torch.cat([pos, neg], 1)
            if k == 0:
                zs = z.unsqueeze(0)
            else:
                lat = data.latent_predictive(z, k)
                zs = lat.sample((edge_samples,)) if gen is None else _mvn_sample(
                    lat, edge_samples, gen)
            prob = data.edge_probability(zs)[:, pairs[0], pairs[1]].mean(0)
            p = pos.size(1)
            m = link_metrics(prob[:p], prob[p:])
            put("oracle_state/auc", i, k, m.auc)
            put("oracle_state/ap", i, k, m.ap)
    return DriftResult(origins, H, vals, {}, {"level": level, "edge_samples": edge_samples,
                                               "seed": seed})


def _double_law(law: MultivariateNormal) -> MultivariateNormal:
    return MultivariateNormal(law.mean.double(), covariance_matrix=law.covariance_matrix.double())


def _mvn_sample(law: MultivariateNormal, n: int, gen: torch.Generator) -> Tensor:
    eps = torch.randn((n,) + tuple(law.batch_shape) + tuple(law.event_shape),
                      generator=gen, dtype=law.mean.dtype)
    return law.mean + (law.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)


# ==================================================================================================
# CLI entry point
# ==================================================================================================
def evaluate_model(
    model_dir_or_model: str | Path | Any,
    graph: TemporalGraph,
    horizon: int,
    out_dir: str | Path,
    *,
    origins: Sequence[int] | None = None,
    start: int | None = None,
    num_samples: int = 50,
    seed: int = 0,
    level: float = 0.9,
    plot: bool = True,
    negatives: str = "random",
) -> dict[str, Any]:
    r"""Drift evaluation of a trained model; writes ``metrics.json`` and ``drift.png``.

    Args:
        model_dir_or_model: a model folder (:func:`dyngraphvae.training.load_model`) or a model.
        graph: the whole sequence.
        horizon: ``H``.
        out_dir: output folder (created).
        origins: forecast origins; default ``start..len(graph)-1``.
        start: first origin when ``origins`` is None; default the model folder's
            ``history_snapshots`` metadata, else ``len(graph) − horizon``.
        num_samples, seed, level, negatives: as :func:`drift_curve`.
        plot: draw ``drift.png`` (matplotlib, Agg).

    Returns:
        The ``metrics.json`` content: :meth:`DriftResult.to_dict` plus ``"table"`` (per-horizon
        mean/std/count) and ``"files"``.
    """
    model = model_dir_or_model
    meta: dict[str, Any] = {}
    if isinstance(model_dir_or_model, (str, Path)):
        from dyngraphvae.training import load_saved

        saved = load_saved(model_dir_or_model)
        model, meta = saved.model.eval(), saved.metadata
    if origins is None:
        if start is None:
            start = int(meta.get("history_snapshots", len(graph) - int(horizon)))
        if not 1 <= start < len(graph):
            raise ValueError(
                f"evaluate_model: start must be in [1, {len(graph) - 1}], got {start}")
        origins = list(range(start, len(graph)))
    res = drift_curve(model, graph, origins, horizon, num_samples=num_samples, seed=seed,
                      level=level, negatives=negatives)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = res.to_dict()
    report["table"] = res.table()
    files = [str(out / "metrics.json")]
    if plot:
        from dyngraphvae.evaluation.plots import plot_drift

        plot_drift({"model": res}, out / "drift.png")
        files.append(str(out / "drift.png"))
    report["files"] = files
    (out / "metrics.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return report

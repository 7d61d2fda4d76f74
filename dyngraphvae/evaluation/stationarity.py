r"""Long rollouts of the latent Markov chain: graph statistics over time, the transition's
Lipschitz constant, and whether the chain settles.

The transition prior
:math:`p(Z_{t+1}\mid Z_t) = \mathcal N(f(Z_t), \operatorname{diag}\sigma^2(Z_t))` (or a mixture)
defines a Markov chain. If the mean map is a contraction, :math:`\|f(z) - f(z')\| \le L\|z - z'\|`
with :math:`L < 1`, then two copies driven by the same noise (synchronous coupling) approach
each other geometrically whenever the noise scale does not
depend on the state, and the chain has a unique stationary law (Banach fixed point /
Wasserstein contraction; e.g. Diaconis & Freedman, "Iterated random functions", SIAM Review 1999).

* :func:`jacobian_spectral_norms`: :math:`\|J_f(z)\|_2` at given states, exact (``d`` backward
  passes for a node-wise map, ``N·d`` for a coupled one), so
  :math:`\hat L = \max_z\|J_f(z)\|_2` over sampled states is a *local* Lipschitz estimate (a lower
  bound on the global constant; on the visited region it is what matters).
* :func:`transition_lipschitz`: that estimate for the model's transition mean (a mixture's mean
  for ``K > 1``).
* :func:`rollout_statistics`: ``S`` rollouts of ``steps`` steps from a filtered state and from a
  second, different start with the same random numbers; per step the sampled graphs' density and
  mean degree, the latent norm, the coupling distance between the two chains, windowed degree
  histograms, two-sample Kolmogorov–Smirnov tests between the density distributions of the
  windows, and the degree-histogram MMD between the first and last windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "LipschitzEstimate",
    "RolloutStatistics",
    "jacobian_spectral_norms",
    "rollout_statistics",
    "transition_lipschitz",
]


def jacobian_spectral_norms(
    fn: Callable[[Tensor], Tensor], states: Tensor, *, node_wise: bool = True
) -> Tensor:
    r"""Spectral norms of the Jacobian of ``fn`` at ``states``.

    Args:
        fn: maps ``(B, N, d) -> (B, N, d)``.
        states: ``(B, N, d)``.
        node_wise: ``fn`` acts on every node separately (output node ``v`` reads only input node
            ``v``, as :class:`~dyngraphvae.nn.transition.GRUTransition` does): returns the norms of
            the ``d × d`` per-node Jacobians, ``(B, N)``. Otherwise the full ``(N d) × (N d)``
            Jacobian of each state: ``(B,)``.

    Row ``j`` of each Jacobian is the gradient of ``Σ fn(z)[..., j]`` (node-wise: the sum over
    nodes and the batch separates, since cross-derivatives vanish), so no ``vmap`` is needed.
    """
    if states.dim() != 3:
        raise ValueError(f"jacobian_spectral_norms: states must be (B, N, d), got "
                         f"{tuple(states.shape)}")
    B, N, d = states.shape
    z = states.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = fn(z)
        if out.shape != z.shape:
            raise ValueError(f"jacobian_spectral_norms: fn maps {tuple(z.shape)} to "
                             f"{tuple(out.shape)}; expected the same shape")
        if node_wise:
            rows = [torch.autograd.grad(out[..., j].sum(), z, retain_graph=True)[0]
                    for j in range(d)]
            J = torch.stack(rows, dim=-2)  # (B, N, d_out, d_in)
        else:
            flat = out.reshape(B, N * d)
            rows = [torch.autograd.grad(flat[:, j].sum(), z, retain_graph=True)[0].reshape(B, -1)
                    for j in range(N * d)]
            J = torch.stack(rows, dim=-2)  # (B, Nd, Nd)
    return torch.linalg.matrix_norm(J.double(), ord=2)


@dataclass
class LipschitzEstimate:
    """Jacobian spectral norms of the transition mean over sampled states.

    ``max`` is the local Lipschitz estimate; ``contracts`` is ``max < 1`` (contraction on the
    visited region); ``fraction_below_one`` is the share of (state, node) Jacobians with norm < 1.
    """

    max: float
    mean: float
    quantiles: dict[str, float]
    fraction_below_one: float
    num_states: int
    node_wise: bool

    @property
    def contracts(self) -> bool:
        return self.max < 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"max": self.max, "mean": self.mean, "quantiles": self.quantiles,
                "fraction_below_one": self.fraction_below_one, "num_states": self.num_states,
                "node_wise": self.node_wise, "contracts": self.contracts}


def _summary(norms: Tensor, node_wise: bool, num_states: int) -> LipschitzEstimate:
    v = norms.flatten().double()
    qs = torch.quantile(v, torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64))
    return LipschitzEstimate(
        max=float(v.max()), mean=float(v.mean()),
        quantiles={"q50": float(qs[0]), "q90": float(qs[1]), "q99": float(qs[2])},
        fraction_below_one=float((v < 1).double().mean()), num_states=num_states,
        node_wise=node_wise,
    )


def transition_lipschitz(model: Any, states: Tensor) -> LipschitzEstimate:
    r"""Local Lipschitz estimate of the transition mean :math:`z \mapsto E[Z_{t+1}\mid Z_t = z]`
    at ``states (B, N, d)`` (node-wise unless the mixture is drawn per graph)."""
    node_wise = getattr(model.config, "transition_mixture", "node") != "graph" or \
        model.config.transition_components == 1

    def mean(z: Tensor) -> Tensor:
        return model.prior(z).mean

    norms = jacobian_spectral_norms(mean, states, node_wise=node_wise)
    return _summary(norms, node_wise, int(states.size(0)))


@dataclass
class RolloutStatistics:
    """Statistics of long rollouts (see :func:`rollout_statistics`); tensors are over steps.

    Attributes:
        density: ``(2, S, steps)`` sampled-graph density per chain (0: from the filtered state,
            1: from the other start), sample and step.
        mean_degree: ``(2, S, steps)``.
        latent_norm: ``(2, S, steps)`` RMS of ``Ẑ`` per node and dimension.
        coupling_distance: ``(S, steps)`` RMS of ``Ẑ^{(0)} − Ẑ^{(1)}`` (same random numbers).
        feature_mean: ``(2, S, steps)`` mean sampled feature, or ``None``.
        windows: ``[(start, stop)]`` step windows.
        window_density_mean, window_density_std: per chain and window, ``(2, W)``.
        ks_consecutive: KS statistic and p-value between the density distributions (pooled over
            samples and steps) of consecutive windows of chain 0, ``[(D, p)]``.
        ks_between_chains_last: KS (D, p) between the two chains' last windows.
        degree_mmd_first_last: degree-histogram MMD² (GRAN TV kernel) between the first and last
            windows of chain 0.
        degree_mmd_last_between_chains: the same between the chains' last windows.
        lipschitz: :class:`LipschitzEstimate` over states visited by chain 0.
    """

    density: Tensor
    mean_degree: Tensor
    latent_norm: Tensor
    coupling_distance: Tensor
    feature_mean: Tensor | None
    windows: list[tuple[int, int]]
    window_density_mean: Tensor
    window_density_std: Tensor
    ks_consecutive: list[tuple[float, float]]
    ks_between_chains_last: tuple[float, float]
    degree_mmd_first_last: float | None
    degree_mmd_last_between_chains: float | None
    lipschitz: LipschitzEstimate
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, per_step: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "windows": self.windows,
            "window_density_mean": self.window_density_mean.tolist(),
            "window_density_std": self.window_density_std.tolist(),
            "ks_consecutive": self.ks_consecutive,
            "ks_between_chains_last": self.ks_between_chains_last,
            "degree_mmd_first_last": self.degree_mmd_first_last,
            "degree_mmd_last_between_chains": self.degree_mmd_last_between_chains,
            "lipschitz": self.lipschitz.to_dict(),
            "coupling_distance_first": float(self.coupling_distance[:, 0].mean()),
            "coupling_distance_last": float(self.coupling_distance[:, -1].mean()),
            "meta": self.meta,
        }
        if per_step:
            d["density_mean"] = self.density.mean(1).tolist()
            d["coupling_distance_mean"] = self.coupling_distance.mean(0).tolist()
            d["latent_norm_mean"] = self.latent_norm.mean(1).tolist()
        return d


def rollout_statistics(
    model: Any,
    history: Any,
    steps: int = 500,
    *,
    num_samples: int = 8,
    num_windows: int = 5,
    other_start: Tensor | str = "prior",
    seed: int = 0,
    lipschitz_states: int = 64,
) -> RolloutStatistics:
    r"""Roll the chain ``steps`` steps from the filtered state of ``history`` and from a second
    start, with the same random numbers, and summarise (module docstring).

    Args:
        model: a trained :class:`~dyngraphvae.models.TemporalGraphVAE` with an edge decoder.
        history: a :class:`~dyngraphvae.data.TemporalGraph` to filter (chain 0 starts at
            ``Z_T``).
        steps: rollout length.
        num_samples: ``S`` chains per start.
        num_windows: ``W`` equal windows for the window comparisons.
        other_start: chain 1's start: ``"prior"`` (``Z_0`` of the model), ``"scaled"``
            (``3 Z_T``), or an ``(N, d)`` / ``(S, N, d)`` tensor.
        seed: seeds everything; both chains use the same generator seed (synchronous coupling
            of the transition noise).
        lipschitz_states: states of chain 0 (evenly spaced over samples and steps) at which the
            Jacobian norm is evaluated.
    """
    from scipy.stats import ks_2samp

    from dyngraphvae.evaluation.graph_stats import graph_mmd
    from dyngraphvae.models.forecaster import FilterState

    S = int(num_samples)
    with torch.no_grad():
        st0 = model.filter(history, S, generator=torch.Generator().manual_seed(seed))
        if isinstance(other_start, str):
            if other_start == "prior":
                z1 = model.initial_latent().expand_as(st0.z)
            elif other_start == "scaled":
                z1 = 3.0 * st0.z
            else:
                raise ValueError(f"rollout_statistics: unknown other_start {other_start!r}")
        else:
            z1 = other_start.expand_as(st0.z)
        st1 = FilterState(z=z1.contiguous(), posterior=None, summary=None,
                          num_snapshots=st0.num_snapshots)
        chains = []
        for st in (st0, st1):
            fc = model.forecast(st, steps, S, generator=torch.Generator().manual_seed(seed + 1))
            adj = fc.sample_adjacency(generator=torch.Generator().manual_seed(seed + 2),
                                      sparse=False)  # (S, steps, N, N)
            n = adj.size(-1)
            deg = adj.sum(-1).double()  # (S, steps, N)
            dens = deg.sum(-1) / (n * (n - 1))
            chains.append(dict(z=fc.z, adj=adj, density=dens, mean_degree=deg.mean(-1),
                               x=None if fc.x is None else fc.x.mean((-1, -2))))
    density = torch.stack([c["density"] for c in chains])
    mean_degree = torch.stack([c["mean_degree"] for c in chains])
    latent_norm = torch.stack([c["z"].double().pow(2).mean((-1, -2)).sqrt() for c in chains])
    coupling = (chains[0]["z"] - chains[1]["z"]).double().pow(2).mean((-1, -2)).sqrt()
    feat = None if chains[0]["x"] is None else torch.stack([c["x"] for c in chains])
    W = int(num_windows)
    bounds = torch.linspace(0, steps, W + 1).long().tolist()
    windows = [(bounds[i], bounds[i + 1]) for i in range(W)]
    wm = torch.stack([torch.stack([density[c, :, a:b].mean() for a, b in windows])
                      for c in range(2)])
    ws = torch.stack([torch.stack([density[c, :, a:b].std() for a, b in windows])
                      for c in range(2)])

    def ks(u: Tensor, v: Tensor) -> tuple[float, float]:
        r = ks_2samp(u.flatten().numpy(), v.flatten().numpy())
        return float(r.statistic), float(r.pvalue)

    ks_cons = [ks(density[0, :, a:b], density[0, :, c:e])
               for (a, b), (c, e) in zip(windows[:-1], windows[1:], strict=True)]
    a, b = windows[-1]
    ks_chains = ks(density[0, :, a:b], density[1, :, a:b])

    def window_graphs(c: int, win: tuple[int, int], k: int = 40) -> Tensor:
        adj = chains[c]["adj"][:, win[0]:win[1]].reshape(-1, *chains[c]["adj"].shape[-2:])
        idx = torch.linspace(0, adj.size(0) - 1, min(k, adj.size(0))).long()
        return adj[idx]

    try:
        mmd_fl = graph_mmd(window_graphs(0, windows[0]), window_graphs(0, windows[-1]),
                           "degree").value
        mmd_ch = graph_mmd(window_graphs(0, windows[-1]), window_graphs(1, windows[-1]),
                           "degree").value
        mmd_fl, mmd_ch = float(mmd_fl), float(mmd_ch)
    except (ValueError, RuntimeError):
        mmd_fl = mmd_ch = None
    zflat = chains[0]["z"].reshape(-1, *chains[0]["z"].shape[-2:])
    idx = torch.linspace(0, zflat.size(0) - 1, min(lipschitz_states, zflat.size(0))).long()
    lip = transition_lipschitz(model, zflat[idx])
    return RolloutStatistics(
        density=density, mean_degree=mean_degree, latent_norm=latent_norm,
        coupling_distance=coupling, feature_mean=feat, windows=windows,
        window_density_mean=wm, window_density_std=ws, ks_consecutive=ks_cons,
        ks_between_chains_last=ks_chains, degree_mmd_first_last=mmd_fl,
        degree_mmd_last_between_chains=mmd_ch, lipschitz=lip,
        meta={"steps": int(steps), "num_samples": S, "seed": int(seed),
              "other_start": other_start if isinstance(other_start, str) else "tensor"},
    )

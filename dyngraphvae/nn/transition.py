"""Latent transition prior ``p(Z_{t+1} | Z_t)`` of the temporal forecaster (Problem 4).

Node-wise and Markov in ``Z``: the GRU's hidden state *is* ``z_v^t`` itself, so there is no
hidden state beyond ``Z`` and a rollout ``Z_{t+1} ~ p(. | Z_t)`` is a Markov chain whose
stationary law ``pi(Z') = int p(Z' | Z) pi(Z) dZ`` can be studied by long rollouts
(Problem 4.4).

One component (``num_components=1``)::

    h_v   = GRUCell(phi(z_v), z_v)         # gated update of the state z_v (Cho et al. 2014)
    mu_v  = W_o h_v + b_o                  # W_o = I, b_o = 0 at initialisation
    sigma_v = softplus(W_s [h_v, phi(z_v)] + b_s) + min_scale
    p(z'_v | z_v) = N(mu_v, diag sigma_v^2)

``K`` components: ``mu_{v,k} = W_{o,k} h_v + b_{o,k}``, ``sigma_{v,k}`` likewise, mixture logits
``pi_v = W_pi [h_v, phi(z_v)] + b_pi`` (depending on ``z_v``), and
``p(z'_v | z_v) = sum_k softmax(pi_v)_k N(mu_{v,k}, diag sigma_{v,k}^2)`` as a
``MixtureSameFamily``, the natural route to multimodal futures (and to closed-form
Cauchy-Schwarz divergences between mixtures).

``tied_scale=True`` shares one scale across the components, ``sigma_{v,k} = sigma_v`` (the
"tied" covariance of a Gaussian mixture model): the components then differ by their means and
weights only. The motivation is a poor local optimum of ELBO training with free scales, in which
one component widens until it covers every mode while the others starve (their
responsibilities, hence their gradients, vanish) and sampled futures become a blur; a tied scale
cannot cover two separated modes without widening the others too. It is not a cure-all: on the
fork process a tied mixture still lost a component on one seed of three under the schedule of
``dyngraphvae.recipes.fork_recipe``, where free scales learned both modes on every seed
(``docs/results.md``, section 5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal


class GRUTransition(nn.Module):
    """GRU-gated node-wise transition ``p(Z_{t+1} | Z_t)`` (see module docstring).

    Args:
        latent_dim: ``d``.
        hidden_dim: width of the input map ``phi`` (a one-layer MLP with ReLU).
        num_components: ``K``; 1 gives ``Independent(Normal)``, ``K > 1`` a
            ``MixtureSameFamily`` of ``K`` diagonal Normals per node.
        min_scale: lower bound on every standard deviation (numerical floor).
        tied_scale: one scale per node and dimension shared by the ``K`` components (see the
            module docstring); no effect when ``K = 1``.

    ``forward(z (..., N, d))`` returns a distribution with batch shape ``(..., N)`` and event
    shape ``(d,)``; any number of leading sample dimensions is handled in one call.
    """

    def __init__(
        self, latent_dim: int, hidden_dim: int, num_components: int = 1, min_scale: float = 1e-4,
        tied_scale: bool = False,
    ) -> None:
        super().__init__()
        if num_components < 1:
            raise ValueError(f"num_components: must be >= 1, got {num_components}")
        if min_scale <= 0:
            raise ValueError(f"min_scale: must be > 0, got {min_scale}")
        self.latent_dim, self.hidden_dim = latent_dim, hidden_dim
        self.num_components, self.min_scale = num_components, min_scale
        self.tied_scale = bool(tied_scale) and num_components > 1
        k, d = num_components, latent_dim
        self.phi = nn.Linear(d, hidden_dim)
        self.cell = nn.GRUCell(hidden_dim, d)
        self.loc = nn.Linear(d, k * d)
        self.scale = nn.Linear(d + hidden_dim, d if self.tied_scale else k * d)
        self.logits = nn.Linear(d + hidden_dim, k) if k > 1 else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.phi.reset_parameters()
        self.cell.reset_parameters()
        self.scale.reset_parameters()
        k, d = self.num_components, self.latent_dim
        with torch.no_grad():
            # Each component starts as the pure GRU update (W_o = I, b_o = 0); with K > 1 a small
            # random perturbation breaks the symmetry between components.
            eye = torch.eye(d).repeat(k, 1)
            self.loc.weight.copy_(eye)
            self.loc.bias.zero_()
            if k > 1:
                self.loc.weight.add_(0.1 * torch.randn_like(self.loc.weight) / d**0.5)
                self.loc.bias.normal_(0.0, 0.1)
        if self.logits is not None:
            self.logits.reset_parameters()

    def forward(self, z: Tensor) -> Distribution:
        if z.dim() < 2 or z.size(-1) != self.latent_dim:
            raise ValueError(
                f"z: expected shape (..., N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        lead = z.shape[:-1]
        flat = z.reshape(-1, self.latent_dim)
        feat = F.relu(self.phi(flat))
        h = self.cell(feat, flat)
        both = torch.cat([h, feat], dim=-1)
        loc = self.loc(h)
        scale = F.softplus(self.scale(both)) + self.min_scale
        k, d = self.num_components, self.latent_dim
        if k == 1:
            return Independent(Normal(loc.reshape(*lead, d), scale.reshape(*lead, d)), 1)
        if self.tied_scale:
            scale = scale.unsqueeze(-2).expand(-1, k, d)
        comp = Independent(
            Normal(loc.reshape(*lead, k, d), scale.reshape(*lead, k, d)), 1
        )
        mix = Categorical(logits=self.logits(both).reshape(*lead, k))
        return MixtureSameFamily(mix, comp)

    def extra_repr(self) -> str:
        return (
            f"latent_dim={self.latent_dim}, hidden_dim={self.hidden_dim}, "
            f"num_components={self.num_components}, min_scale={self.min_scale}"
            + (", tied_scale=True" if self.tied_scale else "")
        )


class GraphMixtureTransition(GRUTransition):
    r"""A ``K``-component transition that picks **one component for the whole graph**.

    Component ``k`` is the product over nodes of the per-node components ``k`` of
    :class:`GRUTransition`, and its weight is ``softmax_k(mean_v logits_{v,k})``::

        p(Z_{t+1} | Z_t) = Σ_k π_k Π_v N(z_v; μ_{v,k}, diag σ²_{v,k})

    ``forward(z (..., N, d))`` returns a ``MixtureSameFamily`` with batch ``(...)`` and event
    ``(N, d)``; :meth:`node_mixture` gives the per-node mixture it is built from. The parameters
    are those of :class:`GRUTransition` (same names, same initialisation).
    """

    def __init__(self, latent_dim: int, hidden_dim: int, num_components: int = 2,
                 min_scale: float = 1e-4, tied_scale: bool = False) -> None:
        if num_components < 2:
            raise ValueError(f"num_components: a graph-level mixture needs >= 2, got "
                             f"{num_components}")
        super().__init__(latent_dim, hidden_dim, num_components, min_scale, tied_scale)

    def node_mixture(self, z: Tensor) -> MixtureSameFamily:
        """The per-node mixture (batch ``(..., N)``, event ``(d,)``)."""
        return super().forward(z)

    def forward(self, z: Tensor) -> MixtureSameFamily:
        p = self.node_mixture(z)
        logits = p.mixture_distribution.logits.mean(-2)  # (..., K)
        base = p.component_distribution.base_dist  # loc (..., N, K, d)
        loc, scale = base.loc.transpose(-3, -2), base.scale.transpose(-3, -2)  # (..., K, N, d)
        return MixtureSameFamily(Categorical(logits=logits), Independent(Normal(loc, scale), 2))

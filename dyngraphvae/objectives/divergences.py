r"""Variational objectives: divergence choice, importance-weighted bound, CS-regularised objective.

* :func:`divergence` — ``KL(q || p)`` or the Cauchy–Schwarz divergence ``D_CS(q, p)``, wherever a
  model regularises its posterior towards a prior.
* :func:`importance_weighted_bound` — the IWAE bound (Burda, Grosse & Salakhutdinov, ICLR 2016)
  ``L_K = log (1/K) Σ_k w_k`` from log-weights ``log w_k = log p(x, z_k) − log q(z_k | x)``.
* :class:`RegularisedObjective` — ``E_q[log p(x|z)] − λ·D(q || p)`` with ``D`` = KL (the ELBO for
  λ = 1; β-VAE for other λ) or CS (Tran, Pantic & Deisenroth, "Cauchy–Schwarz Regularized
  Autoencoder", JMLR 23(115), 2022).

.. warning::
   The CS-regularised objective ``E_q[log p(x|z)] − λ·D_CS(q || p)`` is **not a lower bound on**
   ``log p(x)``. Since ``log p(x) = E_q[log p(x|z)] − KL(q||p) + KL(q || p(z|x))`` (Problem 2.2)::

       L_CS = log p(x) − KL(q || p(z|x)) + [KL(q||p) − λ·D_CS(q||p)]

   and the bracket is ≥ 0 for Gaussians with λ ≤ 1 (D_CS ≤ KL, Problem 2.1), so ``L_CS`` may exceed
   ``log p(x)``. Compare CS-trained models to ELBO-trained ones through an importance-weighted
   estimate of ``log p(x)`` (e.g. :meth:`dyngraphvae.models.cvae.CVAE.log_likelihood`), never
   through ``L_CS`` itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor
from torch.distributions import Distribution

from dyngraphvae.distributions import cs_divergence, kl_divergence

__all__ = [
    "DIVERGENCES",
    "ObjectiveTerms",
    "RegularisedObjective",
    "divergence",
    "importance_weighted_bound",
]

DIVERGENCES: tuple[str, ...] = ("kl", "cs")
"""Names accepted by :func:`divergence` (``kind=``)."""


def _check_kind(kind: str) -> str:
    if not isinstance(kind, str) or kind.lower() not in DIVERGENCES:
        raise ValueError(f"divergence kind must be one of {DIVERGENCES}, got {kind!r}")
    return kind.lower()


def divergence(
    q: Distribution,
    p: Distribution,
    kind: str = "kl",
    mc_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Divergence of the posterior ``q`` from the prior ``p``; shape = broadcast batch shape.

    * ``kind="kl"``: ``KL(q || p) = E_q[log q − log p]`` via
      :func:`dyngraphvae.distributions.kl_divergence` (closed form; for Gaussian mixtures only with
      ``mc_samples=S``, a Monte Carlo estimate with ``S`` draws from ``q``).
    * ``kind="cs"``: ``D_CS(q, p) = −log ∫qp + ½ log ∫q² + ½ log ∫p²`` via
      :func:`dyngraphvae.distributions.cs_divergence` (closed form, mixtures included;
      ``mc_samples`` is ignored).
    """
    kind = _check_kind(kind)
    if kind == "kl":
        return kl_divergence(q, p, mc_samples=mc_samples, generator=generator)
    return cs_divergence(q, p)


def importance_weighted_bound(log_weights: Tensor, dim: int = 0) -> Tensor:
    r"""IWAE bound ``L_K = logsumexp_k(log w_k) − log K`` along ``dim``.

    With ``log w_k = log p(x, z_k) − log q(z_k | x)`` and ``z_k ~ q`` i.i.d.,
    ``E[L_1] = ELBO ≤ E[L_K] ≤ E[L_{K'}] ≤ log p(x)`` for ``K ≤ K'``, and ``L_K → log p(x)``
    as ``K → ∞`` (Burda et al. 2016). ``-inf`` weights are allowed (zero weight).
    """
    if log_weights.dim() == 0:
        raise ValueError("importance_weighted_bound: log_weights must have at least one dimension")
    k = log_weights.shape[dim]
    if k < 1:
        raise ValueError(f"importance_weighted_bound: dimension {dim} of log_weights is empty")
    return torch.logsumexp(log_weights, dim=dim) - math.log(k)


@dataclass(frozen=True)
class ObjectiveTerms:
    """Named terms of a regularised objective (all with the batch shape of the inputs).

    ``objective = reconstruction − weight · divergence``; ``is_lower_bound`` states whether the
    objective is guaranteed to lower-bound ``log p(x)`` (only KL with ``weight >= 1``).
    """

    objective: Tensor
    reconstruction: Tensor
    divergence: Tensor
    kind: str
    weight: float
    is_lower_bound: bool


@dataclass(frozen=True)
class RegularisedObjective:
    r"""``J = E_q[log p(x|z)] − λ · D(q(z|x) || p(z))`` with ``D`` chosen by name.

    * ``RegularisedObjective("kl", 1.0)``: the ELBO (a lower bound on ``log p(x)``);
    * ``RegularisedObjective("kl", β)``: β-VAE (a lower bound only for β ≥ 1);
    * ``RegularisedObjective("cs", λ)``: the Cauchy–Schwarz-regularised objective (Tran et al.
      2022) — **not** a bound on ``log p(x)``; report an importance-weighted log-likelihood
      beside it.

    Free bits and annealing schedules live in :mod:`dyngraphvae.collapse`; pass the resulting weight
    as ``weight`` here.
    """

    kind: str = "kl"
    weight: float = 1.0
    mc_samples: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _check_kind(self.kind))
        if not math.isfinite(self.weight) or self.weight < 0:
            raise ValueError(
                f"RegularisedObjective: weight must be finite and >= 0, got {self.weight}"
            )

    @classmethod
    def elbo(cls) -> RegularisedObjective:
        """The ELBO: KL with weight 1."""
        return cls("kl", 1.0)

    @classmethod
    def cauchy_schwarz(cls, weight: float = 1.0) -> RegularisedObjective:
        """The CS-regularised objective with multiplier ``weight`` (λ)."""
        return cls("cs", weight)

    @property
    def is_lower_bound(self) -> bool:
        """True iff ``J ≤ log p(x)`` is guaranteed (KL with weight ≥ 1)."""
        return self.kind == "kl" and self.weight >= 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RegularisedObjective:
        return cls(**d)

    def __call__(
        self,
        expected_log_likelihood: Tensor,
        q: Distribution | None = None,
        p: Distribution | None = None,
        *,
        divergence: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> ObjectiveTerms:
        """Combine a reconstruction term ``E_q[log p(x|z)]`` with ``weight · D(q || p)``.

        ``D`` is computed from ``q`` and ``p`` by :func:`divergence`, unless the caller passes it
        (``divergence=``: e.g. a sample estimate of the KL at the reconstruction's draws, or a
        divergence summed over the nodes of a graph)."""
        if divergence is None:
            if q is None or p is None:
                raise ValueError("RegularisedObjective: pass q and p, or divergence=")
            divergence = _divergence_of(q, p, self.kind, mc_samples=self.mc_samples,
                                        generator=generator)
        return ObjectiveTerms(
            objective=expected_log_likelihood - self.weight * divergence,
            reconstruction=expected_log_likelihood,
            divergence=divergence,
            kind=self.kind,
            weight=self.weight,
            is_lower_bound=self.is_lower_bound,
        )


_divergence_of = divergence

"""Amortization gaps (Cremer, Li & Duvenaud, ICML 2018): the ELBO of an amortised encoder against
that of a posterior refined per datapoint (:func:`refine_posterior`), for the CVAE
(:func:`cvae_amortization_gap`) and the temporal graph VAE (:func:`amortization_gap`, whose chain
is walked by :func:`dyngraphvae.models.engine.posterior_chain`). This layer sits above
:mod:`dyngraphvae.models` (see ``docs/architecture.md``)."""

from dyngraphvae.amortization.refine import (
    AmortizationGap,
    RefinementResult,
    cvae_amortization_gap,
    refine_posterior,
)
from dyngraphvae.amortization.temporal import (
    AMORTIZATION_FAMILIES,
    TemporalAmortizationGap,
    amortization_gap,
)

__all__ = [
    "AMORTIZATION_FAMILIES",
    "AmortizationGap",
    "RefinementResult",
    "TemporalAmortizationGap",
    "amortization_gap",
    "cvae_amortization_gap",
    "refine_posterior",
]

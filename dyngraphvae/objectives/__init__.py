"""The objective layer: divergences, bounds and the regularisers that shape them.

* :mod:`~dyngraphvae.objectives.divergences` — ``KL``/``CS`` by name, the IWAE bound,
  :class:`RegularisedObjective` (``E_q[log p(x|z)] − λ·D``), shared by the CVAE and graph CVAE;
* :mod:`~dyngraphvae.objectives.elbo` — :class:`TemporalELBO`, the temporal graph VAE's objective
  over a typed :class:`~dyngraphvae.objectives.elbo.Trajectory`;
* :mod:`~dyngraphvae.objectives.free_bits`, :mod:`~dyngraphvae.objectives.schedules`,
  :mod:`~dyngraphvae.objectives.weakening` — free bits, KL schedules and decoder weakening
  (re-exported by :mod:`dyngraphvae.collapse`, the posterior-collapse toolkit).

This layer imports only :mod:`dyngraphvae.distributions` and torch (see ``docs/architecture.md``).
"""

from __future__ import annotations

from dyngraphvae.objectives.divergences import (
    DIVERGENCES,
    ObjectiveTerms,
    RegularisedObjective,
    divergence,
    importance_weighted_bound,
)
from dyngraphvae.objectives.elbo import REDUCTIONS, TemporalELBO, Trajectory
from dyngraphvae.objectives.free_bits import free_bits, free_bits_units
from dyngraphvae.objectives.schedules import (
    ConstantSchedule,
    CyclicalSchedule,
    KLSchedule,
    LinearSchedule,
    LogisticSchedule,
    monotonic_schedule,
    schedule_from_dict,
)
from dyngraphvae.objectives.weakening import InputDropout, drop_edges, drop_inputs

__all__ = [
    "DIVERGENCES",
    "REDUCTIONS",
    "ConstantSchedule",
    "CyclicalSchedule",
    "InputDropout",
    "KLSchedule",
    "LinearSchedule",
    "LogisticSchedule",
    "ObjectiveTerms",
    "RegularisedObjective",
    "TemporalELBO",
    "Trajectory",
    "divergence",
    "drop_edges",
    "drop_inputs",
    "free_bits",
    "free_bits_units",
    "importance_weighted_bound",
    "monotonic_schedule",
    "schedule_from_dict",
]

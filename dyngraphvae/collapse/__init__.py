"""Posterior-collapse toolkit: KL schedules, free bits, decoder weakening, diagnostics, monitor.

Schedules, free bits and weakening live in the objective layer (:mod:`dyngraphvae.objectives`)
and are re-exported here; the diagnostics and the monitor are this package's own.

Everything except :class:`CollapseMonitor` is plain PyTorch. ``CollapseMonitor`` (a Lightning
``Callback``) is imported lazily on first access, so this package imports without Lightning
installed.
"""

from __future__ import annotations

from typing import Any

from dyngraphvae.collapse.diagnostics import (
    ActiveUnits,
    CollapseDiagnostics,
    ELBOSurgery,
    active_units,
    aggregate_kl,
    aggregate_posterior,
    as_datapoints,
    collapse_diagnostics,
    elbo_surgery,
    exact_mutual_information,
    kl_per_dimension,
    mutual_information,
)
from dyngraphvae.objectives import (
    ConstantSchedule,
    CyclicalSchedule,
    InputDropout,
    KLSchedule,
    LinearSchedule,
    LogisticSchedule,
    drop_edges,
    drop_inputs,
    free_bits,
    free_bits_units,
    monotonic_schedule,
    schedule_from_dict,
)

__all__ = [
    "ActiveUnits",
    "CollapseDiagnostics",
    "CollapseMonitor",
    "ConstantSchedule",
    "CyclicalSchedule",
    "ELBOSurgery",
    "InputDropout",
    "KLSchedule",
    "LinearSchedule",
    "LogisticSchedule",
    "active_units",
    "aggregate_kl",
    "aggregate_posterior",
    "as_datapoints",
    "collapse_diagnostics",
    "drop_edges",
    "drop_inputs",
    "elbo_surgery",
    "exact_mutual_information",
    "free_bits",
    "free_bits_units",
    "kl_per_dimension",
    "monotonic_schedule",
    "mutual_information",
    "schedule_from_dict",
]


def __getattr__(name: str) -> Any:
    if name == "CollapseMonitor":
        from dyngraphvae.collapse.callback import CollapseMonitor

        return CollapseMonitor
    raise AttributeError(f"module 'dyngraphvae.collapse' has no attribute {name!r}")

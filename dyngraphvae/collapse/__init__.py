"""Posterior-collapse toolkit: KL schedules, free bits, decoder weakening, diagnostics, monitor.

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
from dyngraphvae.collapse.free_bits import free_bits, free_bits_units
from dyngraphvae.collapse.schedules import (
    ConstantSchedule,
    CyclicalSchedule,
    KLSchedule,
    LinearSchedule,
    LogisticSchedule,
    monotonic_schedule,
    schedule_from_dict,
)
from dyngraphvae.collapse.weakening import InputDropout, drop_edges, drop_inputs

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

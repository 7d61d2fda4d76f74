"""Studies: the runners behind ``docs/results.md`` and ``docs/collapse.md``.

This layer sits above the library (it may import every other part; nothing in the library
imports it): the VGRNN and multi-horizon link protocols (:mod:`~dyngraphvae.experiments.links`),
the PyTorch Geometric Temporal node protocol (:mod:`~dyngraphvae.experiments.nodes`), and the
posterior-collapse studies (:mod:`~dyngraphvae.experiments.collapse_demo`,
:mod:`~dyngraphvae.experiments.temporal_collapse`). Every model here is trained by
:func:`dyngraphvae.training.fit` or :func:`dyngraphvae.training.fit_objective`.
"""

from dyngraphvae.experiments.links import (
    HistoryStackedLinks,
    edge_history_features,
    link_baselines_protocol,
    link_forecast_protocol,
    link_protocol_origins,
    vgrnn_link_protocol,
)
from dyngraphvae.experiments.nodes import pygt_node_protocol, series_graph
from dyngraphvae.experiments.runs import summarise_runs, train_forecaster

__all__ = [
    "HistoryStackedLinks",
    "edge_history_features",
    "link_baselines_protocol",
    "link_forecast_protocol",
    "link_protocol_origins",
    "pygt_node_protocol",
    "series_graph",
    "summarise_runs",
    "train_forecaster",
    "vgrnn_link_protocol",
]

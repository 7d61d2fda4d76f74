"""dyngraphvae: probabilistic forecasting of dynamic graphs on PyTorch Geometric.

Load temporal graph datasets, train a temporal graph VAE, sample many plausible
futures, and measure how forecast quality drifts with the horizon.
"""

from dyngraphvae import collapse, data, distributions, evaluation, nn, objectives
from dyngraphvae._version import __version__
from dyngraphvae.amortization import amortization_gap, cvae_amortization_gap, refine_posterior
from dyngraphvae.data import (
    TemporalGraph,
    TemporalGraphError,
    chronological_split,
    dynamic_sbm,
    fork,
    from_data_list,
    from_networkx,
    from_pygt_signal,
    from_temporal_data,
    linear_gaussian,
    link_prediction_split,
    list_datasets,
    load_dataset,
    load_events,
    save_npz,
    synthetic,
    temporal_signal_split,
    to_data_list,
    to_networkx,
)
from dyngraphvae.distributions import cs_divergence, kl_divergence, register_cs
from dyngraphvae.models.cvae import CVAE, CVAEConfig
from dyngraphvae.models.forecaster import Forecast, ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.graph_cvae import GraphCVAE, GraphCVAEConfig
from dyngraphvae.objectives import divergence, importance_weighted_bound
from dyngraphvae.training import TrainConfig, fit, load_model, save_model

__all__ = [
    "CVAE",
    "CVAEConfig",
    "Forecast",
    "GraphCVAE",
    "GraphCVAEConfig",
    "ForecasterConfig",
    "TemporalGraphVAE",
    "TrainConfig",
    "collapse",
    "cs_divergence",
    "amortization_gap",
    "cvae_amortization_gap",
    "distributions",
    "divergence",
    "fit",
    "importance_weighted_bound",
    "kl_divergence",
    "load_model",
    "nn",
    "objectives",
    "refine_posterior",
    "register_cs",
    "save_model",
    "TemporalGraph",
    "TemporalGraphError",
    "__version__",
    "chronological_split",
    "data",
    "dynamic_sbm",
    "evaluation",
    "fork",
    "from_data_list",
    "from_networkx",
    "from_pygt_signal",
    "from_temporal_data",
    "linear_gaussian",
    "link_prediction_split",
    "list_datasets",
    "load_dataset",
    "load_events",
    "save_npz",
    "synthetic",
    "temporal_signal_split",
    "to_data_list",
    "to_networkx",
]

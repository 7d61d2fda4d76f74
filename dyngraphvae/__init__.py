"""dyngraphvae: probabilistic forecasting of dynamic graphs on PyTorch Geometric.

Load temporal graph datasets, train a temporal graph VAE, sample many plausible
futures, and measure how forecast quality drifts with the horizon.
"""

from dyngraphvae import data, evaluation
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
    save_npz,
    synthetic,
    temporal_signal_split,
    to_data_list,
    to_networkx,
)

__version__ = "0.1.0"

__all__ = [
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
    "save_npz",
    "synthetic",
    "temporal_signal_split",
    "to_data_list",
    "to_networkx",
]

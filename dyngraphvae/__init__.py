"""dyngraphvae: probabilistic forecasting of dynamic graphs on PyTorch Geometric."""

from dyngraphvae.data import TemporalGraph, TemporalGraphError

__version__ = "0.1.0"

__all__ = ["TemporalGraph", "TemporalGraphError", "__version__"]

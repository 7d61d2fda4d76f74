"""Models: the temporal graph VAE forecaster (Problem 4)."""

from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.forecaster import (
    REDUCTIONS,
    DecoderContext,
    EdgeContext,
    EdgeContextTerm,
    ELBOOutput,
    FilterState,
    Forecast,
    PredictiveLogLikelihood,
    TemporalGraphVAE,
    forecast_to_data,
    forecast_to_networkx,
    forecast_to_temporal_graph,
)

__all__ = [
    "REDUCTIONS",
    "DecoderContext",
    "EdgeContext",
    "EdgeContextTerm",
    "ELBOOutput",
    "FilterState",
    "Forecast",
    "ForecasterConfig",
    "PredictiveLogLikelihood",
    "TemporalGraphVAE",
    "forecast_to_data",
    "forecast_to_networkx",
    "forecast_to_temporal_graph",
]

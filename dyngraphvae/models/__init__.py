"""Models: the temporal graph VAE forecaster (Problem 4)."""

from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.forecaster import (
    AMORTIZATION_FAMILIES,
    REDUCTIONS,
    DecoderContext,
    EdgeContext,
    EdgeContextTerm,
    ELBOOutput,
    FilterState,
    Forecast,
    PredictiveLogLikelihood,
    TemporalAmortizationGap,
    TemporalGraphVAE,
    amortization_gap,
    forecast_to_data,
    forecast_to_networkx,
    forecast_to_temporal_graph,
)

__all__ = [
    "AMORTIZATION_FAMILIES",
    "REDUCTIONS",
    "DecoderContext",
    "EdgeContext",
    "EdgeContextTerm",
    "ELBOOutput",
    "FilterState",
    "Forecast",
    "ForecasterConfig",
    "PredictiveLogLikelihood",
    "TemporalAmortizationGap",
    "TemporalGraphVAE",
    "amortization_gap",
    "forecast_to_data",
    "forecast_to_networkx",
    "forecast_to_temporal_graph",
]

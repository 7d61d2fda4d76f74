"""Graph layers of the temporal forecaster: encoders, transition prior, decoders, adjacency
log-likelihood (dense exact and sparse unbiased). See ``docs/layers.md``."""

from dyngraphvae.nn.adjacency import (
    adjacency_log_likelihood,
    num_valid_pairs,
    sample_pairs,
    valid_pairs,
)
from dyngraphvae.nn.decoders import EdgeDecoder, GaussianFeatureDecoder, deterministic_score
from dyngraphvae.nn.encoders import (
    CONV_EDGE_WEIGHT_USE,
    NodeInput,
    PosteriorHead,
    SnapshotEncoder,
    make_conv,
)
from dyngraphvae.nn.transition import GraphMixtureTransition, GRUTransition

__all__ = [
    "CONV_EDGE_WEIGHT_USE",
    "EdgeDecoder",
    "GRUTransition",
    "GraphMixtureTransition",
    "GaussianFeatureDecoder",
    "NodeInput",
    "PosteriorHead",
    "SnapshotEncoder",
    "adjacency_log_likelihood",
    "deterministic_score",
    "make_conv",
    "num_valid_pairs",
    "sample_pairs",
    "valid_pairs",
]

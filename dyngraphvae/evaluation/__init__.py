"""Evaluation: link and feature forecast metrics, graph-statistic MMD, baselines, drift curves,
mode coverage and rollout stationarity. The study runners (protocols) are
:mod:`dyngraphvae.experiments`."""

from dyngraphvae.evaluation.baselines import (
    EdgeBankLinks,
    EdgeFrequencyLinks,
    FeatureBaseline,
    LinearLagFit,
    LinearLagRegression,
    LinkBaseline,
    PersistenceFeatures,
    PersistenceLinks,
    SpatialLagRegression,
    VGAELinks,
    least_squares,
)
from dyngraphvae.evaluation.calibration import (
    ReliabilityDiagram,
    expected_calibration_error,
    pair_weights,
    reliability_diagram,
    snapshot_ece,
)
from dyngraphvae.evaluation.drift import (
    DriftResult,
    GrowthFit,
    drift_curve,
    evaluate_model,
    fit_growth,
    kalman_feature_predictive,
    oracle_drift,
)
from dyngraphvae.evaluation.graph_stats import (
    MMDResult,
    clustering_coefficients,
    clustering_histogram,
    degree_histogram,
    density,
    graph_mmd,
    graph_statistic,
    laplacian_spectrum,
    mmd_squared,
    spectral_histogram,
)
from dyngraphvae.evaluation.links import (
    LinkMetrics,
    average_precision,
    binary_log_score,
    brier_score,
    hits_at_k,
    link_metrics,
    link_prediction_pairs,
    link_ranks,
    mean_reciprocal_rank,
    roc_auc,
    snapshot_non_edges,
)
from dyngraphvae.evaluation.multimodality import ModeFractions, fork_multimodality, mode_fractions
from dyngraphvae.evaluation.negatives import (
    NEGATIVE_STRATEGIES,
    candidate_negatives,
    link_pairs,
    negative_pairs,
    seen_pair_keys,
)
from dyngraphvae.evaluation.pair_history import (
    PairHistoryRegression,
    pair_history_features,
)
from dyngraphvae.evaluation.scores import (
    crps_ensemble,
    crps_gaussian,
    energy_score,
    gaussian_log_score,
    interval_coverage,
    interval_coverage_gaussian,
    mae,
    mse,
)
from dyngraphvae.evaluation.stationarity import (
    LipschitzEstimate,
    RolloutStatistics,
    jacobian_spectral_norms,
    rollout_statistics,
    transition_lipschitz,
)
from dyngraphvae.models.rolling import RollingForecast, rolling_forecast

__all__ = [
    # links
    "LinkMetrics",
    "average_precision",
    "binary_log_score",
    "brier_score",
    "hits_at_k",
    "link_metrics",
    "link_prediction_pairs",
    # negatives
    "NEGATIVE_STRATEGIES",
    "candidate_negatives",
    "link_pairs",
    "negative_pairs",
    "seen_pair_keys",
    "link_ranks",
    "mean_reciprocal_rank",
    "roc_auc",
    "snapshot_non_edges",
    # calibration
    "ReliabilityDiagram",
    "expected_calibration_error",
    "pair_weights",
    "reliability_diagram",
    "snapshot_ece",
    # feature scores
    "crps_ensemble",
    "crps_gaussian",
    "energy_score",
    "gaussian_log_score",
    "interval_coverage",
    "interval_coverage_gaussian",
    "mae",
    "mse",
    # graph statistics
    "MMDResult",
    "clustering_coefficients",
    "clustering_histogram",
    "degree_histogram",
    "density",
    "graph_mmd",
    "graph_statistic",
    "laplacian_spectrum",
    "mmd_squared",
    "spectral_histogram",
    # baselines
    "EdgeBankLinks",
    "PairHistoryRegression",
    "pair_history_features",
    "EdgeFrequencyLinks",
    "FeatureBaseline",
    "LinearLagFit",
    "LinearLagRegression",
    "SpatialLagRegression",
    "LinkBaseline",
    "PersistenceFeatures",
    "PersistenceLinks",
    "VGAELinks",
    "least_squares",
    # drift (RESULTS)
    "DriftResult",
    "GrowthFit",
    "drift_curve",
    "evaluate_model",
    "fit_growth",
    "kalman_feature_predictive",
    "oracle_drift",
    # multimodality
    "ModeFractions",
    "fork_multimodality",
    "mode_fractions",
    # stationarity
    "LipschitzEstimate",
    "RolloutStatistics",
    "jacobian_spectral_norms",
    "rollout_statistics",
    "transition_lipschitz",
    # rolling forecasts (dyngraphvae.models.rolling; the study runners are dyngraphvae.experiments)
    "RollingForecast",
    "rolling_forecast",
]

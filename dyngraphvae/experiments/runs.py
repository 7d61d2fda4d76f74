"""Shared pieces of the study runners: fit a forecaster for a study, summarise runs."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from typing import Any

import torch

from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = ["summarise_runs", "to_dict", "train_forecaster"]


def train_forecaster(
    model_config: Any,
    data: TemporalGraph | Sequence[TemporalGraph],
    *,
    train_config: Any = None,
    out_dir: str | None = None,
    **train_kwargs: Any,
) -> tuple[Any, dict[str, Any]]:
    """Fit a model with :func:`dyngraphvae.training.fit` (validation-based early stopping and
    best-epoch restore) in ``out_dir`` (a temporary folder if ``None``).

    Returns ``(model, info)`` with ``info = {"epochs", "best_val_elbo_per_step", "stopped_early",
    "train_seconds"}`` (and ``"snapshot_scale"``, the fitted ``τ``, with a snapshot effect).
    """
    from dyngraphvae.training import TrainConfig, fit

    if train_config is None:
        defaults = dict(progress_bar=False, tensorboard=False)
        defaults.update(train_kwargs)
        train_config = TrainConfig(**defaults)
    elif train_kwargs:
        raise ValueError("train_forecaster: pass either train_config or keyword arguments")
    t0 = time.perf_counter()
    if out_dir is None:
        with tempfile.TemporaryDirectory() as tmp:
            res = fit(model_config, train_config, data, tmp)
    else:
        res = fit(model_config, train_config, data, out_dir)
    info = dict(epochs=res.epochs_completed, best_val_elbo_per_step=res.best_score,
                stopped_early=res.stopped_early, train_seconds=time.perf_counter() - t0)
    if hasattr(res.model, "snapshot_scale"):
        info["snapshot_scale"] = float(res.model.snapshot_scale)
    return res.model.eval(), info


def summarise_runs(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "std", "n"}`` (population std over runs, ``ddof = 0``; std 0 for one run)."""
    v = torch.tensor([float(x) for x in values], dtype=torch.float64)
    if v.numel() == 0:
        raise ValueError("summarise_runs: no values")
    return {"mean": float(v.mean()), "std": float(v.std(unbiased=False)), "n": int(v.numel())}




def to_dict(cfg: Any) -> Any:
    return cfg.to_dict() if hasattr(cfg, "to_dict") else cfg

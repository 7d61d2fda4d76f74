"""Training temporal graph VAEs with Lightning, and model folders.

* :class:`TrainConfig`: a JSON round-tripping dataclass describing the run.
* :func:`fit`: train (checkpoints, exact resume, early stopping on the validation ELBO, CSV logs,
  DDP) and write a model folder.
* :func:`fit_objective`: Adam steps on any loss through the same Lightning engine (the studies'
  small models; :func:`fit_graph_cvae` for the graph CVAE).
* :func:`save_model`, :func:`load_model`, :func:`load_saved`: model folders (``config.json`` +
  ``model.pt`` state_dict + ``manifest.json``), loaded with ``torch.load(weights_only=True)``.
* :class:`ELBOModule`, :class:`GraphSequenceDataModule`: the Lightning pieces, for custom
  trainers. They are imported on first access, so ``import dyngraphvae.training`` does not import
  Lightning.
"""

from __future__ import annotations

from typing import Any

from dyngraphvae.training.config import TrainConfig
from dyngraphvae.training.fit import FitResult, build_model, fit, read_history
from dyngraphvae.training.io import (
    CheckpointMismatchError,
    SavedModel,
    load_model,
    load_saved,
    save_model,
)
from dyngraphvae.training.objective_fit import fit_graph_cvae, fit_objective

_LAZY = {"ELBOModule", "GraphSequenceDataModule", "VAL_METRIC"}

__all__ = [
    "VAL_METRIC",
    "CheckpointMismatchError",
    "ELBOModule",
    "FitResult",
    "GraphSequenceDataModule",
    "SavedModel",
    "TrainConfig",
    "build_model",
    "fit",
    "fit_graph_cvae",
    "fit_objective",
    "load_model",
    "load_saved",
    "read_history",
    "save_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from dyngraphvae.training import lightning_module

        return getattr(lightning_module, name)
    raise AttributeError(f"module 'dyngraphvae.training' has no attribute {name!r}")

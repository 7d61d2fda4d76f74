r"""Gradient steps on any objective through the package's one Lightning engine.

:func:`fit` trains the temporal forecaster (epochs, validation, checkpoints). The studies' small
models (the graph CVAE, the collapse demo's sequence VAE, the temporal collapse study) need only
"``steps`` Adam steps on ``loss_fn(step)``": :func:`fit_objective` runs them as a
``lightning.Trainer`` with ``max_steps = steps`` over a dataset of step indices (no checkpoints,
no logger), with the same optimiser, gradient-norm clipping and learning-rate schedule as a plain
loop — the losses are those of the plain loop, step for step (tested).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from dyngraphvae._checks import check_int
from dyngraphvae.training.fit import _THIRD_PARTY_WARNINGS, quiet_third_party

__all__ = ["fit_graph_cvae", "fit_objective"]

LossFn = Callable[[int], Tensor]


def _objective_module(model: nn.Module, loss_fn: LossFn, lr: float,
                      lr_lambda: Callable[[int], float] | None, losses: list[float],
                      on_step: Callable[[int, Tensor], None] | None) -> Any:
    import lightning.pytorch as pl

    class ObjectiveModule(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
            loss = loss_fn(int(batch))
            losses.append(float(loss.detach()))
            return loss

        def on_train_batch_end(self, outputs: Any, batch: Tensor, batch_idx: int) -> None:
            if on_step is not None:  # after the optimiser step, as in a plain loop
                on_step(int(batch), outputs["loss"].detach())

        def configure_optimizers(self) -> Any:
            opt = torch.optim.Adam(self.model.parameters(), lr=lr)
            if lr_lambda is None:
                return opt
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    return ObjectiveModule()


def fit_objective(
    model: nn.Module,
    loss_fn: LossFn,
    steps: int,
    *,
    lr: float = 1e-3,
    grad_clip: float | None = None,
    lr_lambda: Callable[[int], float] | None = None,
    on_step: Callable[[int, Tensor], None] | None = None,
) -> list[float]:
    """``steps`` Adam steps (learning rate ``lr``, optional ``LambdaLR`` factor ``lr_lambda``)
    on ``loss_fn(step)`` with gradient-norm clipping at ``grad_clip``, run by a Lightning
    ``Trainer`` on the CPU; ``on_step(step, loss)`` is called after each optimiser step. The
    model is in train mode during the steps and in eval mode after. Returns the per-step
    losses."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader

    steps = check_int(steps, "fit_objective: steps")
    quiet_third_party()
    losses: list[float] = []
    module = _objective_module(model, loss_fn, lr, lr_lambda, losses, on_step)
    # the loader draws its base seed from its own generator, so the global RNG is untouched
    loader = DataLoader(torch.arange(int(steps)), batch_size=None, shuffle=False,
                        generator=torch.Generator())
    model.train()
    # device banners and "Trainer.fit stopped: max_steps reached" are the expected, not news
    info_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = info_log.level
    info_log.setLevel(max(level, logging.WARNING))
    try:
        trainer = pl.Trainer(
            max_steps=int(steps), max_epochs=1, accelerator="cpu", devices=1, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            gradient_clip_val=grad_clip, gradient_clip_algorithm="norm", num_sanity_val_steps=0,
        )
        _fit_quietly(trainer, module, loader)
    finally:
        info_log.setLevel(level)
    model.eval()
    return losses


def _fit_quietly(trainer: Any, module: Any, loader: Any) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
        for pattern in _THIRD_PARTY_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        trainer.fit(module, loader)


def fit_graph_cvae(
    model: nn.Module,
    graphs: Sequence[Any],
    conditions: Any,
    *,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 1e-2,
    kl_warmup: int = 0,
    divergence: str = "kl",
    seed: int = 0,
) -> list[float]:
    """Train a :class:`~dyngraphvae.models.graph_cvae.GraphCVAE`: Adam on
    ``loss = −mean ELBO / N`` over random minibatches; the KL weight ramps linearly from 0 to 1
    over ``kl_warmup`` steps (Bowman et al. 2016); gradient norm clipped at 10. Returns the
    per-step losses.

    ``conditions``: tensor ``(B, C)`` (attributes) or a sequence of ``Data`` (graphs), aligned
    with ``graphs``.
    """
    n = len(graphs)
    if n == 0 or len(conditions) != n:
        raise ValueError(f"fit_graph_cvae: {n} graphs and {len(conditions)} conditions")
    g = torch.Generator().manual_seed(seed)

    def loss_fn(step: int) -> Tensor:
        idx = torch.randperm(n, generator=g)[: min(batch_size, n)].tolist()
        cond = conditions[idx] if isinstance(conditions, Tensor) else [conditions[i] for i in idx]
        w = 1.0 if kl_warmup <= 0 else min(1.0, (step + 1) / kl_warmup)
        return model.elbo([graphs[i] for i in idx], cond, kl_weight=w, divergence=divergence,
                          generator=g).loss

    return fit_objective(model, loss_fn, steps, lr=lr, grad_clip=10.0)

"""``CollapseMonitor``: a Lightning callback that tracks latent usage and warns when collapse
sets in.

Lightning is imported when this module is imported (``dyngraphvae.collapse`` only imports it on
first
access to ``CollapseMonitor``), so the rest of the toolkit works without Lightning installed.

The monitor is written against tensors, not model classes: it takes ``posterior_fn(model, batch) ->
(loc, scale)`` (or ``(loc, scale, mask)``) returning posterior parameters of shape (..., d), e.g.
(B, d)
for a CVAE or (T, N, d) for the temporal forecaster (every (t, v) pair is a datapoint). Every
``every_n_epochs`` training epochs it runs ``posterior_fn`` without gradients over ``data`` (an
iterable
of batches; default: the trainer's validation dataloader(s)), concatenates the datapoints and
computes
:func:`~dyngraphvae.collapse.diagnostics.collapse_diagnostics`: KL per dimension, active units (He
et al.
2019) and the minibatch MI estimate I_q(x; z). The values are logged as ``collapse/kl``,
``collapse/kl_dim_{j}``, ``collapse/active_units``, ``collapse/mutual_information`` and
``collapse/collapsed`` (0/1), appended to ``history``, and a ``UserWarning`` is emitted when the
number
of active units drops to 0 or the MI estimate falls below ``mi_threshold``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution

from dyngraphvae.collapse.diagnostics import CollapseDiagnostics, collapse_diagnostics

try:  # Lightning 2.x unified package, then the standalone one
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - exercised only without `lightning`
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError as err:
        raise ImportError(
            "CollapseMonitor needs Lightning (`pip install lightning`); the rest of "
            "dyngraphvae.collapse works without it"
        ) from err

__all__ = ["CollapseMonitor"]

PosteriorFn = Callable[[Any, Any], "tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]"]


def _move(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device)
    if hasattr(batch, "to") and not isinstance(batch, type):
        try:
            return batch.to(device)
        except TypeError:
            return batch
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _move(v, device) for k, v in batch.items()}
    return batch


class CollapseMonitor(Callback):
    """Log KL per dimension, active units and I_q(x; z) during training; warn on collapse.

    Args:
        posterior_fn: ``(model, batch) -> (loc, scale)`` or ``(loc, scale, mask)``; tensors (...,
        d).
        data: iterable of batches to evaluate on (e.g. a validation DataLoader or a list of graphs).
            None: the trainer's validation dataloader(s).
        every_n_epochs: evaluate at the end of every n-th training epoch (epochs n−1, 2n−1, …
        0-based).
        prior: prior for the KL (default N(0, I)); see :func:`collapse_diagnostics`.
        au_threshold: δ of the active-unit statistic (0.01).
        mi_threshold: collapse is flagged when the MI estimate is below this many nats.
        mi_batch_size: batch size of the MI estimator (None = all datapoints together).
        warn: emit a ``UserWarning`` when collapse is flagged.
        seed: seed of the generator used for the MI estimator's samples (reproducible logs).
    """

    def __init__(
        self,
        posterior_fn: PosteriorFn,
        data: Iterable[Any] | None = None,
        *,
        every_n_epochs: int = 1,
        prior: Distribution | None = None,
        au_threshold: float = 0.01,
        mi_threshold: float = 0.01,
        mi_batch_size: int | None = None,
        warn: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not callable(posterior_fn):
            raise TypeError(
                "CollapseMonitor: posterior_fn must be callable (model, batch) -> (loc, scale)"
            )
        if int(every_n_epochs) != every_n_epochs or every_n_epochs < 1:
            raise ValueError(
                f"CollapseMonitor: every_n_epochs must be an integer >= 1, got {every_n_epochs!r}"
            )
        self.posterior_fn = posterior_fn
        self.data = data
        self.every_n_epochs = int(every_n_epochs)
        self.prior = prior
        self.au_threshold = float(au_threshold)
        self.mi_threshold = float(mi_threshold)
        self.mi_batch_size = mi_batch_size
        self.warn = bool(warn)
        self.seed = int(seed)
        #: list of (epoch, CollapseDiagnostics) recorded so far (public, for inspection after fit)
        self.history: list[tuple[int, CollapseDiagnostics]] = []

    # ------------------------------------------------------------------ core (no Lightning needed)
    def evaluate(self, model: torch.nn.Module, data: Iterable[Any]) -> CollapseDiagnostics:
        """Run ``posterior_fn`` over ``data`` (no grad, eval mode restored afterwards) and
        diagnose.
        """
        was_training = model.training
        model.eval()
        locs, scales = [], []
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        try:
            with torch.no_grad():
                for batch in data:
                    out = self.posterior_fn(model, _move(batch, device))
                    if not isinstance(out, (tuple, list)) or len(out) not in (2, 3):
                        raise ValueError(
                            "CollapseMonitor: posterior_fn must return (loc, scale) or (loc, "
                            "scale, mask), "
                            f"got {type(out).__name__}"
                        )
                    loc, scale = out[0], out[1]
                    mask = out[2] if len(out) == 3 else None
                    if loc.shape != scale.shape or loc.dim() < 1:
                        raise ValueError(
                            "CollapseMonitor: posterior_fn returned loc/scale of shapes "
                            f"{tuple(loc.shape)}/{tuple(scale.shape)}; expected equal shapes "
                            "(..., d)"
                        )
                    d = loc.shape[-1]
                    if mask is not None:
                        keep = mask.to(torch.bool)
                        locs.append(loc[keep].reshape(-1, d))
                        scales.append(scale[keep].reshape(-1, d))
                    else:
                        locs.append(loc.reshape(-1, d))
                        scales.append(scale.reshape(-1, d))
        finally:
            model.train(was_training)
        if not locs:
            raise ValueError("CollapseMonitor: the evaluation data yielded no batch")
        dims = {x.shape[-1] for x in locs}
        if len(dims) != 1:
            raise ValueError(f"CollapseMonitor: batches have different latent sizes {sorted(dims)}")
        gen = torch.Generator(device=locs[0].device).manual_seed(self.seed)
        return collapse_diagnostics(
            torch.cat(locs),
            torch.cat(scales),
            self.prior,
            au_threshold=self.au_threshold,
            mi_threshold=self.mi_threshold,
            mi_batch_size=self.mi_batch_size,
            generator=gen,
        )

    def check(self, diagnostics: CollapseDiagnostics, epoch: int) -> None:
        """Record ``diagnostics`` and warn if it flags collapse."""
        self.history.append((epoch, diagnostics))
        if diagnostics.collapsed and self.warn:
            warnings.warn(
                f"posterior collapse at epoch {epoch}: {diagnostics.reason} "
                f"(mean KL {diagnostics.mean_kl:.4g} nats, {diagnostics.active_units} active "
                "units)",
                UserWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ Lightning hooks
    def _eval_data(self, trainer: Any) -> Iterable[Any]:
        if self.data is not None:
            return self.data
        loaders = getattr(trainer, "val_dataloaders", None)
        if loaders is None:
            raise ValueError(
                "CollapseMonitor: no `data` given and the trainer has no validation "
                "dataloader; pass "
                "data=... (an iterable of batches)"
            )
        if isinstance(loaders, (list, tuple)):
            return [b for loader in loaders for b in loader]
        if isinstance(loaders, dict):
            return [b for loader in loaders.values() for b in loader]
        return loaders

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = int(trainer.current_epoch)
        if (epoch + 1) % self.every_n_epochs != 0:
            return
        diag = self.evaluate(pl_module, self._eval_data(trainer))
        metrics = {
            "collapse/kl": diag.mean_kl,
            "collapse/active_units": float(diag.active_units),
            "collapse/mutual_information": diag.mutual_information,
            "collapse/collapsed": float(diag.collapsed),
        }
        for j, v in enumerate(diag.kl_per_dim.tolist()):
            metrics[f"collapse/kl_dim_{j}"] = v
        pl_module.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=False, logger=True)
        self.check(diag, epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"history": [(e, d.to_dict()) for e, d in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        hist = []
        for epoch, d in state_dict.get("history", []):
            d = dict(d)
            d["kl_per_dim"] = torch.tensor(d["kl_per_dim"])
            d["au_variance"] = torch.tensor(d["au_variance"])
            hist.append((int(epoch), CollapseDiagnostics(**d)))
        self.history = hist

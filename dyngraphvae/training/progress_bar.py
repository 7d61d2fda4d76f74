"""The training progress bar: Lightning's bar (optimizer steps/s and the epoch's ETA) with the
epoch count and an estimate of the time left for the whole run."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar

__all__ = ["RunProgressBar", "run_eta"]


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_eta(elapsed: float, epochs_done: int, max_epochs: int) -> str:
    """``"run ≤ m:ss left"`` from the mean time of the epochs done so far; an upper bound, since
    early stopping may end the run sooner. Empty before the first epoch has ended."""
    if epochs_done <= 0 or max_epochs <= epochs_done:
        return ""
    left = elapsed / epochs_done * (max_epochs - epochs_done)
    return f"run ≤ {_clock(left)} left"


class RunProgressBar(TQDMProgressBar):
    """``Epoch 3/100 (run ≤ 2:10 left): 40%|████  | 4/10 [00:01<00:01, 3.1it/s, ...]``: the bar
    counts optimizer steps (``it/s`` = steps per second; windowed training has several per
    epoch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._t0: float | None = None
        self._first_epoch = 0

    def on_train_start(self, trainer, pl_module) -> None:  # noqa: D102
        super().on_train_start(trainer, pl_module)
        self._t0 = time.perf_counter()
        self._first_epoch = int(trainer.current_epoch)  # a resumed run starts later

    def on_train_epoch_start(self, trainer, *args: Any) -> None:  # noqa: D102
        super().on_train_epoch_start(trainer, *args)
        done = int(trainer.current_epoch) - self._first_epoch
        elapsed = 0.0 if self._t0 is None else time.perf_counter() - self._t0
        eta = run_eta(elapsed, done, int(trainer.max_epochs) - self._first_epoch)
        desc = f"Epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
        self.train_progress_bar.set_description(f"{desc} ({eta})" if eta else desc)

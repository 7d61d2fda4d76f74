"""Training configuration: a plain dataclass that round-trips to dict / JSON.

The KL-weight schedule and the scheduled-sampling (teacher-forcing) schedule are stored as their
JSON specs (``schedule.to_dict()``) and rebuilt with
:func:`dyngraphvae.objectives.schedules.schedule_from_dict` and
:class:`dyngraphvae.scheduled_sampling.TeacherForcingSchedule`, so a whole training run is
described by one JSON file (``train_config.json`` next to every trained model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dyngraphvae._config import ConfigBase

__all__ = ["RECOMMENDED_WINDOW", "TrainConfig"]

#: the training window of ``dyngraphvae train`` (chosen by ``benchmarks/time_to_quality.py`` on the
#: validation snapshots of uci_collegemsg and bitcoin_alpha, ``docs/benchmarks.md``: windows of 2
#: reached a better validation ELBO, an equal or better validation link AUC and the optimum in less
#: wall time than whole-sequence steps or windows of 4 and 16). The library default stays ``None``
#: (whole-sequence steps, the exact gradient).
RECOMMENDED_WINDOW = 2

_OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass
class TrainConfig(ConfigBase):
    """Everything that defines a training run besides the model config and the data.

    Attributes:
        epochs: maximum number of epochs. For one long graph an epoch is one pass of full
            back-propagation through time over the training prefix (``replicas`` times).
        lr: learning rate of the optimizer.
        weight_decay: L2 penalty (``adam``/``sgd``) or decoupled weight decay (``adamw``).
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        lr_schedule: ``None`` (constant ``lr``) or ``"cosine"``: cosine decay from ``lr`` to 0 over
            all optimizer steps of the run, ``lr_i = lr · (1 + cos(π i / I)) / 2`` with ``I`` =
            ``epochs ×`` steps per epoch (Loshchilov & Hutter, "SGDR", ICLR 2017, without
            restarts), stepped after every optimizer step. The late small steps average out the
            minibatch noise of quantities such as mixture weights.
        grad_clip: clip the global gradient norm to this value before every optimizer step
            (Lightning's ``gradient_clip_val``, algorithm ``"norm"``); ``None`` disables it.
        num_samples: Monte Carlo samples per ELBO evaluation during training.
        reduction: how ``model.elbo`` scales the loss: ``"sum"`` (``−ELBO`` of the sequence),
            ``"mean_node"`` (the same objective per observed node-step; learning rates then
            transfer across graph sizes) or ``"mean_edge"`` (see ``TemporalGraphVAE.elbo``).
            Logged and validation metrics are always the unscaled ELBO terms.
        kl_weight: constant KL weight β used when ``kl_schedule`` is ``None``.
        kl_schedule: spec of a KL-weight schedule, e.g. ``{"kind": "linear", "num_steps": 50}``
            (see :mod:`dyngraphvae.objectives.schedules`); called with the global optimizer step.
        free_bits: free-bits threshold λ passed to ``model.elbo`` (0 disables it).
        teacher_forcing: spec of a scheduled-sampling decay, e.g.
            ``{"kind": "inverse_sigmoid", "k": 50.0}`` (see
            :class:`dyngraphvae.scheduled_sampling.TeacherForcingSchedule`), called with the global
            optimizer step; ``None`` = always teacher forcing (ε = 1).
        val_fraction: for one long graph, the fraction of its snapshots (at the end, chronological)
            used for validation; for a list of sequences, the fraction of sequences (the last
            ones). 0 disables validation (and early stopping).
        val_snapshots: exact number of validation snapshots (overrides ``val_fraction`` for one
            long graph).
        val_samples: Monte Carlo samples of the validation ELBO (fixed noise across epochs).
        patience: early stopping after this many validations without improvement of the
            validation metric (``None`` disables early stopping; the best checkpoint is still
            restored at the end).
        min_delta: minimum improvement that counts for early stopping.
        window: truncated back-propagation through time: train on windows of ``window``
            consecutive snapshots (each sequence is cut into consecutive windows, the last one
            shorter), each window's chain started from the filtered state of the snapshots before
            it (:meth:`~dyngraphvae.models.TemporalGraphVAE.filter_states`, one pass without
            gradient over the training span at the start of every epoch). An epoch is then one
            pass over every window; ``batch_size`` windows make one optimizer step, so an epoch
            has ``ceil(windows / batch_size)`` steps instead of one. ``None``: whole sequences
            (full back-propagation through time, one step per sequence). At least 2: a window
            of one snapshot decodes it from the cached state alone, so the encoder would get no
            reconstruction gradient.
        batch_size: sequences (or windows) per optimizer step and per device (the loss is their
            mean).
        replicas: each training sequence appears this many times per epoch, each time with
            independent Monte Carlo noise. Under DDP the effective value is raised so that the
            number of items per epoch is a multiple of the number of processes (see
            ``docs/training.md``).
        seed: seeds parameters' initialisation, shuffling and every Monte Carlo draw.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``, ...).
        devices: Lightning devices (an int, a list or ``"auto"``).
        strategy: Lightning strategy (``"auto"``, ``"ddp"``, ``"ddp_spawn"``, ...).
        num_nodes: Lightning ``num_nodes`` (machines) for multi-node DDP.
        precision: Lightning precision (``"32-true"``, ``"bf16-mixed"``, ...).
        deterministic: Lightning ``deterministic`` (``True``, ``False`` or ``"warn"``).
        progress_bar: show the progress bar (on a terminal only, unless
            ``DYNGRAPHVAE_PROGRESS=1``; logs written to files stay free of bars).
        threads: torch intra-op CPU threads during :func:`~dyngraphvae.training.fit` (restored
            after it). 1 by default: at the graph sizes of this package a second thread buys
            nothing and costs a lot when anything else runs; ``None`` leaves torch's setting.
        log_every_n_steps: logging interval of the loggers.
        check_val_every_n_epoch: validation interval in epochs.
        tensorboard: also log to TensorBoard when ``tensorboard`` is installed.
        save_checkpoints: write Lightning checkpoints (``last.ckpt`` and the best one).
        warm_start: start a ``"pair_history"`` decoder context at the logistic regression of the
            training snapshots on its features (:func:`~dyngraphvae.training.warm_start.
            warm_start_context`), and an autoregressive feature mean at the least-squares AR(L)
            of the training features (:func:`~dyngraphvae.training.warm_start.
            warm_start_features`); no effect for other models or when resuming. With lead terms
            (``ForecasterConfig.context_leads > 1``) each lead ``k`` starts at the regression of
            snapshot ``s`` on the context of ``G_{≤s−k+1}`` aged ``k − 1`` snapshots.
        overshooting: weight ``w`` of the overshooting terms of a model with lead terms
            (:mod:`dyngraphvae.models.overshooting`; no effect otherwise): each training window
            (or, without windows, a uniform origin of the sequence) adds ``−w · O_k`` for one
            lead ``k`` drawn uniformly from ``2..K`` (those the sequence still holds), with the
            weight of the window's steps: the mean over leads weighs as much as the window's
            one-step terms. ``0`` trains the lead terms at their warm start only.
        overshooting_shared: let the overshooting gradient reach the transition and the edge
            decoder as well as the lead terms (``False``: the lead terms only, so the one-step
            model is the one the ELBO alone trains; see :mod:`dyngraphvae.models.overshooting`).
    """

    epochs: int = 100
    lr: float = 1e-2
    weight_decay: float = 0.0
    optimizer: str = "adam"
    lr_schedule: str | None = None
    grad_clip: float | None = 5.0
    num_samples: int = 1
    reduction: str = "mean_node"
    kl_weight: float = 1.0
    kl_schedule: dict[str, Any] | None = None
    free_bits: float = 0.0
    teacher_forcing: dict[str, Any] | None = None
    val_fraction: float = 0.2
    val_snapshots: int | None = None
    val_samples: int = 4
    patience: int | None = 20
    min_delta: float = 0.0
    window: int | None = None
    batch_size: int = 1
    replicas: int = 1
    seed: int = 0
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    deterministic: Any = True
    progress_bar: bool = True
    threads: int | None = 1
    log_every_n_steps: int = 1
    check_val_every_n_epoch: int = 1
    tensorboard: bool = True
    save_checkpoints: bool = True
    warm_start: bool = True
    overshooting: float = 1.0
    overshooting_shared: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def positive_int(name: str, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            lo = 0 if allow_zero else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"TrainConfig.{name} must be an integer >= {lo}, got {v!r}")

        for name in ("epochs", "num_samples", "val_samples", "batch_size", "replicas",
                     "log_every_n_steps", "check_val_every_n_epoch", "num_nodes"):
            positive_int(name)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an integer >= 0, got {self.seed!r}")
        for name in ("lr", "weight_decay", "kl_weight", "free_bits", "min_delta"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if self.lr_schedule not in (None, "cosine"):
            raise ValueError(
                f"TrainConfig.lr_schedule must be None or 'cosine', got {self.lr_schedule!r}"
            )
        if self.reduction not in ("sum", "mean_node", "mean_edge"):
            raise ValueError(
                "TrainConfig.reduction must be 'sum', 'mean_node' or 'mean_edge', "
                f"got {self.reduction!r}"
            )
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"TrainConfig.optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}"
            )
        if self.grad_clip is not None and not (
            math.isfinite(self.grad_clip) and self.grad_clip > 0
        ):
            raise ValueError(
                f"TrainConfig.grad_clip must be > 0 or None, got {self.grad_clip!r}"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(
                f"TrainConfig.val_fraction must be in [0, 1), got {self.val_fraction!r}"
            )
        if self.val_snapshots is not None:
            positive_int("val_snapshots", allow_zero=True)
        if self.window is not None:
            positive_int("window")
            if self.window < 2:
                raise ValueError(
                    "TrainConfig.window must be >= 2 (or None): a window of one snapshot decodes "
                    "it from the cached state Z_a, so no reconstruction gradient reaches the "
                    "encoder and the posterior is trained by the KL term alone")
        if not (math.isfinite(self.overshooting) and self.overshooting >= 0):
            raise ValueError(f"TrainConfig.overshooting must be a finite weight >= 0, got "
                             f"{self.overshooting!r}")
        if self.threads is not None:
            positive_int("threads")
        if self.patience is not None:
            positive_int("patience")
        # building the schedules validates their specs now rather than mid-training
        self.kl_weight_schedule()
        self.teacher_forcing_schedule()

    # ------------------------------------------------------------------ schedules
    def kl_weight_schedule(self) -> Callable[[int], float]:
        """β(step): the KL schedule built from ``kl_schedule``, or the constant ``kl_weight``."""
        from dyngraphvae.objectives.schedules import ConstantSchedule, schedule_from_dict

        if self.kl_schedule is None:
            return ConstantSchedule(float(self.kl_weight))
        try:
            return schedule_from_dict(dict(self.kl_schedule))
        except (TypeError, ValueError) as err:
            raise ValueError(f"TrainConfig.kl_schedule {self.kl_schedule!r}: {err}") from err

    def teacher_forcing_schedule(self) -> Callable[[int], float]:
        """ε(step): the scheduled-sampling decay from ``teacher_forcing``, or always 1."""
        from dyngraphvae.scheduled_sampling import TeacherForcingSchedule

        if self.teacher_forcing is None:
            return _always_one
        try:
            return TeacherForcingSchedule.from_dict(dict(self.teacher_forcing))
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"TrainConfig.teacher_forcing {self.teacher_forcing!r}: {err}"
            ) from err

    # ------------------------------------------------------------------ (de)serialisation


def _always_one(step: int) -> float:
    """Teacher forcing always on (ε = 1)."""
    return 1.0

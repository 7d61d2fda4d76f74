r"""Lightning wrappers: the ELBO training module and the temporal-graph data module.

This module imports :mod:`lightning` at import time; :mod:`dyngraphvae.training` only imports it
when :func:`~dyngraphvae.training.fit` runs (or when these classes are first accessed), so
``import dyngraphvae`` stays light.

Objective (Problem 4 of the problem set; Chung et al. 2015 "VRNN", Hajiramezanali et al. 2019
"VGRNN"): for every training sequence :math:`G_{1:T}`

.. math::
    \mathcal L_\beta = \sum_{t=0}^{T-1} \mathbb E_q\big[\log p(X_{t+1}, A_{t+1} \mid Z_t)\big]
        - \beta_i \,\mathrm{KL}\big(q(Z_{t+1} \mid Z_t, G_{1:t+1}) \,\|\, p(Z_{t+1} \mid Z_t)\big),

maximised by full back-propagation through time, or with ``TrainConfig.window = W`` by truncated
back-propagation over windows of ``W`` snapshots, each window's chain started from the filtered
state before it (computed without gradient at the start of every epoch, keyed by
``(seed, epoch, sequence)``), with the KL weight :math:`\beta_i` and the
teacher-forcing probability :math:`\varepsilon_i` (Bengio et al. 2015) read from their schedules
at the global optimizer step :math:`i`. The model computes the loss (``model.elbo(...).loss``);
this module only schedules, averages over the mini-batch of sequences (or windows) and logs.

Randomness. Every Monte Carlo draw of a training item is keyed by ``(seed, global_step, sequence
index, replica[, window start])``: the global RNG is forked and seeded with that key around the
ELBO call and a fresh ``torch.Generator`` with that key is passed to the model. So the noise does
not depend on the process, the device count or on whether the run was resumed from a checkpoint:
resuming is exact and DDP over ``W`` processes computes the same gradient as one process with a
``W`` times larger batch (up to floating-point summation order).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, SequentialSampler

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.training.config import TrainConfig

__all__ = [
    "ELBOModule",
    "GraphSequenceDataModule",
    "TrainItem",
    "ValItem",
    "VAL_METRIC",
    "mc_seed",
]

#: name of the logged validation metric used for early stopping and checkpoint selection.
VAL_METRIC = "val/elbo_per_step"

_TRAIN_STREAM = 1
_VAL_STREAM = 2
_FILTER_STREAM = 3
_OVERSHOOT_STREAM = 4


def mc_seed(*keys: int) -> int:
    """A 63-bit seed derived from integer keys with :class:`numpy.random.SeedSequence`."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


@contextlib.contextmanager
def seeded(key: int, device: torch.device) -> Iterator[torch.Generator]:
    """Fork the global RNGs, seed them with ``key`` and yield a ``Generator`` on ``device``.

    Global RNG state is restored on exit, so a keyed computation neither consumes nor depends on
    the surrounding random state (dropout inside the model included).
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=True):
        torch.manual_seed(key)
        gen = torch.Generator(device=device)
        gen.manual_seed(mc_seed(key, 1))
        yield gen


# ---------------------------------------------------------------------------- data
@dataclass
class TrainItem:
    """One training item: sequence ``index`` (its ``replica``-th copy in the epoch), or with
    windowed training the window ``graph[start:stop]`` of it (``stop=None``: the whole
    sequence)."""

    index: int
    replica: int
    graph: TemporalGraph
    start: int = 0
    stop: int | None = None

    @property
    def windowed(self) -> bool:
        return self.stop is not None


@dataclass
class ValItem:
    """One validation item: the ELBO runs on ``graph`` and the metric averages steps ``>= start``.

    For one long graph, ``graph`` is the training prefix followed by the validation snapshots and
    ``start`` is the length of the prefix, so the validation steps are filtered from the whole
    history (the posterior carries over from training time). For held-out sequences ``start = 0``.
    """

    index: int
    graph: TemporalGraph
    start: int


class _ItemDataset(Dataset):
    def __init__(self, items: Sequence) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def _collate_list(batch: list) -> list:
    """Items stay a Python list (graphs of different sizes are not stacked)."""
    return list(batch)


def effective_replicas(num_sequences: int, replicas: int, world_size: int) -> int:
    """Smallest ``R >= replicas`` with ``num_sequences * R`` divisible by ``world_size``.

    So every process gets the same number of items and every sequence has the same weight in the
    epoch's objective (no padding duplicates).
    """
    r = replicas
    while (num_sequences * r) % world_size:
        r += 1
    return r


class GraphSequenceDataModule(L.LightningDataModule):
    """Training and validation data: one long temporal graph or a list of sequences.

    Use :meth:`from_graph` (chronological split of one long graph: train prefix, validation tail)
    or :meth:`from_sequences` (lists of training and validation sequences, e.g. the fork data).

    Each epoch lists every training sequence ``R`` times (``R`` from :func:`effective_replicas`),
    shuffles the list with ``(seed, epoch)`` and deals it to the processes; each process forms
    mini-batches of ``batch_size`` items. Every process evaluates every validation item with the
    same fixed Monte Carlo noise, so validation metrics and early-stopping decisions agree on all
    ranks.
    """

    def __init__(
        self,
        train: Sequence[TemporalGraph],
        val: Sequence[ValItem] = (),
        *,
        batch_size: int = 1,
        replicas: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        window: int | None = None,
    ) -> None:
        super().__init__()
        if len(train) == 0:
            raise ValueError("GraphSequenceDataModule: no training sequences")
        if window is not None and (isinstance(window, bool) or int(window) < 1):
            raise ValueError(f"GraphSequenceDataModule: window must be >= 1, got {window!r}")
        self.window = None if window is None else int(window)
        self.train_graphs = list(train)
        self.val_items = list(val)
        self.batch_size = int(batch_size)
        self.replicas = int(replicas)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_graph(
        cls, graph: TemporalGraph, num_val: int, **kwargs
    ) -> GraphSequenceDataModule:
        """Chronological split of one long graph: train on ``graph[:T-num_val]``; validate on the
        last ``num_val`` steps of the ELBO of the whole ``graph``."""
        T = len(graph)
        if not 0 <= num_val < T:
            raise ValueError(
                f"need at least one training snapshot: {T} snapshots, {num_val} for validation"
            )
        train = graph[: T - num_val]
        val = [ValItem(0, graph, T - num_val)] if num_val > 0 else []
        return cls([train], val, **kwargs)

    @classmethod
    def from_sequences(
        cls,
        train: Sequence[TemporalGraph],
        val: Sequence[TemporalGraph] = (),
        **kwargs,
    ) -> GraphSequenceDataModule:
        """Independent sequences: train on ``train``, validate on every step of ``val``."""
        return cls(list(train), [ValItem(i, g, 0) for i, g in enumerate(val)], **kwargs)

    @property
    def has_validation(self) -> bool:
        return len(self.val_items) > 0

    # ------------------------------------------------------------------ loaders
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def windows(self, index: int) -> list[tuple[int, int]]:
        """The ``(start, stop)`` windows of training sequence ``index``: consecutive, of length
        ``window`` (the last one shorter); one ``(0, T)`` without windows."""
        T = len(self.train_graphs[index])
        w = T if self.window is None else self.window
        return [(a, min(T, a + w)) for a in range(0, T, w)]

    def train_items(self, world_size: int = 1) -> list[TrainItem]:
        """All items of one epoch, before shuffling and dealing to processes."""
        units = [(i, a, b if self.window is not None else None)
                 for i in range(len(self.train_graphs)) for a, b in self.windows(i)]
        reps = effective_replicas(len(units), self.replicas, world_size)
        return [TrainItem(i, r, self.train_graphs[i], a, b) for r in range(reps)
                for i, a, b in units]

    def train_dataloader(self) -> DataLoader:
        world, rank = self._world()
        items = self.train_items(world)
        sampler = DistributedSampler(
            _ItemDataset(items),
            num_replicas=world,
            rank=rank,
            shuffle=self.shuffle,
            seed=self.seed,
            drop_last=False,
        )
        return DataLoader(
            _ItemDataset(items),
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=_collate_list,
            num_workers=0,
        )

    def val_dataloader(self) -> DataLoader | list:
        if not self.val_items:
            return []
        ds = _ItemDataset(self.val_items)
        return DataLoader(
            ds, batch_size=1, sampler=SequentialSampler(ds), collate_fn=_collate_list,
            num_workers=0,
        )

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        moved = []
        for item in batch:
            if isinstance(item, TrainItem):
                moved.append(TrainItem(item.index, item.replica, item.graph.to(device),
                                       item.start, item.stop))
            elif isinstance(item, ValItem):
                moved.append(ValItem(item.index, item.graph.to(device), item.start))
            else:
                raise TypeError(f"unexpected batch element {type(item).__name__}")
        return moved


# ---------------------------------------------------------------------------- module
class ELBOModule(L.LightningModule):
    """Trains any model exposing ``elbo(graph, *, num_samples, kl_weight, free_bits,
    teacher_forcing, generator) -> ELBOOutput`` (``.loss``, ``.per_step_elbo``, ``.feature_ll``,
    ``.edge_ll``, ``.kl``, all per step ``(T,)``).

    Logged per epoch: ``train/loss``, ``train/elbo_per_step``, ``train/feature_ll``,
    ``train/edge_ll``, ``train/kl`` (means per snapshot), ``train/kl_weight``,
    ``train/teacher_forcing``; and, with validation, ``val/elbo_per_step`` (the model-selection
    metric: the mean per-step ELBO of the validation snapshots, β = 1, no free bits, teacher
    forcing, ``val_samples`` Monte Carlo samples with noise fixed across epochs),
    ``val/feature_ll``, ``val/edge_ll``, ``val/kl``.
    """

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        super().__init__()
        if not callable(getattr(model, "elbo", None)):
            raise TypeError(
                f"{type(model).__name__} has no elbo(...) method; ELBOModule trains models with "
                "the TemporalGraphVAE.elbo interface"
            )
        self.model = model
        self.config = config
        self.kl_schedule = config.kl_weight_schedule()
        self.tf_schedule = config.teacher_forcing_schedule()
        # windowed training: {sequence: {start: FilterState}}, refreshed every epoch
        self._starts: dict[int, dict] = {}

    def on_train_epoch_start(self) -> None:
        """Windowed training: filter every training sequence once, without gradient, and keep
        the state at every window start (keyed noise, so resuming and DDP stay exact)."""
        dm = getattr(self.trainer, "datamodule", None)
        self._starts = {}
        if getattr(dm, "window", None) is None:
            return
        if not callable(getattr(self.model, "filter_states", None)):
            raise TypeError(f"TrainConfig.window: {type(self.model).__name__} has no "
                            "filter_states(...) to start windows from; use window=None")
        cfg = self.config
        was_training = self.model.training
        self.model.eval()  # the states are filtered without dropout
        try:
            with torch.no_grad():
                for i, g in enumerate(dm.train_graphs):
                    starts = [a for a, _ in dm.windows(i) if a > 0]
                    if not starts:
                        continue
                    key = mc_seed(cfg.seed, _FILTER_STREAM, int(self.current_epoch), i)
                    with seeded(key, self.device) as gen:
                        self._starts[i] = self.model.filter_states(
                            g.to(self.device), starts, cfg.num_samples, generator=gen)
        finally:
            self.model.train(was_training)

    # ------------------------------------------------------------------ steps
    def _elbo(self, graph: TemporalGraph, key: int, **kwargs):
        with seeded(key, self.device) as gen:
            return self.model.elbo(graph, generator=gen, **kwargs)

    def training_step(self, batch: list[TrainItem], batch_idx: int) -> Tensor:
        cfg = self.config
        step = int(self.global_step)
        beta = float(self.kl_schedule(step))
        eps = float(self.tf_schedule(step))
        losses, terms, over_terms = [], [], []
        for item in batch:
            graph, extra = item.graph, {}
            keys = (cfg.seed, _TRAIN_STREAM, step, item.index, item.replica)
            if item.windowed:
                graph = item.graph[item.start:item.stop]
                keys = keys + (item.start,)
                if item.start > 0:  # the first window starts from Z_0 itself (a parameter)
                    extra["start"] = self._starts[item.index][item.start]
            out = self._elbo(
                graph,
                mc_seed(*keys),
                num_samples=cfg.num_samples,
                kl_weight=beta,
                free_bits=cfg.free_bits,
                teacher_forcing=eps,
                reduction=cfg.reduction,
                **extra,
            )
            over = self._overshooting(item, keys, len(graph), out)
            losses.append(out.loss if over is None else out.loss + over)
            if over is not None:
                over_terms.append(over.detach())
            terms.append(
                torch.stack(
                    [
                        out.per_step_elbo.detach().mean(),
                        out.feature_ll.detach().mean(),
                        out.edge_ll.detach().mean(),
                        out.kl.detach().mean(),
                    ]
                )
            )
        loss = torch.stack(losses).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite training loss {loss.item()} at global step {step} (epoch "
                f"{self.current_epoch}); lower TrainConfig.lr or set grad_clip"
            )
        t = torch.stack(terms).mean(0)
        n = len(batch)
        log = dict(on_step=False, on_epoch=True, sync_dist=True, batch_size=n)
        self.log("train/loss", loss.detach(), prog_bar=True, **log)
        self.log("train/elbo_per_step", t[0], **log)
        self.log("train/feature_ll", t[1], **log)
        self.log("train/edge_ll", t[2], **log)
        self.log("train/kl", t[3], **log)
        self.log("train/kl_weight", beta, **log)
        self.log("train/teacher_forcing", eps, **log)
        if over_terms:
            self.log("train/overshooting", torch.stack(over_terms).mean(), **log)
        return loss

    def _overshooting(self, item: TrainItem, keys: tuple, steps: int, out) -> Tensor | None:
        """``−w · O_k · W / D`` for one lead ``k ~ U{2..K}`` from the item's origin (the window
        start, or a uniform origin of a whole sequence), ``W`` the item's steps and ``D`` the
        ELBO loss's divisor (:attr:`TrainConfig.overshooting`); ``None`` without lead terms."""
        from dyngraphvae.models.overshooting import overshooting_edge_ll

        model, cfg = self.model, self.config
        if cfg.overshooting == 0 or getattr(model, "lead_terms", None) is None:
            return None
        full = item.graph
        with seeded(mc_seed(*keys, _OVERSHOOT_STREAM), self.device) as gen:
            if item.windowed:
                origin = item.start
                start = self._starts[item.index][origin] if origin > 0 else None
            else:
                origin = int(torch.randint(0, len(full) - 1, (1,), generator=gen))
                start = None
                if origin > 0:
                    with torch.no_grad():
                        start = model.filter_states(full, [origin], cfg.num_samples,
                                                    generator=gen)[origin]
            top = min(model.config.context_leads, len(full) - origin)
            if top < 2:
                return None
            k = int(torch.randint(2, top + 1, (1,), generator=gen))
            ll = overshooting_edge_ll(model, full[origin:origin + k], start,
                                      num_samples=cfg.num_samples, leads=[k], generator=gen,
                                      shared=cfg.overshooting_shared)
        divisor = {"sum": 1, "mean_node": out.num_observed_nodes,
                   "mean_edge": out.num_observed_pairs}[cfg.reduction]
        return -cfg.overshooting * ll.mean() * steps / max(divisor, 1)

    def validation_step(self, batch: list[ValItem], batch_idx: int) -> None:
        cfg = self.config
        for item in batch:
            key = mc_seed(cfg.seed, _VAL_STREAM, item.index)
            s = slice(item.start, None)
            if item.start > 0 and callable(getattr(self.model, "filter_states", None)):
                # filter the training prefix (no decoder terms), then the ELBO of the
                # validation steps from its state: the same estimator as the ELBO of the whole
                # graph read at those steps, without scoring the prefix's edges
                with seeded(key, self.device) as gen:
                    st = self.model.filter_states(item.graph, [item.start], cfg.val_samples,
                                                  generator=gen)[item.start]
                    out = self.model.elbo(item.graph[item.start:], num_samples=cfg.val_samples,
                                          start=st, generator=gen)
                s = slice(None)
            else:
                out = self._elbo(item.graph, key, num_samples=cfg.val_samples)
            n = int(out.per_step_elbo[s].numel())
            log = dict(on_step=False, on_epoch=True, sync_dist=True, batch_size=n)
            self.log(VAL_METRIC, out.per_step_elbo[s].mean(), prog_bar=True, **log)
            self.log("val/feature_ll", out.feature_ll[s].mean(), **log)
            self.log("val/edge_ll", out.edge_ll[s].mean(), **log)
            self.log("val/kl", out.kl[s].mean(), **log)

    # ------------------------------------------------------------------ plumbing
    def configure_optimizers(self):
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            opt = torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.lr_schedule is None:
            return opt
        # cosine decay to 0 over every optimizer step of the run (TrainConfig.lr_schedule)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["dyngraphvae_train_config"] = self.config.to_dict()


def num_validation_snapshots(num_snapshots: int, config: TrainConfig) -> int:
    """Validation snapshots of one long graph: ``val_snapshots`` or ``round(val_fraction * T)``
    (at least 1 when ``val_fraction > 0``), always leaving at least 2 training snapshots."""
    if config.val_snapshots is not None:
        n = config.val_snapshots
    elif config.val_fraction > 0:
        n = max(1, int(math.floor(config.val_fraction * num_snapshots + 0.5)))
    else:
        n = 0
    if num_snapshots - n < 2:
        raise ValueError(
            f"the graph has {num_snapshots} snapshots; holding out {n} for validation leaves "
            f"{num_snapshots - n} for training (need >= 2). Lower val_fraction/val_snapshots or "
            "use a longer graph."
        )
    return n

"""``fit``: train a temporal graph VAE with Lightning and write a model folder."""

from __future__ import annotations

import csv
import importlib.util
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.progress import progress_enabled
from dyngraphvae.training.config import TrainConfig
from dyngraphvae.training.io import save_model

__all__ = ["FitResult", "build_model", "fit", "quiet_third_party", "read_history"]

#: third-party warnings that say nothing about the user's run (matched by message, not silenced
#: wholesale): Lightning's own use of a deprecated torch pytree class.
_THIRD_PARTY_WARNINGS = (r".*isinstance\(treespec, LeafSpec\).*",)


class _NoAdvertisements(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing ..." advertisements, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).lstrip().startswith("💡 Tip")


def quiet_third_party() -> None:
    """Install the filter against Lightning's advertisements on the logger that emits them
    (idempotent). Set ``DYNGRAPHVAE_VERBOSE=1`` (the CLI's ``--verbose``) to keep them."""
    if os.environ.get("DYNGRAPHVAE_VERBOSE"):
        return
    import lightning_utilities.core.rank_zero as rank_zero

    # Lightning re-points this module's `log` to its own logger on import; filter each of them
    names = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
    for log in {rank_zero.log, *(logging.getLogger(n) for n in names)}:
        if not any(isinstance(f, _NoAdvertisements) for f in log.filters):
            log.addFilter(_NoAdvertisements())


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the trained model with the weights of the best validation epoch (the last epoch
            when there is no validation), in eval mode, on the CPU.
        out_dir: the run folder; it is also the model folder (``config.json``, ``model.pt``,
            ``manifest.json``, ``train_config.json``), with ``checkpoints/`` and ``logs/`` inside.
        best_checkpoint: Lightning checkpoint of the best validation epoch (or ``None``).
        last_checkpoint: Lightning checkpoint of the last epoch (resume from it).
        best_score: best value of ``val/elbo_per_step`` (``None`` without validation).
        epochs_completed: epochs trained in total (including those before a resume).
        stopped_early: whether early stopping ended the run.
        history: one dict per epoch (all CSV log rows of the run folder merged by epoch).
    """

    model: nn.Module
    out_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    best_score: float | None
    epochs_completed: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)


def build_model(model_config: Any) -> nn.Module:
    """The model a config describes: ``ForecasterConfig -> TemporalGraphVAE``; a config object with
    a ``build()`` method is built with it; an ``nn.Module`` is returned as is."""
    if isinstance(model_config, nn.Module):
        return model_config
    if callable(getattr(model_config, "build", None)):
        return model_config.build()
    from dyngraphvae.models.forecaster import ForecasterConfig, TemporalGraphVAE

    if isinstance(model_config, ForecasterConfig):
        return TemporalGraphVAE(model_config)
    raise TypeError(
        f"fit: cannot build a model from {type(model_config).__name__}; pass a ForecasterConfig, "
        "a config with build(), or an nn.Module with an elbo(...) method"
    )


def read_history(out_dir: str | Path) -> list[dict[str, float]]:
    """Epoch-level rows of every CSV log under ``out_dir/logs`` (runs in version order; a resumed
    run's rows replace the same epochs of earlier runs)."""
    rows: dict[int, dict[str, float]] = {}
    logs = sorted(
        Path(out_dir, "logs").glob("version_*/metrics.csv"),
        key=lambda p: int(p.parent.name.split("_")[-1]),
    )
    for path in logs:
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if not row.get("epoch"):
                    continue
                epoch = int(float(row["epoch"]))
                target = rows.setdefault(epoch, {"epoch": float(epoch)})
                for k, v in row.items():
                    if v not in ("", None) and k != "epoch":
                        target[k] = float(v)
    return [rows[e] for e in sorted(rows)]


def _split(
    data: TemporalGraph | Sequence[TemporalGraph],
    val_data: Sequence[TemporalGraph] | None,
    config: TrainConfig,
):
    from dyngraphvae.training.lightning_module import (
        GraphSequenceDataModule,
        num_validation_snapshots,
    )

    kwargs = dict(
        batch_size=config.batch_size, replicas=config.replicas, seed=config.seed, shuffle=True,
        window=config.window,
    )
    if isinstance(data, TemporalGraph):
        if val_data is not None:
            raise ValueError(
                "fit: val_data is for lists of sequences; one long graph is split "
                "chronologically by TrainConfig.val_fraction / val_snapshots"
            )
        num_val = num_validation_snapshots(len(data), config)
        return GraphSequenceDataModule.from_graph(data, num_val, **kwargs)
    graphs = list(data)
    if not graphs or not all(isinstance(g, TemporalGraph) for g in graphs):
        raise TypeError("fit: data must be a TemporalGraph or a non-empty list of TemporalGraphs")
    if val_data is None:
        n_val = int(math.floor(config.val_fraction * len(graphs) + 0.5))
        if config.val_fraction > 0:
            n_val = max(1, n_val)
        if n_val >= len(graphs):
            raise ValueError(
                f"fit: {len(graphs)} sequences cannot give {n_val} validation sequences and "
                "at least one training sequence"
            )
        train, val = graphs[: len(graphs) - n_val], graphs[len(graphs) - n_val:]
    else:
        train, val = graphs, list(val_data)
    return GraphSequenceDataModule.from_sequences(train, val, **kwargs)


def _warm_start(model: nn.Module, data: TemporalGraph, config: TrainConfig) -> None:
    """Warm-start a pair-history context and an autoregressive feature mean on the training
    snapshots (validation ones excluded)."""
    from dyngraphvae.training.lightning_module import num_validation_snapshots
    from dyngraphvae.training.warm_start import warm_start_context, warm_start_features

    train = data[: len(data) - num_validation_snapshots(len(data), config)]
    train = train.to(next(model.parameters()).device)
    info = warm_start_context(model, train, seed=config.seed)
    log = logging.getLogger("dyngraphvae")
    if info is not None:
        log.info("fit: pair-history context warm-started at the logistic regression of the %d "
                 "training snapshots (log loss %.4g per pair)", len(train),
                 info["log_loss_per_pair"])
    info = warm_start_features(model, train)
    if info is not None:
        log.info("fit: feature mean warm-started at the least-squares AR(%d) of the %d training "
                 "snapshots (MSE %.4g)", model.config.feature_lags, len(train), info["mse"])


def _fit_random_effects(model: nn.Module, data: TemporalGraph, config: TrainConfig) -> None:
    """Fit the snapshot effect's and the node effects' scales, each where the config asks for
    it, on the training snapshots (validation ones excluded)."""
    from dyngraphvae.training.lightning_module import num_validation_snapshots
    from dyngraphvae.training.node_effect import fit_node_effect
    from dyngraphvae.training.snapshot_effect import fit_snapshot_effect

    log = logging.getLogger("dyngraphvae")
    train = data[: len(data) - num_validation_snapshots(len(data), config)]
    info = fit_snapshot_effect(model, train, seed=config.seed)
    if info is not None:
        log.info("fit: snapshot effect τ = %.3f, edge offset moved by %.3f (marginal likelihood "
                 "of the %d training snapshots)", info["scale"], info["offset_shift"],
                 info["num_snapshots"])
    info = fit_node_effect(model, train, seed=config.seed)
    if info is not None:
        log.info("fit: node effects τ_out = %.3f, τ_in = %.3f, ρ = %.2f (marginal likelihood of "
                 "the rows and columns of the last %d training snapshots)", info["scale_out"],
                 info["scale_in"], info["corr"], info["num_snapshots"])


def _strategy(config: TrainConfig) -> Any:
    """Lightning's strategy. With windows, a window after the first never reaches the learned
    ``Z_0`` (its start is a cached state), so on a process whose windows all start later that
    parameter has no gradient; DDP then has to be told to look for unused parameters, or its
    all-reduce waits for ever (their gradient counts as zero, as in one process)."""
    s = config.strategy
    if config.window is not None and isinstance(s, str) and s in (
            "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook"):
        return f"{s}_find_unused_parameters_true"
    return s


def _check_checkpoint(path: Path) -> None:
    """Refuse a checkpoint that is not a readable Lightning checkpoint, naming the file (a
    truncated or foreign file would otherwise fail deep inside Lightning)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, OSError...
        raise ValueError(f"{path}: not a readable checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'truncated?'})") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path}: not a Lightning checkpoint of dyngraphvae (no state_dict)")


def fit(
    model_config: Any,
    train_config: TrainConfig,
    data: TemporalGraph | Sequence[TemporalGraph],
    out_dir: str | Path,
    *,
    val_data: Sequence[TemporalGraph] | None = None,
    resume: str | Path | None = None,
    callbacks: Sequence[Any] = (),
    metadata: dict[str, Any] | None = None,
) -> FitResult:
    """Train a model by maximising its ELBO with Lightning; write the model folder ``out_dir``.

    Args:
        model_config: a :class:`~dyngraphvae.models.ForecasterConfig` (or any config with
            ``build()``, or an ``nn.Module`` with the ``elbo`` interface and a ``.config``).
        train_config: the :class:`TrainConfig`.
        data: one long :class:`TemporalGraph` (its last ``val_fraction`` of snapshots validate;
            hold the test snapshots out *before* calling ``fit``) or a list of sequences.
        out_dir: run folder (created). Receives ``checkpoints/``, ``logs/`` and the model folder
            files (``config.json``, ``model.pt``, ``manifest.json``, ``train_config.json``).
        val_data: validation sequences when ``data`` is a list (default: its last
            ``val_fraction``).
        resume: a Lightning checkpoint to resume from (``"last"`` = ``out_dir/checkpoints/
            last.ckpt``). Resuming is exact: N epochs in one go and N/2 + N/2 give the same
            parameters (see ``docs/training.md``).
        callbacks: extra Lightning callbacks (e.g. a collapse monitor).
        metadata: stored in ``manifest.json`` (e.g. how to reload the data).

    Returns:
        :class:`FitResult`, with the best-validation weights loaded (model selection on the
        validation split only).
    """
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from dyngraphvae.training.lightning_module import VAL_METRIC, ELBOModule

    if not isinstance(train_config, TrainConfig):
        raise TypeError(
            f"fit: train_config must be a TrainConfig, got {type(train_config).__name__}"
        )
    out_dir = Path(out_dir)
    for g in [data] if isinstance(data, TemporalGraph) else list(data):
        if isinstance(g, TemporalGraph) and sum(g.num_edges()) == 0 and not g.has_features:
            logging.getLogger("dyngraphvae").warning(
                "fit: %s has no edge in any snapshot and no node features: there is nothing "
                "to learn", g.name or "the training graph")
            break
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out_dir / "checkpoints"
    if resume == "last":
        resume = ckpt_dir / "last.ckpt"
    if resume is not None and not Path(resume).is_file():
        raise FileNotFoundError(f"fit: checkpoint to resume from {resume} does not exist")

    L.seed_everything(train_config.seed, workers=True, verbose=False)
    model = build_model(model_config)
    datamodule = _split(data, val_data, train_config)
    if train_config.warm_start and resume is None and isinstance(data, TemporalGraph):
        _warm_start(model, data, train_config)
    module = ELBOModule(model, train_config)
    validate = datamodule.has_validation

    cbs: list[Any] = []
    best_ckpt = last_ckpt = None
    if train_config.save_checkpoints:
        # Lightning >= 2.5 refreshes save_last only when a top-k file is written, so the
        # every-epoch "last" checkpoint is its own callback.
        # The best-model callback runs first: the "last" checkpoint then stores its state after
        # this epoch's score, so a resumed run keeps a best epoch that came before the resume.
        if validate:
            best_ckpt = ModelCheckpoint(
                dirpath=ckpt_dir, filename="best-{epoch}", monitor=VAL_METRIC, mode="max",
                save_top_k=1, auto_insert_metric_name=False,
            )
            cbs.append(best_ckpt)
        last_ckpt = ModelCheckpoint(
            dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
            enable_version_counter=False,
        )
        cbs.append(last_ckpt)
    early = None
    if validate and train_config.patience is not None:
        early = EarlyStopping(
            monitor=VAL_METRIC,
            mode="max",
            patience=train_config.patience,
            min_delta=train_config.min_delta,
            check_finite=True,
        )
        cbs.append(early)
    cbs.extend(callbacks)
    show_bar = train_config.progress_bar and progress_enabled()
    if show_bar:
        from dyngraphvae.training.progress_bar import RunProgressBar

        cbs.append(RunProgressBar())

    loggers: list[Any] = [CSVLogger(save_dir=out_dir, name="logs")]
    if train_config.tensorboard and importlib.util.find_spec("tensorboard") is not None:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=out_dir, name="tensorboard"))

    if isinstance(data, TemporalGraph) and hasattr(model_config, "adjacency"):
        from dyngraphvae.nn.adjacency import resolve_method
        from dyngraphvae.training.memory import check_training_memory

        method = resolve_method(model_config.adjacency, data.num_nodes,
                                model_config.dense_max_nodes)
        trained = len(data) if train_config.window is None else min(
            len(data), train_config.window * train_config.batch_size)
        check_training_memory(data.num_nodes, trained, dense=method == "dense",
                              windowed=train_config.window is not None)
    quiet_third_party()
    strategy = _strategy(train_config)
    trainer = L.Trainer(
        max_epochs=train_config.epochs,
        accelerator=train_config.accelerator,
        devices=train_config.devices,
        strategy=strategy,
        num_nodes=train_config.num_nodes,
        precision=train_config.precision,
        deterministic=train_config.deterministic,
        gradient_clip_val=train_config.grad_clip,
        gradient_clip_algorithm="norm" if train_config.grad_clip is not None else None,
        enable_progress_bar=show_bar,
        enable_model_summary=False,
        enable_checkpointing=last_ckpt is not None,
        log_every_n_steps=train_config.log_every_n_steps,
        check_val_every_n_epoch=train_config.check_val_every_n_epoch,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        callbacks=cbs,
        logger=loggers,
        default_root_dir=out_dir,
    )
    with warnings.catch_warnings():
        # one sequence per epoch makes every "few batches" / "num_workers" hint irrelevant
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*number of training batches.*")
        if not os.environ.get("DYNGRAPHVAE_VERBOSE"):
            for pattern in _THIRD_PARTY_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
        if resume is not None:
            _check_checkpoint(Path(resume))
        threads_before = torch.get_num_threads()
        if train_config.threads is not None:
            torch.set_num_threads(train_config.threads)
        try:
            # weights-only loading, stated rather than left to the torch version's default
            trainer.fit(module, datamodule=datamodule,
                        ckpt_path=None if resume is None else resume, weights_only=True)
        finally:
            torch.set_num_threads(threads_before)

    best_path = last_path = None
    best_score = None
    if last_ckpt is not None and last_ckpt.last_model_path:
        last_path = Path(last_ckpt.last_model_path)
    if last_ckpt is not None and last_ckpt.best_model_path:
        last_path = Path(last_ckpt.best_model_path)
    if best_ckpt is not None and best_ckpt.best_model_path:
        best_path = Path(best_ckpt.best_model_path)
        best_score = float(best_ckpt.best_model_score)
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    model = module.model.cpu().eval()
    if isinstance(data, TemporalGraph):
        _fit_random_effects(model, data, train_config)
    meta = dict(metadata or {})
    meta.setdefault("best_val_elbo_per_step", best_score)
    meta.setdefault("epochs_completed", int(trainer.current_epoch))
    if trainer.is_global_zero:
        node_ids = data.node_ids if isinstance(data, TemporalGraph) else None
        save_model(model, out_dir, train_config=train_config, metadata=meta, node_ids=node_ids)
    trainer.strategy.barrier()
    return FitResult(
        model=model,
        out_dir=out_dir,
        best_checkpoint=best_path,
        last_checkpoint=last_path,
        best_score=best_score,
        epochs_completed=int(trainer.current_epoch),
        stopped_early=bool(early is not None and early.stopped_epoch > 0),
        history=read_history(out_dir) if trainer.is_global_zero else [],
    )

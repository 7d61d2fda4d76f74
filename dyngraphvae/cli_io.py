"""What the command line reads and writes: datasets (built-in, data root, events files) with
their edge-weight policy, model folders (one run per folder) and JSON settings. Every user error
is a :class:`CLIError`: one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["CLIError", "EVENT_OPTIONS", "SYNTHETIC_DATASETS", "WEIGHT_POLICIES",
           "apply_weight_policy", "load_data", "load_event_data", "static_edges"]


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


#: built-in synthetic datasets: name -> keyword arguments of ``dynamic_sbm``.
SYNTHETIC_DATASETS: dict[str, dict[str, Any]] = {
    "dynamic_sbm": dict(num_nodes=120, num_snapshots=30, num_communities=4, num_features=8),
    "dynamic_sbm_small": dict(num_nodes=24, num_snapshots=12, num_communities=2, num_features=3),
}


# ---------------------------------------------------------------------------- data
WEIGHT_POLICIES = ("auto", "use", "drop", "abs")  # dyngraphvae.data.weights.WEIGHT_POLICIES


def apply_weight_policy(graph, policy: str = "auto"):
    """:func:`dyngraphvae.data.weights.edge_weight_policy`, its errors as one-line CLI errors."""
    from dyngraphvae.data.weights import edge_weight_policy

    try:
        return edge_weight_policy(graph, policy)
    except ValueError as err:
        raise CLIError(str(err)) from err


def load_data(
    name: str, root: str | None = None, seed: int = 0, options: dict[str, Any] | None = None,
    weights: str = "auto",
):
    """The dataset ``name``: a built-in synthetic one (:data:`SYNTHETIC_DATASETS`, generated with
    ``seed``; ``options`` override its generator arguments) or a real one read by
    :func:`dyngraphvae.data.io.load_dataset` from ``root``, with the edge-weight policy
    ``weights`` (:func:`apply_weight_policy`)."""
    if name in SYNTHETIC_DATASETS:
        from dyngraphvae.data.synthetic import dynamic_sbm

        graph = dynamic_sbm(seed=seed, **{**SYNTHETIC_DATASETS[name], **(options or {})})
        return apply_weight_policy(graph, weights)
    from dyngraphvae.data import io as dio

    try:
        graph = dio.load_dataset(name, root)
    except dio.DatasetNotFoundError as err:
        known = sorted(SYNTHETIC_DATASETS) + dio.list_datasets()
        searched = dio.data_root(root).resolve()
        raise CLIError(
            f"unknown or missing dataset {name!r}: {err}.\n"
            f"Known datasets: {', '.join(known)}.\n"
            f"Data root searched: {searched}. Pass --data-root DIR (or set "
            f"${dio.ENV_VAR}) to the folder holding <name>/data.npz."
        ) from err
    except (dio.DatasetFormatError, dio.DatasetChecksumError) as err:
        raise CLIError(str(err)) from err
    from dyngraphvae.data.interop import is_lag_window_signal, series_graph

    if is_lag_window_signal(graph):  # PyG Temporal: forecast the series, not its lag windows
        graph = series_graph(graph)
        logging.getLogger("dyngraphvae").info(
            "%s is a PyG Temporal lag-window signal: the command works on the series behind it "
            "(one feature per node, %d snapshots)", name, len(graph))
    return apply_weight_policy(graph, weights)


def static_edges(graph) -> bool:
    """Whether every snapshot of ``graph`` has the same edge set (a fixed sensor or road graph:
    nothing to forecast about the edges)."""
    if len(graph) < 2:
        return False
    n = graph.num_nodes

    def keys(t: int):
        e = graph.edges(t).long()
        return (e[0] * n + e[1]).unique()

    first = keys(0)
    return all(k.numel() == first.numel() and bool((k == first).all())
               for k in (keys(t) for t in range(1, len(graph))))


#: options of :func:`dyngraphvae.data.events.load_events` that ``train --events`` records.
EVENT_OPTIONS = ("src", "dst", "time", "weight", "window", "num_snapshots", "directed", "start",
                 "format", "self_loops", "delimiter")


def load_event_data(path: str, options: dict[str, Any], weights: str = "auto"):
    """A graph from an events file (:func:`dyngraphvae.data.events.load_events`); bad input is a
    :class:`CLIError` naming the file, column and row."""
    from dyngraphvae.data.events import EventsError, load_events

    if not Path(path).is_file():
        raise CLIError(f"events file {path} not found")
    try:
        graph = load_events(path, **options)
    except EventsError as err:
        raise CLIError(f"{path}: {err}") from err
    except ImportError as err:
        raise CLIError(str(err)) from err
    return apply_weight_policy(graph, weights)


def _event_options(args: argparse.Namespace) -> dict[str, Any]:
    if (args.window is None) == (args.snapshots is None):
        raise CLIError("--events needs exactly one of --window W (e.g. 1d, 1w, 3600) or "
                       "--snapshots K")
    if args.format is None:
        missing = [f"--{k}" for k in ("src", "dst", "time") if getattr(args, k) is None]
        if missing:
            raise CLIError(f"--events needs {', '.join(missing)} (the column names), or "
                           "--format dyglib|tgb")
    window = args.window
    if window is not None:
        try:
            window = float(window)
        except ValueError:
            pass  # a string such as "1d", parsed by load_events
    return {"src": args.src, "dst": args.dst, "time": args.time, "weight": args.weight,
            "window": window, "num_snapshots": args.snapshots, "directed": not args.undirected,
            "start": args.start, "format": args.format, "self_loops": args.self_loops,
            "delimiter": args.delimiter}


def _split_sizes(T: int, test: int | None) -> int:
    n_test = max(1, round(0.15 * T)) if test is None else test
    if n_test < 1 or T - n_test < 3:
        raise CLIError(
            f"--test-snapshots {n_test} leaves {T - n_test} of {T} snapshots for training and "
            "validation (need >= 3); choose a smaller value"
        )
    return n_test


def _positive(name: str, value: int) -> int:
    if value is None or value <= 0:
        raise CLIError(f"{name} must be a positive integer, got {value}")
    return value


def _load_model_dir(path: str):
    from dyngraphvae.training import load_saved

    p = Path(path)
    if not p.exists():
        raise CLIError(
            f"model folder {p} does not exist; train one with "
            f"`dyngraphvae train --dataset NAME --out {p}` (or run `dyngraphvae demo`)"
        )
    from dyngraphvae.training.io import CheckpointMismatchError

    try:
        saved = load_saved(p)
    except (FileNotFoundError, CheckpointMismatchError) as err:
        raise CLIError(str(err)) from err
    return saved


def _model_data(saved, args) -> tuple[Any, dict[str, Any]]:
    """The graph a model folder was trained on (its dataset or events file and options, as
    recorded in the manifest), checked against the model's node count and saved node ids."""
    meta = saved.metadata
    weights = meta.get("weights", "auto")
    override = getattr(args, "dataset", None)
    if override is None and "events" in meta:
        ev = meta["events"]
        graph = load_event_data(ev["path"], ev["options"], weights)
        name = ev["path"]
    else:
        if "dataset" not in meta or (meta["dataset"] is None and override is None):
            raise CLIError(
                f"{saved.directory}/manifest.json does not say which dataset the model was "
                "trained on; pass --dataset NAME")
        name = override or meta["dataset"]
        root = args.data_root if getattr(args, "data_root", None) is not None else meta.get(
            "data_root")
        graph = load_data(name, root, seed=int(meta.get("data_seed", 0)),
                          options=meta.get("data_options") if override is None else None,
                          weights=weights)
    n_model = getattr(saved.model.config, "num_nodes", graph.num_nodes)
    if graph.num_nodes != n_model:
        raise CLIError(
            f"dataset {name!r} has {graph.num_nodes} nodes but the model in {saved.directory} "
            f"was built for {n_model}"
        )
    f_model = getattr(saved.model.config, "num_features", graph.num_features)
    if graph.num_features != f_model:
        raise CLIError(
            f"dataset {name!r} has {graph.num_features} node features per snapshot but the model "
            f"in {saved.directory} was built for {f_model} (a PyG Temporal dataset is read as "
            "its series, one feature, since 2026-12-06: retrain the model)")
    if saved.node_ids is not None and graph.node_ids is not None \
            and list(graph.node_ids) != saved.node_ids:
        raise CLIError(
            f"the node ids of {name} differ from those the model in {saved.directory} was "
            "trained on (node_ids.json): the data changed since training")
    if len(graph) <= int(meta.get("history_snapshots", 0)) - 1:
        raise CLIError(f"dataset {name!r} is shorter than the model's training history")
    return graph, meta


#: files and folders of a model folder (what ``--overwrite`` removes, nothing else)
_MODEL_FOLDER_ENTRIES = ("config.json", "model.pt", "manifest.json", "train_config.json",
                         "node_ids.json", "checkpoints", "logs", "tensorboard", "evaluation",
                         "forecast", "selection")


def _prepare_out(out: Path, resume: str | None, overwrite: bool) -> None:
    """One run per model folder: refuse to write into a folder that holds a model unless the run
    resumes it or ``--overwrite`` says to replace it (then the old run's files go first, so the
    folder never mixes checkpoints or logs of two runs)."""
    import shutil

    present = [e for e in _MODEL_FOLDER_ENTRIES if (out / e).exists()]
    if resume is not None:
        if resume == "last" and not (out / "checkpoints" / "last.ckpt").is_file():
            raise CLIError(f"--resume last: {out / 'checkpoints' / 'last.ckpt'} does not exist; "
                           "train without --resume first")
        if resume != "last" and not Path(resume).is_file():
            raise CLIError(f"--resume {resume}: no such checkpoint file")
        if overwrite:
            raise CLIError("--resume and --overwrite contradict each other; choose one")
        return
    if present and not overwrite:
        raise CLIError(
            f"{out} already holds a model ({', '.join(present)}); pass --overwrite to replace "
            "it, --resume last to continue it, or choose another --out")
    for e in present:
        path = out / e
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _json_object(path: str, what: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(Path(path).read_text())
    except OSError as err:
        raise CLIError(f"{what} {path}: cannot read ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CLIError(f"{what} {path}: not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise CLIError(f"{what} {path}: expected a JSON object of settings, got "
                       f"{type(value).__name__}")
    return value


def _progress_on_terminal() -> bool:
    from dyngraphvae.progress import progress_enabled

    return progress_enabled()


def _default_out(model: str, out: str | None, sub: str) -> Path:
    return Path(out) if out is not None else Path(model) / sub


def _val_snapshots(saved, start: int) -> int:
    """Validation snapshots at the end of the model's training history (0 when unknown)."""
    from dyngraphvae.training import TrainConfig
    from dyngraphvae.training.lightning_module import num_validation_snapshots

    path = Path(saved.directory) / "train_config.json"
    try:
        return int(num_validation_snapshots(start, TrainConfig.load(path)))
    except (OSError, ValueError, TypeError):
        return 0

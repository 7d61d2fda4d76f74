"""Saving and loading trained models as plain folders (no pickles).

A model folder holds

* ``config.json``: the model config (``model.config.to_dict()``; for the forecaster this is the
  file :meth:`ForecasterConfig.load` reads),
* ``model.pt``: the ``state_dict`` only, read back with ``torch.load(..., weights_only=True)``,
* ``manifest.json``: which class made the weights (``"module:QualName"`` of the model and of its
  config), the parameter shapes, the package versions and free-form metadata (e.g. the data the
  model was trained on),
* ``train_config.json`` (optional): the :class:`~dyngraphvae.training.TrainConfig` of the run.

Loading rebuilds the model from ``config.json``, checks that the saved tensors have exactly the
names and shapes that config implies, and only then loads them, so a folder whose weights come from
another model or another config fails with a message that says so.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dyngraphvae._version import __version__
from dyngraphvae.training.config import TrainConfig

__all__ = ["CheckpointMismatchError", "SavedModel", "load_model", "load_saved", "save_model",
           "update_saved_model"]

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.pt"
MANIFEST_FILE = "manifest.json"
TRAIN_CONFIG_FILE = "train_config.json"
NODE_IDS_FILE = "node_ids.json"  # original node ids (graph.node_ids), when the data had them


class CheckpointMismatchError(ValueError):
    """The weights of a model folder do not fit the model that is asked for or described."""


def _qualname(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(path: str, what: str, folder: Path, also_allowed: str | None = None) -> type:
    """Import ``module:QualName``; only dyngraphvae modules (or ``also_allowed``) are imported."""
    module, _, name = path.partition(":")
    inside = module == "dyngraphvae" or module.startswith("dyngraphvae.")
    if not inside and module != also_allowed:
        raise CheckpointMismatchError(
            f"{folder}: {what} {path!r} is outside dyngraphvae; pass model_class= explicitly to "
            "load a model class from another package"
        )
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise CheckpointMismatchError(
            f"{folder}: {what} {path!r} cannot be imported from this dyngraphvae version ({err})"
        ) from err
    if not isinstance(obj, type):
        raise CheckpointMismatchError(f"{folder}: {what} {path!r} is not a class")
    return obj


def _config_of(model: nn.Module) -> Any:
    config = getattr(model, "config", None)
    if config is None or not callable(getattr(config, "to_dict", None)):
        raise TypeError(
            f"{type(model).__name__} has no .config with to_dict(); save_model needs the model's "
            "config to rebuild it"
        )
    if not callable(getattr(type(config), "from_dict", None)):
        raise TypeError(f"{type(config).__name__} has no from_dict(); it cannot be loaded back")
    return config


def save_model(
    model: nn.Module,
    directory: str | Path,
    *,
    train_config: TrainConfig | None = None,
    metadata: dict[str, Any] | None = None,
    node_ids: list | None = None,
) -> Path:
    """Write ``config.json``, ``model.pt`` (state_dict), ``manifest.json`` and, if given,
    ``train_config.json`` and ``node_ids.json`` (the original ids of nodes ``0..N-1``, e.g.
    ``graph.node_ids`` of :func:`~dyngraphvae.data.events.load_events`) into ``directory``
    (created if needed). Returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shapes = _write_weights(model, directory)
    manifest = {
        "format_version": FORMAT_VERSION,
        "model_class": _qualname(model),
        "config_class": _qualname(_config_of(model)),
        "parameters": shapes,
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
        "dyngraphvae_version": __version__,
        "torch_version": torch.__version__,
        "metadata": metadata or {},
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if train_config is not None:
        train_config.save(directory / TRAIN_CONFIG_FILE)
    if node_ids is not None:
        (directory / NODE_IDS_FILE).write_text(json.dumps(list(node_ids)) + "\n")
    return directory


def update_saved_model(model: nn.Module, directory: str | Path) -> Path:
    """Rewrite ``config.json``, ``model.pt`` and the manifest's parameter shapes of a model folder
    that :func:`save_model` wrote, after a change made once training is over (a buffer fitted
    after the ELBO, e.g. the node effects); the manifest's metadata and every other file are
    kept."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["parameters"] = _write_weights(model, directory)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return directory


def _write_weights(model: nn.Module, directory: Path) -> dict[str, list[int]]:
    """Write ``config.json`` and ``model.pt`` (state_dict on the CPU); return the tensors'
    shapes, the manifest's ``"parameters"``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    (directory / CONFIG_FILE).write_text(
        json.dumps(_config_of(model).to_dict(), indent=2, sort_keys=True))
    torch.save(state, directory / WEIGHTS_FILE)
    return {k: list(v.shape) for k, v in state.items()}


@dataclass
class SavedModel:
    """A loaded model folder."""

    model: nn.Module
    directory: Path
    manifest: dict[str, Any]
    train_config: TrainConfig | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    node_ids: list | None = None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointMismatchError(f"{path}: {what} is not valid JSON ({err})") from err


def _short(d: dict[str, Any], limit: int = 400) -> str:
    s = json.dumps(d, sort_keys=True)
    return s if len(s) <= limit else s[:limit] + "...}"


def load_saved(
    directory: str | Path,
    *,
    model_class: type[nn.Module] | None = None,
    map_location: str | torch.device = "cpu",
) -> SavedModel:
    """Load a model folder written by :func:`save_model`.

    Args:
        directory: the folder.
        model_class: the class expected (e.g. ``TemporalGraphVAE``). If the folder was made by
            another class the load fails, naming both. Needed for classes outside dyngraphvae.
        map_location: where to put the weights.

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        CheckpointMismatchError: the weights come from another model class, or their names or
            shapes do not match what ``config.json`` implies.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"model folder {directory} does not exist; train one first, e.g. "
            f"`dyngraphvae train --dataset NAME --out {directory}`"
        )
    for name in (CONFIG_FILE, WEIGHTS_FILE, MANIFEST_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory} is not a dyngraphvae model folder: {name} is missing (expected "
                f"{CONFIG_FILE}, {WEIGHTS_FILE}, {MANIFEST_FILE})"
            )
    manifest = _read_json(directory / MANIFEST_FILE, MANIFEST_FILE)
    config_dict = _read_json(directory / CONFIG_FILE, CONFIG_FILE)
    made_by = manifest.get("model_class", "?")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointMismatchError(
            f"{directory}: format_version {manifest.get('format_version')!r} is not supported "
            f"(this dyngraphvae reads {FORMAT_VERSION})"
        )
    if model_class is not None:
        if made_by != _qualname(model_class):
            raise CheckpointMismatchError(
                f"this checkpoint ({directory}) was made by {made_by} with config "
                f"{_short(config_dict)}; expected {_qualname(model_class)}. Load it without "
                f"model_class= (the manifest names its class), or point to a folder saved from a "
                f"{model_class.__name__}"
            )
        cls = model_class
    else:
        cls = _resolve(made_by, "model class", directory)
    config_cls = _resolve(
        manifest.get("config_class", "?"), "config class", directory, also_allowed=cls.__module__
    )
    try:
        config = config_cls.from_dict(config_dict)
        model = cls(config)
    except (TypeError, ValueError) as err:
        raise CheckpointMismatchError(
            f"{directory}: {CONFIG_FILE} does not describe a valid {cls.__name__} ({err})"
        ) from err
    try:
        state = torch.load(directory / WEIGHTS_FILE, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated or foreign files raise many types deep in torch
        first = str(err).splitlines()[0] if str(err) else ""
        raise CheckpointMismatchError(
            f"{directory / WEIGHTS_FILE}: not a readable state_dict ({type(err).__name__}"
            f"{': ' + first if first else ''}); the file is truncated or was not written by "
            "save_model: copy the model folder again or retrain") from err
    if not isinstance(state, dict):
        raise CheckpointMismatchError(f"{directory / WEIGHTS_FILE} is not a state_dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: saved {tuple(state[k].shape)}, config implies {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if shapes:
            parts.append("shape mismatch " + "; ".join(shapes[:8]))
        raise CheckpointMismatchError(
            f"the weights in {directory / WEIGHTS_FILE} were not made by {cls.__name__} with the "
            f"config in {CONFIG_FILE} ({_short(config_dict)}): " + "; ".join(parts)
            + f". {CONFIG_FILE} and {WEIGHTS_FILE} must come from the same save_model/fit call: "
            "copy the model folder whole and do not edit its config.json, or retrain"
        )
    model.load_state_dict(state, strict=True)
    model.to(map_location)
    train_config = None
    if (directory / TRAIN_CONFIG_FILE).is_file():
        train_config = TrainConfig.load(directory / TRAIN_CONFIG_FILE)
    node_ids = None
    if (directory / NODE_IDS_FILE).is_file():
        node_ids = _read_json(directory / NODE_IDS_FILE, NODE_IDS_FILE)
        if not isinstance(node_ids, list) or len(node_ids) != getattr(config, "num_nodes",
                                                                       len(node_ids)):
            raise CheckpointMismatchError(
                f"{directory / NODE_IDS_FILE}: expected a list of {config.num_nodes} node ids")
    return SavedModel(
        model=model,
        directory=directory,
        manifest=manifest,
        train_config=train_config,
        metadata=dict(manifest.get("metadata", {})),
        node_ids=node_ids,
    )


def load_model(
    directory: str | Path,
    *,
    model_class: type[nn.Module] | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """The model of a folder written by :func:`save_model` (see :func:`load_saved`), in eval
    mode."""
    model = load_saved(directory, model_class=model_class, map_location=map_location).model
    return model.eval()

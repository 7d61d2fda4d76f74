"""Loading real temporal-graph datasets from a data root, verified by sha256.

Where the data are looked for (the *data root*), first match wins:

1. the ``root=`` argument;
2. the environment variable ``DYNGRAPHVAE_DATA``;
3. ``datasets/`` relative to the current working directory (the repository's
   ``datasets/`` folder when run from the repository root).

Two formats are read; nothing is ever unpickled.

* **Snapshot npz** (``<root>/<name>/data.npz``, layout in ``datasets/README.md``): read
  with ``numpy.load(path, allow_pickle=False)``. The registered names are
  ``vgrnn_enron10``, ``vgrnn_colab``, ``dysat_enron``, ``uci_collegemsg`` and
  ``bitcoin_alpha``; any other ``<root>/<name>/data.npz`` or a path to an ``.npz`` file
  in the same layout loads too (its sha256 is checked if given). Edge weights
  (multiplicities, or ``bitcoin_alpha``'s signed ratings in [-10, 10]), node masks
  (``dysat_enron``) and window start times (``time``) are kept.
* **PyTorch Geometric Temporal JSON** (``<root>/pygt/<file>.json``): ``chickenpox``,
  ``pedalme_london``, ``england_covid``, ``montevideo_bus``, ``twitter_tennis_rg17``,
  ``twitter_tennis_uo17`` (same reader; not in the shared data root: ``download=True``),
  reproducing the upstream loaders (Rozemberczki et al., CIKM 2021): lag-window
  features ``x[t] = (s_t, ..., s_{t+lags-1})`` and target ``y[t] = s_{t+lags}`` per node.
  Static graphs are repeated at every step; edges are kept as the directed lists of the
  files, with their weights. Self-loops, present in every file except
  ``montevideo_bus``, are kept by default (``self_loops="keep"``, as upstream, where
  the GNN sees them; dyngraphvae's edge likelihood ignores the diagonal) or dropped with
  ``self_loops="remove"``.

A missing file raises :class:`DatasetNotFoundError` naming the expected path; a file
whose sha256 differs raises :class:`DatasetChecksumError` with the found and expected
hashes. ``download=True`` (opt-in, needs network) fetches the PyG Temporal JSON files
from their upstream URLs into ``<root>/pygt/`` and verifies them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyngraphvae.data.interop import bin_events
from dyngraphvae.data.temporal_graph import TemporalGraph, TemporalGraphError

__all__ = [
    "DATASETS",
    "DatasetChecksumError",
    "DatasetFormatError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "data_root",
    "dataset_path",
    "download_pygt",
    "list_datasets",
    "load_dataset",
    "load_npz",
    "read_npz",
    "save_npz",
    "sha256_file",
]

ENV_VAR = "DYNGRAPHVAE_DATA"
_PYGT_MASTER = (
    "https://raw.githubusercontent.com/benedekrozemberczki/pytorch_geometric_temporal/master/dataset/"
)
_PYGT_TENNIS = (
    "https://raw.githubusercontent.com/ferencberes/pytorch_geometric_temporal/developer/dataset/"
)
_PYGT_CITE = (
    "B. Rozemberczki et al., PyTorch Geometric Temporal: Spatiotemporal Signal Processing with "
    "Neural Machine Learning Models, CIKM 2021"
)


class DatasetNotFoundError(FileNotFoundError):
    """The dataset file is not where the data root says it should be."""


class DatasetChecksumError(ValueError):
    """The dataset file's sha256 differs from the expected one."""


class DatasetFormatError(ValueError):
    """The file is readable but does not follow the expected layout."""


@dataclass(frozen=True)
class DatasetInfo:
    """Registry entry of a known dataset (statistics under the default options)."""

    name: str
    format: str  # "npz" or "pygt"
    relpath: str  # path of the file relative to the data root
    sha256: str
    num_bytes: int
    num_nodes: int
    num_snapshots: int
    directed: bool
    citation: str
    license: str
    url: str | None = None  # upstream download URL (PyG Temporal files only)

    def to_dict(self) -> dict:
        return asdict(self)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo(
            "vgrnn_enron10", "npz", "vgrnn_enron10/data.npz",
            "f74cc7307e88d3540610e846c031106bf2403fb5bcc30705bc944c46b80f592f", 5280, 184, 11,
            False,
            "Hajiramezanali et al., Variational Graph Recurrent Neural Networks, NeurIPS 2019; "
            "Klimt & Yang, The Enron corpus, ECML 2004",
            "none stated (research data redistributed by the VGRNN authors)",
        ),
        DatasetInfo(
            "vgrnn_colab", "npz", "vgrnn_colab/data.npz",
            "700fdfa8e06c3d91615ccfc030a7aaa6405dfe0ca89d9bc2405fda0583affd65", 6420, 315, 10,
            False,
            "Hajiramezanali et al., NeurIPS 2019; Rahman & Al Hasan, Link prediction in dynamic "
            "networks using graphlet, ECML-PKDD 2016",
            "none stated (research data redistributed by the VGRNN authors)",
        ),
        DatasetInfo(
            "dysat_enron", "npz", "dysat_enron/data.npz",
            "55459d383fbfc23eaf6cef68c5e5b3b45f52a09715daa8095089278fa1a78a08", 7791, 143, 16,
            False,
            "Sankar et al., DySAT, WSDM 2020; Klimt & Yang, ECML 2004",
            "none stated",
        ),
        DatasetInfo(
            "uci_collegemsg", "npz", "uci_collegemsg/data.npz",
            "afb20ef584b17a3730614fa915b54e54686344904b68cbe0663c5771365fbec3", 392328, 1899, 89,
            True,
            "Panzarasa, Opsahl & Carley, JASIST 60(5), 2009 (SNAP CollegeMsg)",
            "none stated by SNAP (cite the paper)",
        ),
        DatasetInfo(
            "bitcoin_alpha", "npz", "bitcoin_alpha/data.npz",
            "8ab057cce560da511c263f6c9ce5150ec5dd1b13cec3857ab32f2ddc4eca410a", 194465, 3783, 137,
            True,
            "Kumar et al., Edge Weight Prediction in Weighted Signed Networks, ICDM 2016; "
            "Kumar et al., REV2, WSDM 2018 (SNAP soc-sign-bitcoinalpha)",
            "none stated by SNAP (cite the papers)",
        ),
        DatasetInfo(
            "chickenpox", "pygt", "pygt/chickenpox.json",
            "724b48cfb274b2ecbb855bdb99b970b5ef9dd3671694fa477435dc1e08293735", 220340, 20, 517,
            True, _PYGT_CITE, "MIT (upstream repository)", _PYGT_MASTER + "chickenpox.json",
        ),
        DatasetInfo(
            "pedalme_london", "pygt", "pygt/pedalme_london.json",
            "8c42b893441901fb805c4f0f937543d5bb9297884ac3dec7622a3e9f7c35a79b", 17156, 15, 31,
            True, _PYGT_CITE, "MIT (upstream repository)", _PYGT_MASTER + "pedalme_london.json",
        ),
        DatasetInfo(
            "england_covid", "pygt", "pygt/england_covid.json",
            "497056cc4585b58951fd5cd17554fe0c535f68ea0c907a5b5727ae30e3913450", 1436945, 129, 53,
            True,
            _PYGT_CITE + "; Panagopoulos, Nikolentzos & Vazirgiannis, Transfer Graph Neural "
            "Networks for Pandemic Forecasting, AAAI 2021",
            "MIT (upstream repository)", _PYGT_MASTER + "england_covid.json",
        ),
        DatasetInfo(
            "montevideo_bus", "pygt", "pygt/montevideo_bus.json",
            "37d9c6286d474077b5c05173c1570c4da42c387013116daa8862c7a6cab86a75", 3131884, 675, 740,
            True, _PYGT_CITE + "; data: Uruguay national open-data catalogue",
            "MIT (upstream repository)", _PYGT_MASTER + "montevideo_bus.json",
        ),
        DatasetInfo(
            "twitter_tennis_rg17", "pygt", "pygt/twitter_tennis_rg17.json",
            "1f9c3501a96881bbc26c899483c3fce73f36081f2df29d91fcd33c6dc4edf9c8", 1982751, 1000,
            120, True,
            _PYGT_CITE + "; Beres et al., Temporal walk based centrality metric for graph "
            "streams, Applied Network Science 2018",
            "MIT (upstream repository)", _PYGT_TENNIS + "twitter_tennis_rg17.json",
        ),
        DatasetInfo(
            "twitter_tennis_uo17", "pygt", "pygt/twitter_tennis_uo17.json",
            "1c566bf220272c9a6f8b83161b432a77c9f8973e34f748e1d0c8f6d5ee138579", 1936663, 1000,
            112, True,
            _PYGT_CITE + "; Beres et al., Temporal walk based centrality metric for graph "
            "streams, Applied Network Science 2018",
            "MIT (upstream repository)", _PYGT_TENNIS + "twitter_tennis_uo17.json",
        ),
    ]
}


# --------------------------------------------------------------------------- paths, hashes
def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root``, else ``$DYNGRAPHVAE_DATA``, else ``./datasets``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path("datasets")


def _root_origin(root: str | os.PathLike | None) -> str:
    if root is not None:
        return "the root= argument"
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR}"
    return f"the default ./datasets (set root= or ${ENV_VAR} to change it)"


def list_datasets() -> list[str]:
    """Names of the registered datasets (others load from ``<root>/<name>/data.npz``)."""
    return sorted(DATASETS)


def dataset_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where dataset ``name`` is expected: the registered file or ``<root>/<name>/data.npz``."""
    info = DATASETS.get(name)
    base = data_root(root)
    return base / info.relpath if info is not None else base / name / "data.npz"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, expected: str | None, what: str) -> None:
    if expected is None:
        return
    found = sha256_file(path)
    if found != expected.lower():
        raise DatasetChecksumError(
            f"{what}: sha256 mismatch for {path}: found {found}, expected {expected.lower()} "
            "(the file is corrupted, truncated or a different version; fetch it again)"
        )


def _require(path: Path, what: str, origin: str, hint: str = "",
             root: Path | None = None) -> None:
    if not path.is_file():
        where = ""
        if root is not None:
            rel = path.relative_to(root) if path.is_relative_to(root) else path.name
            state = "does not exist" if not root.is_dir() else "exists but lacks this file"
            where = (f"; the data root {root.resolve()} {state}: pass root=DIR (or set "
                     f"${ENV_VAR}) to the folder that holds {rel}")
        raise DatasetNotFoundError(
            f"{what}: expected file {path} not found (data root from {origin}){where}{hint}"
        )


# --------------------------------------------------------------------------- npz layout
_INT_KEYS = ("num_nodes", "num_snapshots", "edge_index", "snapshot_ptr")
_OPTIONAL = {
    "edge_weight", "node_mask", "snapshot_start", "snapshot_end", "node_ids_original",
    "events_src", "events_dst", "events_time", "events_weight", "x", "y",
}


def read_npz(path: str | os.PathLike, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Read and validate an npz file of the snapshot layout; returns its arrays.

    Uses ``numpy.load(path, allow_pickle=False)``: object arrays are refused. Checks
    the required keys, dtypes and the ``snapshot_ptr`` offsets; raises
    :class:`DatasetFormatError` naming the file and key otherwise. Also gives access to
    members the container does not hold (``node_ids_original``, ``events_*``).
    """
    path = Path(path)
    _require(path, "npz dataset", "the given path")
    _verify(path, sha256, str(path))
    if not zipfile.is_zipfile(path):
        raise DatasetFormatError(
            f"{path}: not an npz file (an npz is a zip archive of .npy arrays, written by "
            "numpy.savez / dyngraphvae.save_npz); the file is truncated or of another format")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise DatasetFormatError(
            f"{path}: not a readable npz file without pickles ({err})"
        ) from err
    missing = [k for k in (*_INT_KEYS, "undirected") if k not in arrays]
    if missing:
        raise DatasetFormatError(f"{path}: missing required key(s) {missing}")
    for k in _INT_KEYS:
        if arrays[k].dtype.kind not in "iu":
            raise DatasetFormatError(
                f"{path}, {k}: expected an integer array, got {arrays[k].dtype}"
            )
    und = arrays["undirected"]
    if und.shape != () or und.dtype.kind not in "biu" or int(und) not in (0, 1):
        raise DatasetFormatError(f"{path}, undirected: expected a bool scalar, got {und!r}")
    for k in ("num_nodes", "num_snapshots"):
        if arrays[k].shape != ():
            raise DatasetFormatError(f"{path}, {k}: expected a scalar, got shape {arrays[k].shape}")
    T, E = int(arrays["num_snapshots"]), arrays["edge_index"].shape[-1]
    ei, ptr = arrays["edge_index"], arrays["snapshot_ptr"]
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise DatasetFormatError(f"{path}, edge_index: expected shape (2, E), got {ei.shape}")
    if ptr.shape != (T + 1,):
        raise DatasetFormatError(
            f"{path}, snapshot_ptr: expected shape ({T + 1},), got {ptr.shape}"
        )
    if ptr[0] != 0 or ptr[-1] != E or (np.diff(ptr) < 0).any():
        raise DatasetFormatError(
            f"{path}, snapshot_ptr: must start at 0, end at E={E} and never decrease"
        )
    for k, v in arrays.items():
        if k not in _OPTIONAL:
            continue
        if k == "node_mask" and v.dtype != np.bool_:
            raise DatasetFormatError(f"{path}, node_mask: expected bool, got {v.dtype}")
        if k != "node_mask" and v.dtype.kind not in "iuf":
            raise DatasetFormatError(f"{path}, {k}: expected a numeric array, got {v.dtype}")
    return arrays


def load_npz(
    path: str | os.PathLike,
    *,
    sha256: str | None = None,
    name: str | None = None,
    weights: bool = True,
    self_loops: str = "error",
    window: float | None = None,
    num_snapshots: int | None = None,
) -> TemporalGraph:
    """Load an npz file in the snapshot layout as a :class:`TemporalGraph`.

    Args:
        path: the ``.npz`` file.
        sha256: expected hash (verified if given).
        weights: keep ``edge_weight`` (counts or signed ratings) as edge weights.
        self_loops: container policy; the layout has none, so ``"error"`` by default.
        window / num_snapshots: rebuild the snapshots from the stored raw event stream
            (``events_*``, event datasets only) with another windowing, see
            :func:`~dyngraphvae.data.interop.bin_events`; edge weights are then the
            summed ``events_weight`` (message counts; ratings for ``bitcoin_alpha``).
    """
    path = Path(path)
    a = read_npz(path, sha256)
    N, T = int(a["num_nodes"]), int(a["num_snapshots"])
    directed = not bool(a["undirected"])
    if window is not None or num_snapshots is not None:
        if "events_src" not in a:
            raise DatasetFormatError(
                f"{path}: has no raw event stream (events_*), so it cannot be re-windowed"
            )
        return bin_events(
            a["events_src"], a["events_dst"], a["events_time"], N,
            window=window, num_snapshots=num_snapshots,
            weight=a.get("events_weight") if weights else None,
            directed=directed, self_loops=self_loops, name=name,
        )
    ei, ptr = torch.from_numpy(a["edge_index"].astype(np.int64)), a["snapshot_ptr"]
    edges = [ei[:, ptr[t]:ptr[t + 1]] for t in range(T)]
    w = None
    if weights and "edge_weight" in a:
        wa = torch.from_numpy(a["edge_weight"].astype(np.float64)).float()
        if wa.shape != (ei.shape[1],):
            raise DatasetFormatError(
                f"{path}, edge_weight: expected shape ({ei.shape[1]},), got {tuple(wa.shape)}"
            )
        w = [wa[ptr[t]:ptr[t + 1]] for t in range(T)]
    opt = {}
    for key, field in (("node_mask", "node_mask"), ("x", "x"), ("y", "y")):
        if key in a:
            opt[field] = torch.from_numpy(a[key])
    if "snapshot_start" in a:
        opt["time"] = torch.from_numpy(a["snapshot_start"].astype(np.int64))
    try:
        return TemporalGraph(
            edges, N, directed=directed, edge_weights=w, self_loops=self_loops, name=name, **opt
        )
    except TemporalGraphError as err:
        raise DatasetFormatError(f"{path}: {err}") from err


def save_npz(graph: TemporalGraph, path: str | os.PathLike, compressed: bool = True) -> Path:
    """Write ``graph`` in the snapshot npz layout (see ``datasets/README.md``).

    Edge weights are stored as int64 when all are integers (as in the bundled files),
    else float32; ``time`` goes to ``snapshot_start``; ``x``, ``y`` and ``node_mask``
    are stored when present. Returns the path. Loading it back with :func:`load_npz`
    gives an equal graph.
    """
    path = Path(path)
    edges = [graph.edges(t).cpu() for t in range(len(graph))]
    ptr = np.zeros(len(graph) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([e.shape[1] for e in edges])
    out: dict[str, np.ndarray] = {
        "num_nodes": np.int64(graph.num_nodes),
        "num_snapshots": np.int64(len(graph)),
        "edge_index": torch.cat(edges, dim=1).numpy().astype(np.int64).reshape(2, -1),
        "snapshot_ptr": ptr,
        "undirected": np.bool_(not graph.directed),
    }
    if graph.edge_weights is not None:
        w = torch.cat([x.cpu() for x in graph.edge_weights]).numpy()
        integral = bool(np.all(w == np.round(w)))
        out["edge_weight"] = w.astype(np.int64) if integral else w.astype(np.float32)
    if graph.node_mask is not None:
        out["node_mask"] = graph.node_mask.cpu().numpy().astype(bool)
    if graph.x is not None:
        out["x"] = graph.x.cpu().numpy().astype(np.float32)
    if graph.y is not None:
        out["y"] = graph.y.cpu().numpy().astype(np.float32)
    if graph.time is not None:
        out["snapshot_start"] = graph.time.cpu().numpy().astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compressed else np.savez)(path, **out)
    return path


# --------------------------------------------------------------------------- PyG Temporal JSON
def _lag_windows(series: np.ndarray, lags: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``x[i, n, j] = s[i + j, n]`` (j < lags) and ``y[i, n] = s[i + lags, n]``, i < T - lags."""
    if isinstance(lags, bool) or int(lags) != lags or not 1 <= lags < series.shape[0]:
        raise ValueError(
            f"{what}: lags must be an integer in [1, {series.shape[0] - 1}], got {lags!r}"
        )
    lags = int(lags)
    n_steps = series.shape[0] - lags
    win = np.lib.stride_tricks.sliding_window_view(series, lags, axis=0)  # (T-lags+1, N, lags)
    return np.ascontiguousarray(win[:n_steps]), series[lags:]


def _options(name: str, given: dict, allowed: dict) -> dict:
    unknown = set(given) - set(allowed)
    if unknown:
        raise TypeError(
            f"load_dataset({name!r}): unknown option(s) {sorted(unknown)}; accepted: "
            f"{sorted(allowed)}"
        )
    return {**allowed, **given}


def _graph(name, edges, weights, num_nodes, x, y, self_loops) -> TemporalGraph:
    if self_loops not in ("keep", "remove"):
        raise ValueError(f"{name}: self_loops must be 'keep' or 'remove', got {self_loops!r}")
    return TemporalGraph(
        edges, num_nodes, directed=True, edge_weights=weights,
        x=torch.from_numpy(np.asarray(x, dtype=np.float32)),
        y=torch.from_numpy(np.asarray(y, dtype=np.float32)),
        self_loops=self_loops, name=name,
    )


def _static(edges: np.ndarray, weights: np.ndarray, T: int):
    ei = torch.from_numpy(np.asarray(edges, dtype=np.int64).T.copy())
    w = torch.from_numpy(np.asarray(weights, dtype=np.float64)).float()
    return [ei] * T, [w] * T


def _chickenpox(d: dict, name: str, lags: int = 4, self_loops: str = "keep") -> TemporalGraph:
    s = np.asarray(d["FX"], dtype=np.float64)  # (T_raw, N), z-scored per county
    x, y = _lag_windows(s, lags, name)
    e = np.asarray(d["edges"])
    edges, w = _static(e, np.ones(len(e)), len(y))  # upstream sets all weights to 1
    return _graph(name, edges, w, s.shape[1], x, y, self_loops)


def _pedalme(d: dict, name: str, lags: int = 4, self_loops: str = "keep") -> TemporalGraph:
    s = np.asarray(d["X"], dtype=np.float64)
    x, y = _lag_windows(s, lags, name)
    edges, w = _static(d["edges"], d["weights"], len(y))
    return _graph(name, edges, w, s.shape[1], x, y, self_loops)


def _england_covid(d: dict, name: str, lags: int = 8, self_loops: str = "keep") -> TemporalGraph:
    s = np.asarray(d["y"], dtype=np.float64)  # raw daily case counts (T_raw, N)
    s = (s - s.mean(0)) / (s.std(0) + 1e-10)  # z-score per region over time, as upstream
    x, y = _lag_windows(s, lags, name)
    em = d["edge_mapping"]
    edges = [torch.tensor(em["edge_index"][str(t)], dtype=torch.long).reshape(-1, 2).t()
             for t in range(len(y))]  # day t's mobility graph with days t..t+lags-1
    w = [torch.tensor(em["edge_weight"][str(t)], dtype=torch.float64).float()
         for t in range(len(y))]
    return _graph(name, edges, w, s.shape[1], x, y, self_loops)


def _zscore(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(0)) / a.std(0)


def _montevideo(
    d: dict, name: str, lags: int = 4, target_var: str = "y",
    feature_vars: tuple[str, ...] | list[str] = ("y",), self_loops: str = "keep",
) -> TemporalGraph:
    nodes = d["nodes"]
    index = {n["bus_stop"]: i for i, n in enumerate(nodes)}
    available = sorted(nodes[0]["X"])
    feature_vars = [feature_vars] if isinstance(feature_vars, str) else list(feature_vars)
    if not feature_vars:
        raise ValueError(f"{name}: feature_vars must name at least one of {available}")
    for v in feature_vars:
        if any(v not in n["X"] for n in nodes):
            raise ValueError(f"{name}: unknown feature variable {v!r}; available: {available}")
    if any(target_var not in n for n in nodes):
        raise ValueError(f"{name}: unknown target variable {target_var!r}")
    xs = []
    for v in feature_vars:
        series = _zscore(np.array([n["X"][v] for n in nodes], dtype=np.float64).T)
        xs.append(_lag_windows(series, lags, name)[0])
    x = np.concatenate(xs, axis=2)  # (T, N, lags * len(feature_vars)), variable-major
    target = _zscore(np.array([n[target_var] for n in nodes], dtype=np.float64).T)
    _, y = _lag_windows(target, lags, name)
    e = np.array([(index[lk["source"]], index[lk["target"]]) for lk in d["links"]])
    edges, w = _static(e, [lk["weight"] for lk in d["links"]], len(y))
    return _graph(name, edges, w, len(nodes), x, y, self_loops)


def _tennis_encode(X: np.ndarray, cutoff: int = 4) -> np.ndarray:
    """Upstream 'encoded' features: one-hot of min(ceil(log(deg+1)), 4) (5 bins) and of
    floor(10 * transitivity) (11 bins)."""
    deg = np.minimum(np.ceil(np.log(X[:, 0] + 1.0)), cutoff).astype(np.int64)
    tra = np.floor(X[:, 1] * 10).astype(np.int64)
    if deg.min() < 0 or tra.min() < 0 or tra.max() > 10:
        raise DatasetFormatError("twitter tennis: degree/transitivity outside the encoded bins")
    return np.concatenate([np.eye(cutoff + 1)[deg], np.eye(11)[tra]], axis=1)


def _twitter(
    d: dict, name: str, feature_mode: str | None = "encoded", target_offset: int = 1,
    top_nodes: int | None = None, self_loops: str = "keep",
) -> TemporalGraph:
    if feature_mode not in ("encoded", "raw", None, "diagonal"):
        raise ValueError(
            f"{name}: feature_mode must be 'encoded', 'raw' (or None) or 'diagonal', got "
            f"{feature_mode!r}"
        )
    T = int(d["time_periods"])
    N = len(d["node_ids"]) if top_nodes is None else int(top_nodes)
    if not 1 <= N <= len(d["node_ids"]):
        raise ValueError(f"{name}: top_nodes must be in [1, {len(d['node_ids'])}], got {top_nodes}")
    edges, weights, xs, ys = [], [], [], []
    for t in range(T):
        snap = d[str(t)]
        e = np.asarray(snap["edges"], dtype=np.int64).reshape(-1, 2)
        w = np.asarray(snap["weights"], dtype=np.float64)
        keep = (e[:, 0] < N) & (e[:, 1] < N)
        edges.append(torch.from_numpy(e[keep].T.copy()))
        weights.append(torch.from_numpy(w[keep]).float())
        X = np.asarray(snap["X"], dtype=np.float64)[:N]
        if feature_mode == "encoded":
            X = _tennis_encode(X)
        xs.append(X)
        # upstream: the target of step t is log(1 + mentions) at min(t + offset, T - 1)
        ys.append(np.log1p(np.asarray(d[str(min(t + target_offset, T - 1))]["y"], np.float64)[:N]))
    x: Any = np.eye(N) if feature_mode == "diagonal" else np.stack(xs)  # diagonal: static I_N
    return _graph(name, edges, weights, N, x, np.stack(ys), self_loops)


_PYGT_READERS = {
    "chickenpox": (_chickenpox, {"lags": 4, "self_loops": "keep"}),
    "pedalme_london": (_pedalme, {"lags": 4, "self_loops": "keep"}),
    "england_covid": (_england_covid, {"lags": 8, "self_loops": "keep"}),
    "montevideo_bus": (
        _montevideo,
        {"lags": 4, "target_var": "y", "feature_vars": ("y",), "self_loops": "keep"},
    ),
    "twitter_tennis_rg17": (
        _twitter,
        {"feature_mode": "encoded", "target_offset": 1, "top_nodes": None, "self_loops": "keep"},
    ),
}
# the US Open 2017 file has the layout of Roland-Garros 2017 (PyG Temporal reads both with
# TwitterTennisDatasetLoader(event_id="rg17" | "uo17"))
_PYGT_READERS["twitter_tennis_uo17"] = _PYGT_READERS["twitter_tennis_rg17"]


def download_pygt(
    name: str, root: str | os.PathLike | None = None, overwrite: bool = False
) -> Path:
    """Fetch a PyG Temporal JSON file from its upstream URL into ``<root>/pygt/`` (network).

    The download is written to a temporary file, verified against the registered sha256,
    and only then moved into place. Returns the file's path.
    """
    info = DATASETS.get(name)
    if info is None or info.format != "pygt":
        known = sorted(k for k, v in DATASETS.items() if v.format == "pygt")
        raise ValueError(f"download: {name!r} is not a downloadable dataset; choose from {known}")
    path = data_root(root) / info.relpath
    if path.is_file() and not overwrite:
        _verify(path, info.sha256, name)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(info.url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                f.write(chunk)
        _verify(Path(tmp), info.sha256, f"{name} (downloaded from {info.url})")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    download: bool = False,
    verify: bool = True,
    sha256: str | None = None,
    **options: Any,
) -> TemporalGraph:
    """Load a dataset by name (or an ``.npz`` path) as a :class:`TemporalGraph`.

    Args:
        name: a registered name (:func:`list_datasets`), any folder ``<root>/<name>``
            holding a ``data.npz`` in the snapshot layout, or a path to such an ``.npz``.
        root: the data root (else ``$DYNGRAPHVAE_DATA``, else ``./datasets``).
        download: PyG Temporal datasets only: fetch a missing file from upstream.
        verify: check the sha256 of registered files (and of ``sha256`` if given).
        sha256: expected hash of an unregistered file.
        **options: npz: ``weights`` (True), ``self_loops`` ("error"), ``window`` /
            ``num_snapshots`` (re-window event datasets). PyG Temporal: ``lags``
            (upstream defaults: 4, england_covid 8), ``self_loops`` ("keep" | "remove"),
            montevideo_bus ``target_var`` / ``feature_vars``, twitter_tennis_rg17
            ``feature_mode`` ("encoded" | "raw" | "diagonal"), ``target_offset``, (same for
            twitter_tennis_uo17)
            ``top_nodes``.

    Examples:
        >>> g = load_dataset("vgrnn_enron10")          # doctest: +SKIP
        >>> g                                           # doctest: +SKIP
        TemporalGraph[vgrnn_enron10](N=184, T=11, undirected, edges/step=115..266 ...)
    """
    origin = _root_origin(root)
    info = DATASETS.get(name)
    if info is None:
        direct = Path(name)
        if direct.suffix == ".npz" and (direct.is_file() or root is None):
            _require(direct, f"dataset {name!r}", "the given path")
            return load_npz(direct, sha256=sha256 if verify else None, name=direct.parent.name,
                            **_npz_options(name, options))
        path = dataset_path(name, root)
        known = ", ".join(list_datasets())
        _require(path, f"dataset {name!r}", origin,
                 f"; registered datasets: {known}; other datasets go in <root>/<name>/data.npz",
                 root=data_root(root))
        return load_npz(path, sha256=sha256 if verify else None, name=name,
                        **_npz_options(name, options))
    path = data_root(root) / info.relpath
    if not path.is_file() and download:
        if info.format != "pygt":
            raise DatasetNotFoundError(
                f"dataset {name!r}: expected file {path} not found, and download=True only "
                "fetches PyG Temporal files; this npz was converted from the source listed in "
                "datasets/README.md"
            )
        download_pygt(name, root)
    hint = "; pass download=True to fetch it from upstream" if info.format == "pygt" else ""
    _require(path, f"dataset {name!r}", origin, hint, root=data_root(root))
    if verify:
        _verify(path, info.sha256, f"dataset {name!r}")
    if info.format == "npz":
        return load_npz(path, name=name, **_npz_options(name, options))
    reader, defaults = _PYGT_READERS[name]
    opts = _options(name, options, defaults)
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetFormatError(f"dataset {name!r}: {path} is not valid JSON ({err})") from err
    try:
        return reader(raw, name, **opts)
    except KeyError as err:
        raise DatasetFormatError(
            f"dataset {name!r}: {path} lacks the key {err.args[0]!r} of the PyG Temporal layout "
            "(the file is truncated or of another dataset)") from err


def _npz_options(name: str, options: dict) -> dict:
    accepted = ["weights", "self_loops", "window", "num_snapshots"]
    if unknown := sorted(set(options) - set(accepted)):
        raise TypeError(f"load_dataset({name!r}): option(s) {unknown} do not apply to an npz "
                        f"dataset; accepted: {accepted} (lags etc. are PyG Temporal options)")
    return options

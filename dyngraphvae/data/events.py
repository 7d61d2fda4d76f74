r"""Bring your own temporal graph: a table of timestamped interactions → :class:`TemporalGraph`.

:func:`load_events` reads events ``(src_i, dst_i, t_i[, w_i])`` from a CSV/TSV file (gzip too), a
Parquet file, a pandas ``DataFrame``, a mapping of column name → array, a numpy structured array,
or plain arrays, and bins them into snapshots (:func:`~dyngraphvae.data.interop.bin_events`):

* **Node ids** of any hashable type that is an int or a string (CSV ids that all parse as
  integers are integers) are mapped to ``0..N-1`` in sorted order; the original ids are kept as
  ``graph.node_ids`` and saved with trained models, so forecasts name them.
* **Times** are numbers (unix seconds, or any unit when the window is given in that unit) or
  datetimes: ISO 8601 strings, ``datetime`` objects, ``numpy.datetime64`` or pandas timestamps
  (naive datetimes are read as UTC).
* **Windows**: ``window=`` in seconds or as a string (``"30s"``, ``"15min"``, ``"1h"``, ``"1d"``,
  ``"1w"``), or ``num_snapshots=`` equal-width windows. Windows without events are kept as empty
  snapshots (so snapshots stay evenly spaced) and counted in the log line.
* **Repeated events** of a pair within a window merge into one edge whose weight is the number
  of events (or the sum of their weights); ``duplicates="error"`` refuses them instead.
  **Self-loops** raise by default, naming how many and where; ``self_loops="remove"`` drops them,
  ``"keep"`` keeps them. Both are counted in the log line.
* Known layouts by name: ``format="dyglib"`` (DyGLib's ``ml_<name>.csv``: ``,u,i,ts,label,idx``)
  and ``format="tgb"`` (TGB's raw edge lists: ``ts, src, dst[, w]`` by position, header skipped).

Nothing is silently dropped or changed: missing columns, unparseable times or windows, NaN
weights, non-integral numeric ids and too few snapshots raise :class:`EventsError` naming the
column, the row (1-based data row; the CSV line is one more, for the header) and the value.
pandas / pyarrow are needed only for Parquet files and DataFrames
(``pip install "dyngraphvae[io]"``) and are imported only then.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import logging
import math
import os
import re
from collections.abc import Hashable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph, TemporalGraphError

__all__ = ["EventsError", "load_events", "parse_window", "read_event_table"]

log = logging.getLogger("dyngraphvae")

#: named layouts: column names (or positions) of source, destination, time and weight.
FORMATS: dict[str, dict[str, Any]] = {
    "dyglib": {"src": "u", "dst": "i", "time": "ts", "weight": None},
    "tgb": {"src": 1, "dst": 2, "time": 0, "weight": None},
}

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
}


class EventsError(TemporalGraphError):
    """Invalid events input; the message names the column, row and value."""


# ---------------------------------------------------------------------------- windows
def parse_window(window: float | int | str) -> float:
    """A window length in seconds from a number (seconds) or a string such as ``"90s"``,
    ``"15min"``, ``"1.5h"``, ``"1d"``, ``"2w"``. Months and years are refused (not fixed)."""
    if isinstance(window, bool):
        raise EventsError(f"window: expected seconds or a string like '1d', got {window!r}")
    if isinstance(window, (int, float, np.integer, np.floating)):
        value = float(window)
    elif isinstance(window, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", window)
        unit = m.group(2).lower() if m else ""
        if m is None or (unit and unit not in _UNITS):
            hint = ""
            if unit in ("m", "mo", "month", "months", "y", "yr", "year", "years"):
                hint = (" ('m' is ambiguous: write 'min' for minutes; months and years have no "
                        "fixed length: give days, e.g. '30d')")
            raise EventsError(
                f"window: cannot parse {window!r}; use seconds or a number with a unit among "
                f"s, min, h, d, w (e.g. '1h', '1d', '1w'){hint}")
        value = float(m.group(1)) * (_UNITS[unit] if unit else 1)
    else:
        raise EventsError(f"window: expected seconds or a string like '1d', got {window!r}")
    if not math.isfinite(value) or value <= 0:
        raise EventsError(f"window: must be positive and finite, got {window!r}")
    return value


def _fmt_seconds(s: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size and (s / size) == round(s / size, 2):
            return f"{s / size:g}{unit}"
    return f"{s:g}s"


# ---------------------------------------------------------------------------- reading tables
def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _read_csv(path: Path, delimiter: str | None, header: bool) -> dict[Any, np.ndarray]:
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    if delimiter is None:
        delimiter = "\t" if stem.endswith((".tsv", ".tab")) else None
    try:
        with _open_text(path) as f:
            head = f.read(1 << 16)
            f.seek(0)
            if delimiter is None:
                try:
                    delimiter = csv.Sniffer().sniff(head.splitlines()[0] if head else ",",
                                                    delimiters=",\t;| ").delimiter
                except csv.Error:
                    delimiter = ","
            rows = list(csv.reader(f, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as err:
        raise EventsError(f"{path}: cannot read as a text table ({err})") from err
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise EventsError(f"{path}: the file holds no rows")
    if header:
        names, rows = [c.strip() for c in rows[0]], rows[1:]
    else:
        names = list(range(len(rows[0])))
    width = len(names)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise EventsError(
                f"{path}: data row {i + 1} has {len(r)} fields, the header has {width} "
                f"(delimiter {delimiter!r})")
    cols = list(zip(*rows, strict=True)) if rows else [()] * width
    out: dict[Any, np.ndarray] = {}
    for j, name in enumerate(names):
        key = name if name != "" or header is False else j  # DyGLib's unnamed index column
        out[key] = np.asarray([c.strip() for c in cols[j]], dtype=object)
        if header:
            out.setdefault(j, out[key])  # columns are also reachable by position
    return out


def _pandas():
    try:
        import pandas
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading Parquet files and DataFrames needs pandas (and pyarrow for Parquet): "
            'pip install "dyngraphvae[io]"') from err
    return pandas


def _from_frame(df: Any) -> dict[Any, np.ndarray]:
    out: dict[Any, np.ndarray] = {}
    for j, name in enumerate(df.columns):
        arr = df[name].to_numpy()
        out[name] = arr
        out.setdefault(j, arr)
    return out


def read_event_table(source: Any, *, delimiter: str | None = None,
                     header: bool = True) -> dict[Any, np.ndarray]:
    """Columns of an events table: ``{name: array}`` (also keyed by position).

    ``source``: a CSV/TSV path (``.gz`` too), a Parquet path, a pandas ``DataFrame``, a mapping
    of column name → array, or a numpy structured array.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise EventsError(f"events file {path} not found")
        if path.suffix.lower() in (".parquet", ".pq"):
            pd = _pandas()
            try:
                return _from_frame(pd.read_parquet(path))
            except ImportError:
                raise
            except Exception as err:  # pyarrow raises many types for a bad file
                raise EventsError(f"{path}: cannot read as Parquet ({err})") from err
        return _read_csv(path, delimiter, header)
    if isinstance(source, np.ndarray) and source.dtype.names:
        return {n: source[n] for n in source.dtype.names}
    if isinstance(source, Mapping):
        return {k: np.asarray(v) if not isinstance(v, np.ndarray) else v
                for k, v in source.items()}
    if hasattr(source, "columns") and hasattr(source, "to_numpy"):
        return _from_frame(source)
    raise EventsError(
        f"events source: expected a file path, a DataFrame, a mapping of columns or a "
        f"structured array, got {type(source).__name__}")


# ---------------------------------------------------------------------------- column parsing
_INT_RE = re.compile(r"[+-]?\d+")


def _column(table: Mapping, key: Any, role: str) -> np.ndarray:
    if key in table:
        return np.asarray(table[key])
    names = [k for k in table if not isinstance(k, int)] or list(table)
    raise EventsError(f"{role} column {key!r} not found; the table has columns {names}")


def _ids(values: np.ndarray, role: str, col: Any) -> np.ndarray:
    """Node ids as an int64 array or an object array of str."""
    v = np.asarray(values)
    if v.dtype.kind in "iu":
        return v.astype(np.int64)
    if v.dtype.kind == "f":
        if np.isnan(v).any():
            i = int(np.argmax(np.isnan(v)))
            raise EventsError(f"{role} column {col!r}: row {i + 1} has no node id (NaN)")
        bad = ~np.isfinite(v) | (v != np.round(v))
        if bad.any():
            i = int(np.argmax(bad))
            raise EventsError(
                f"{role} column {col!r}: row {i + 1} has id {float(v[i])!r}; numeric node ids "
                "must be whole numbers (or use string ids)")
        return v.astype(np.int64)
    if v.dtype.kind in "US":
        v = v.astype(object)
    if v.dtype.kind != "O":
        raise EventsError(f"{role} column {col!r}: unsupported id dtype {v.dtype}")
    out = np.empty(len(v), dtype=object)
    all_int = True
    for i, x in enumerate(v):
        if isinstance(x, (bytes, np.bytes_)):
            x = x.decode()
        if isinstance(x, (np.integer, np.str_)):
            x = x.item()
        if isinstance(x, (float, np.floating)):
            if x != x:
                raise EventsError(f"{role} column {col!r}: row {i + 1} has no node id (NaN)")
            if x != round(x):
                raise EventsError(
                    f"{role} column {col!r}: row {i + 1} has id {x!r}; numeric node ids must "
                    "be whole numbers (or use string ids)")
            x = int(x)
        if x is None or x == "":
            raise EventsError(f"{role} column {col!r}: row {i + 1} has no node id ({x!r})")
        if not isinstance(x, (int, str)) or isinstance(x, bool):
            raise EventsError(
                f"{role} column {col!r}: row {i + 1} has id {x!r} of type {type(x).__name__}; "
                "ids must be ints or strings")
        out[i] = x
        all_int = all_int and (isinstance(x, int) or bool(_INT_RE.fullmatch(x)))
    if all_int:
        return np.asarray([int(x) for x in out], dtype=np.int64)
    return np.asarray([str(x) for x in out], dtype=object)


def _datetime_seconds(x: Any) -> float | None:
    if isinstance(x, datetime):
        dt = x if x.tzinfo is not None else x.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if isinstance(x, np.datetime64):
        return float(x.astype("datetime64[ns]").astype(np.int64)) / 1e9
    if hasattr(x, "to_pydatetime"):  # pandas Timestamp
        return _datetime_seconds(x.to_pydatetime())
    if isinstance(x, str):
        s = x.strip()
        with contextlib.suppress(ValueError):  # a number; else try a datetime below
            return float(s)
        try:
            return _datetime_seconds(datetime.fromisoformat(s.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _times(values: np.ndarray, col: Any) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype.kind == "M":
        if np.isnat(v).any():
            i = int(np.argmax(np.isnat(v)))
            raise EventsError(f"time column {col!r}: row {i + 1} has no time (NaT)")
        return v.astype("datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
    if v.dtype.kind in "iub":
        if v.dtype.kind == "b":
            raise EventsError(f"time column {col!r}: booleans are not times")
        return v.astype(np.float64)
    if v.dtype.kind == "f":
        out = v.astype(np.float64)
    else:
        out = np.empty(len(v), dtype=np.float64)
        for i, x in enumerate(v):
            if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
                out[i] = float(x)
                continue
            s = _datetime_seconds(x)
            if s is None:
                raise EventsError(
                    f"time column {col!r}: row {i + 1} value {x!r} is neither a number nor an "
                    "ISO 8601 datetime (e.g. 2004-04-15 or 2004-04-15T08:30:00Z)")
            out[i] = s
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        raise EventsError(f"time column {col!r}: row {i + 1} has a non-finite time ({v[i]!r})")
    return out


def _numbers(values: np.ndarray, role: str, col: Any) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype.kind in "iufb":
        out = v.astype(np.float64)
    else:
        out = np.empty(len(v), dtype=np.float64)
        for i, x in enumerate(v):
            try:
                out[i] = float(x)
            except (TypeError, ValueError):
                raise EventsError(
                    f"{role} column {col!r}: row {i + 1} value {x!r} is not a number") from None
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        raise EventsError(
            f"{role} column {col!r}: {int(bad.sum())} row(s) are NaN or infinite, the first at "
            f"row {i + 1}; drop or fill them before loading")
    return out


# ---------------------------------------------------------------------------- node features
def _feature_table(features: Any, ids: list) -> tuple[dict[Hashable, np.ndarray], int]:
    """``{original id: (F,) vector}`` from a mapping or a table with a ``node`` column."""
    if isinstance(features, Mapping) and "node" not in features:
        rows = {k.item() if hasattr(k, "item") else k: np.asarray(v, dtype=np.float64).reshape(-1)
                for k, v in features.items()}
    else:
        table = read_event_table(features)
        if "node" not in table:
            raise EventsError(
                "features: a feature table needs a 'node' column (the original node ids); "
                f"it has {[k for k in table if not isinstance(k, int)]}")
        node = _ids(table["node"], "features node", "node")
        cols = [k for k in table if not isinstance(k, int) and k != "node"]
        if not cols:
            raise EventsError("features: the table has a 'node' column but no feature columns")
        mat = np.stack([_numbers(table[c], "features", c) for c in cols], axis=1)
        rows = {k.item() if hasattr(k, "item") else k: mat[i] for i, k in enumerate(node)}
        if len(rows) != len(node):
            raise EventsError("features: a node id appears in more than one row")
    widths = {len(v) for v in rows.values()}
    if len(widths) != 1:
        raise EventsError(f"features: vectors of different lengths {sorted(widths)}")
    for k, v in rows.items():
        if not np.isfinite(v).all():
            raise EventsError(f"features: node {k!r} has a NaN or infinite feature")
    missing = [i for i in ids if i not in rows]
    if missing:
        raise EventsError(
            f"features: {len(missing)} node(s) of the events have no features, e.g. "
            f"{missing[:5]}")
    return rows, widths.pop()


# ---------------------------------------------------------------------------- the loader
def load_events(
    source: Any = None,
    *,
    src: Any = None,
    dst: Any = None,
    time: Any = None,
    weight: Any = None,
    features: Any = None,
    window: float | str | None = None,
    num_snapshots: int | None = None,
    directed: bool = True,
    start: Any = None,
    format: str | None = None,
    self_loops: str = "error",
    duplicates: str = "merge",
    delimiter: str | None = None,
    min_snapshots: int = 3,
    name: str | None = None,
) -> TemporalGraph:
    r"""Load timestamped interactions as a :class:`TemporalGraph` (module docstring).

    Args:
        source: a CSV/TSV path (``.gz`` too), a Parquet path, a pandas ``DataFrame``, a mapping
            of column name → array or a structured array; or ``None`` when ``src``, ``dst`` and
            ``time`` are the arrays themselves.
        src, dst, time: column names (or positions) of the source node, destination node and
            time of each event; with ``source=None``, arrays.
        weight: optional column (or array) of event weights; summed per pair and window.
            Without it an edge's weight is its number of events.
        features: optional static node features: a mapping ``{original id: vector}``, or a
            table (path, DataFrame or mapping of columns) with a ``node`` column and numeric
            feature columns. Nodes that appear only here become isolated nodes.
        window: window length in seconds (in the unit of ``time`` for numeric times) or a
            string like ``"1h"``, ``"1d"``, ``"1w"``. Exactly one of ``window`` and
            ``num_snapshots``.
        num_snapshots: number of equal-width windows between ``start`` and the last event.
        directed: ``False`` merges ``u -> v`` and ``v -> u`` into one undirected edge.
        start: the first window's start (a number or a datetime); default the first event.
        format: ``"dyglib"`` or ``"tgb"`` fills ``src``/``dst``/``time`` for those layouts.
        self_loops: ``"error"`` (default), ``"remove"`` or ``"keep"``.
        duplicates: ``"merge"`` (default: repeated events of a pair in one window become one
            edge, weight = count or summed weight) or ``"error"``.
        delimiter: CSV delimiter (default: tab for ``.tsv``, else sniffed from the header).
        min_snapshots: refuse a windowing with fewer snapshots (default 3: training,
            validation and test need one each).
        name: the graph's name (default: the file's stem).

    Returns:
        A :class:`TemporalGraph` with ``node_ids`` (original ids), ``time`` (window starts, unix
        seconds when the times are datetimes) and edge weights.

    Raises:
        EventsError: naming the column, row and value of any bad input.
    """
    fmt = None
    if format is not None:
        if format not in FORMATS:
            raise EventsError(f"format: unknown layout {format!r}; known: {sorted(FORMATS)}")
        fmt = FORMATS[format]
        src = fmt["src"] if src is None else src
        dst = fmt["dst"] if dst is None else dst
        time = fmt["time"] if time is None else time
    if self_loops not in ("error", "remove", "keep"):
        raise EventsError(f"self_loops must be 'error', 'remove' or 'keep', got {self_loops!r}")
    if duplicates not in ("merge", "error"):
        raise EventsError(f"duplicates must be 'merge' or 'error', got {duplicates!r}")
    if (window is None) == (num_snapshots is None):
        raise EventsError("give exactly one of window= (e.g. '1d') or num_snapshots=")
    if source is None:
        if src is None or dst is None or time is None:
            raise EventsError("without a source, src=, dst= and time= must be the event arrays")
        table: dict[Any, Any] = {"src": src, "dst": dst, "time": time}
        src, dst, time = "src", "dst", "time"
        if weight is not None and not isinstance(weight, (str, int)):
            table["weight"], weight = weight, "weight"
    else:
        missing = [r for r, c in (("src", src), ("dst", dst), ("time", time)) if c is None]
        if missing:
            raise EventsError(f"name the {', '.join(missing)} column(s) (or pass format=)")
        table = read_event_table(source, delimiter=delimiter, header=True)
    where = str(source) if isinstance(source, (str, os.PathLike)) else "events"
    s_raw = _ids(_column(table, src, "src"), "src", src)
    d_raw = _ids(_column(table, dst, "dst"), "dst", dst)
    t = _times(_column(table, time, "time"), time)
    n_ev = len(t)
    if not len(s_raw) == len(d_raw) == n_ev:
        raise EventsError(f"src, dst and time differ in length: {len(s_raw)}, {len(d_raw)}, {n_ev}")
    if n_ev == 0:
        raise EventsError(f"{where}: no events")
    w = None if weight is None else _numbers(_column(table, weight, "weight"), "weight", weight)

    # original ids -> 0..N-1, sorted (numeric ids numerically); features may add isolated nodes
    if s_raw.dtype.kind != d_raw.dtype.kind:  # ints in one column, strings in the other
        s_raw, d_raw = s_raw.astype(str).astype(object), d_raw.astype(str).astype(object)
    every = np.concatenate([s_raw, d_raw])
    feats = None
    if features is not None:
        ids0 = list(np.unique(every).tolist())
        rows, _ = _feature_table(features, ids0)
        extra = [k for k in rows if k not in set(ids0)]
        if extra:
            kinds = {type(k) for k in [*ids0[:1], *extra]}
            if len(kinds) > 1:
                raise EventsError(
                    f"features: node ids {extra[:3]} are not of the type of the events' ids")
            every = np.concatenate([every, np.asarray(extra, dtype=every.dtype)])
            log.info("%s: %d node(s) appear only in the features (isolated nodes)", where,
                     len(extra))
        feats = rows
    uniq, inverse = np.unique(every, return_inverse=True)
    node_ids = [x.item() if hasattr(x, "item") else x for x in uniq]
    s_idx = torch.from_numpy(inverse[:n_ev].astype(np.int64))
    d_idx = torch.from_numpy(inverse[n_ev:2 * n_ev].astype(np.int64))

    loops = s_idx == d_idx
    n_loops = int(loops.sum())
    if n_loops and self_loops == "error":
        i = int(loops.nonzero()[0, 0])
        raise EventsError(
            f"{where}: {n_loops} event(s) are self-loops, the first at row {i + 1} (node "
            f"{node_ids[int(s_idx[i])]!r}); pass self_loops='remove' to drop them or 'keep'")
    if n_loops and self_loops == "remove":
        keep = ~loops
        s_idx, d_idx, t = s_idx[keep], d_idx[keep], t[keep.numpy()]
        w = None if w is None else w[keep.numpy()]
        if len(t) == 0:
            raise EventsError(f"{where}: every event is a self-loop")

    t0 = float(t.min()) if start is None else _start_seconds(start)
    if t0 > float(t.min()):
        raise EventsError(
            f"start={start!r} is after the first event ({_iso(float(t.min()))}); events before "
            "the start would be lost: give an earlier start or drop those events first")
    span = float(t.max()) - t0
    if window is not None:
        win = parse_window(window)
        T = int(math.floor(span / win)) + 1
        if T < min_snapshots:
            raise EventsError(
                f"window {window!r} ({_fmt_seconds(win)}) over a span of {_fmt_seconds(span)} "
                f"gives {T} snapshot(s); need at least {min_snapshots}: use a smaller window or "
                "num_snapshots=")
    else:
        if isinstance(num_snapshots, bool) or int(num_snapshots) != num_snapshots:
            raise EventsError(f"num_snapshots must be an integer, got {num_snapshots!r}")
        if num_snapshots < min_snapshots:
            raise EventsError(
                f"num_snapshots={num_snapshots}: need at least {min_snapshots} snapshots")
        if span <= 0:
            raise EventsError(f"{where}: every event has the same time; there is nothing to "
                              "split into snapshots")
    if duplicates == "error":
        _refuse_repeats(s_idx, d_idx, t, t0, window, num_snapshots, span, directed, node_ids)
    # an event at exactly t0 + T·window belongs to the last window when num_snapshots is given
    graph = _bin(s_idx, d_idx, t, len(node_ids), t0, window, num_snapshots, w, directed,
                 self_loops, name or _stem(source))
    x = None
    if feats is not None:
        x = torch.tensor(np.stack([feats[i] for i in node_ids]), dtype=torch.float32)
    graph = TemporalGraph._trusted(
        [graph.edges(k) for k in range(len(graph))], graph.num_nodes, directed=graph.directed,
        edge_weights=graph.edge_weights, x=x, node_mask=None, y=None, name=graph.name,
        time=graph.time, node_ids=node_ids)
    empty = sum(1 for k in range(len(graph)) if graph.num_edges(k) == 0)
    merged = len(t) - sum(graph.num_edges())
    parts = [f"{n_ev} events", f"{len(node_ids)} nodes",
             f"{len(graph)} snapshots" + (f" of {_fmt_seconds(parse_window(window))}"
                                          if window is not None else "")]
    if empty:
        parts.append(f"{empty} empty window(s) kept as empty snapshots")
    if n_loops:
        done = "removed" if self_loops == "remove" else "kept"
        parts.append(f"{n_loops} self-loop event(s) {done}")
    if merged:
        parts.append(f"{merged} repeated pair-window event(s) merged into edge weights")
    log.info("%s: %s", where, ", ".join(parts))
    return graph


def _stem(source: Any) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        n = Path(source).name
        for suf in (".gz", ".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq"):
            if n.endswith(suf):
                n = n[: -len(suf)]
        return n
    return None


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g}"


def _start_seconds(start: Any) -> float:
    if isinstance(start, (int, float, np.integer, np.floating)) and not isinstance(start, bool):
        return float(start)
    s = _datetime_seconds(start)
    if s is None or not math.isfinite(s):
        raise EventsError(f"start: cannot read {start!r} as a number or ISO 8601 datetime")
    return s


def _window_index(t: np.ndarray, t0: float, window: Any, num_snapshots: int | None,
                  span: float) -> np.ndarray:
    if window is not None:
        return np.floor((t - t0) / parse_window(window)).astype(np.int64)
    width = span / num_snapshots
    return np.minimum(np.floor((t - t0) / width), num_snapshots - 1).astype(np.int64)


def _refuse_repeats(s, d, t, t0, window, num_snapshots, span, directed, node_ids) -> None:
    k = torch.from_numpy(_window_index(t, t0, window, num_snapshots, span))
    a, b = (s, d) if directed else (torch.minimum(s, d), torch.maximum(s, d))
    n = len(node_ids)
    key = (k * n + a) * n + b
    uniq, counts = torch.unique(key, return_counts=True)
    if (counts > 1).any():
        kk = int(uniq[counts > 1][0])
        snap, rest = divmod(kk, n * n)
        u, v = divmod(rest, n)
        raise EventsError(
            f"{int((counts > 1).sum())} pair(s) have more than one event in a window, e.g. "
            f"{node_ids[u]!r} -> {node_ids[v]!r} in snapshot {snap}; pass duplicates='merge' to "
            "count them as the edge weight")


def _bin(s, d, t, n, t0, window, num_snapshots, w, directed, self_loops, name) -> TemporalGraph:
    from dyngraphvae.data.interop import bin_events

    return bin_events(
        s, d, torch.from_numpy(t), n,
        window=None if window is None else parse_window(window),
        num_snapshots=num_snapshots, start=t0, weight=None if w is None else torch.from_numpy(w),
        directed=directed, self_loops="keep" if self_loops == "keep" else "error", name=name)

"""Conversions between :class:`TemporalGraph` and other temporal-graph representations.

Supported representations
-------------------------
* a list of PyG :class:`~torch_geometric.data.Data` snapshots
  (:func:`from_data_list` / :func:`to_data_list`);
* PyTorch Geometric Temporal *signal* iterators — ``StaticGraphTemporalSignal``,
  ``DynamicGraphTemporalSignal`` and ``DynamicGraphStaticSignal`` — read by duck
  typing, so ``torch_geometric_temporal`` is never imported (:func:`from_pygt_signal`);
* a PyG :class:`~torch_geometric.data.TemporalData` event stream, binned into
  snapshots (:func:`from_temporal_data`, built on :func:`bin_events`);
* a list of networkx graphs (:func:`from_networkx` / :func:`to_networkx`);
* a PyG Temporal lag-window signal (``x`` the last ``L`` values, ``y`` the next) as the
  series behind it (:func:`series_graph`, :func:`is_lag_window_signal`).

Every converter validates through the :class:`TemporalGraph` constructor, so bad
input raises :class:`TemporalGraphError` naming the snapshot and field. Keyword
arguments ``duplicates=`` and ``self_loops=`` are forwarded to the container:
nothing is merged or dropped unless the caller asks for it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dyngraphvae.data.temporal_graph import TemporalGraph, TemporalGraphError

__all__ = [
    "bin_events",
    "from_data_list",
    "from_networkx",
    "from_pygt_signal",
    "from_temporal_data",
    "is_lag_window_signal",
    "is_symmetric",
    "series_graph",
    "to_data_list",
    "to_networkx",
]


# --------------------------------------------------------------------------- helpers
def _long(value: Any, where: str) -> Tensor:
    if isinstance(value, Tensor):
        t = value
    else:
        try:
            t = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TemporalGraphError(f"{where}: cannot convert to a tensor ({err})") from err
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TemporalGraphError(f"{where}: expected integer node ids, got dtype {t.dtype}")
    return t.long()


def _float(value: Any, where: str) -> Tensor:
    if isinstance(value, Tensor):
        t = value
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TemporalGraphError(f"{where}: cannot convert to a float tensor ({err})") from err
    return t.float()


def is_symmetric(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None) -> bool:
    """Whether a ``(2, E)`` edge list lists every edge in both directions (with equal weights).

    Self-loops count as their own reverse. Used to infer ``directed`` from PyG-style
    edge lists, where an undirected graph stores both ``(u, v)`` and ``(v, u)``.
    """
    if edge_index.numel() == 0:
        return True
    key = edge_index[0] * num_nodes + edge_index[1]
    rkey = edge_index[1] * num_nodes + edge_index[0]
    k_sorted, k_perm = torch.sort(key, stable=True)
    r_sorted, r_perm = torch.sort(rkey, stable=True)
    if not torch.equal(k_sorted, r_sorted):
        return False
    if edge_weight is None:
        return True
    return bool(torch.equal(edge_weight[k_perm], edge_weight[r_perm]))


def _infer_directed(
    edges: Sequence[Tensor], weights: Sequence[Tensor] | None, num_nodes: int
) -> bool:
    for t, ei in enumerate(edges):
        w = None if weights is None else weights[t]
        if not is_symmetric(ei, num_nodes, w):
            return True
    return False


def _max_id(edges: Iterable[Tensor]) -> int:
    m = -1
    for ei in edges:
        if ei.numel():
            m = max(m, int(ei.max()))
    return m


def _data_weight(data: Any, t: int) -> Tensor | None:
    """Edge weights of a PyG ``Data``: ``edge_weight``, else a 1-column ``edge_attr``."""
    w = getattr(data, "edge_weight", None)
    if w is None:
        attr = getattr(data, "edge_attr", None)
        if attr is None:
            return None
        attr = _float(attr, f"snapshot {t}, edge_attr")
        if attr.dim() == 2 and attr.size(1) == 1:
            attr = attr[:, 0]
        if attr.dim() != 1:
            raise TemporalGraphError(
                f"snapshot {t}, edge_attr: only scalar edge weights are supported, got shape "
                f"{tuple(attr.shape)}"
            )
        return attr
    return _float(w, f"snapshot {t}, edge_weight")


def _all_or_none(values: list, field: str) -> bool:
    present = [v is not None for v in values]
    if any(present) and not all(present):
        missing = present.index(False)
        raise TemporalGraphError(
            f"snapshot {missing}, {field}: missing while other snapshots have it "
            "(all snapshots must have it or none)"
        )
    return all(present) and len(values) > 0


# --------------------------------------------------------------------------- PyG Data lists
def from_data_list(
    data_list: Sequence[Any],
    num_nodes: int | None = None,
    *,
    directed: bool | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> TemporalGraph:
    """Build a :class:`TemporalGraph` from one PyG ``Data`` per snapshot.

    Args:
        data_list: snapshots with ``edge_index`` and optionally ``edge_weight`` (or a
            scalar ``edge_attr``), ``x`` ``(N, F)``, ``y``, ``node_mask`` ``(N,)`` and
            ``time`` (scalar). A field must be present in every snapshot or in none.
        num_nodes: ``N``; default: the snapshots' common ``num_nodes``. Snapshots may
            have fewer nodes than ``N`` only if they carry no per-node tensors.
        directed: ``None`` infers it: undirected iff every snapshot lists each edge in
            both directions with equal weights (PyG's convention). Undirected input
            given in one direction only is accepted with ``directed=False``.
        name: dataset name.
        **kwargs: forwarded to :class:`TemporalGraph` (``duplicates``, ``self_loops``,
            ``min_snapshots``).
    """
    data_list = list(data_list)
    if not data_list:
        raise TemporalGraphError("need at least 1 snapshots, got 0")
    counts = []
    for t, d in enumerate(data_list):
        if getattr(d, "edge_index", None) is None:
            raise TemporalGraphError(f"snapshot {t}, edge_index: missing")
        counts.append(d.num_nodes)
    edges = [_long(d.edge_index, f"snapshot {t}, edge_index") for t, d in enumerate(data_list)]
    if num_nodes is None:
        if any(c is None for c in counts):
            num_nodes = _max_id(edges) + 1
        else:
            num_nodes = int(counts[0])
            if any(c != num_nodes for c in counts):
                t = next(i for i, c in enumerate(counts) if c != num_nodes)
                raise TemporalGraphError(
                    f"snapshot {t}, num_nodes: {counts[t]} differs from {num_nodes}; pass "
                    "num_nodes= explicitly for a fixed node universe"
                )
    weights = [_data_weight(d, t) for t, d in enumerate(data_list)]
    weights = weights if _all_or_none(weights, "edge_weight") else None
    xs = [getattr(d, "x", None) for d in data_list]
    x = xs if _all_or_none(xs, "x") else None
    ys = [getattr(d, "y", None) for d in data_list]
    y = torch.stack([_float(v, f"snapshot {t}, y") for t, v in enumerate(ys)]) if _all_or_none(
        ys, "y"
    ) else None
    masks = [getattr(d, "node_mask", None) for d in data_list]
    mask = torch.stack([torch.as_tensor(m) for m in masks]) if _all_or_none(
        masks, "node_mask"
    ) else None
    times = [getattr(d, "time", None) for d in data_list]
    time = torch.as_tensor([int(v) for v in times]) if _all_or_none(times, "time") else None
    if directed is None:
        directed = _infer_directed(edges, weights, num_nodes)
    return TemporalGraph(
        edges,
        num_nodes,
        directed=directed,
        edge_weights=weights,
        x=x,
        node_mask=mask,
        y=y,
        time=time,
        name=name,
        **kwargs,
    )


def to_data_list(graph: TemporalGraph) -> list:
    """One PyG ``Data`` per snapshot (``graph[t]``), plus ``time`` when the graph has it.

    Undirected edges appear in both directions (PyG's convention), so
    ``from_data_list(to_data_list(g)) == g`` (graphs without kept self-loops).
    """
    out = []
    for t in range(len(graph)):
        d = graph[t]
        if graph.time is not None:
            d.time = graph.time[t]
        out.append(d)
    return out


# --------------------------------------------------------------------------- PyG Temporal
def from_pygt_signal(
    signal: Any,
    num_nodes: int | None = None,
    *,
    directed: bool | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> TemporalGraph:
    """Convert a PyTorch Geometric Temporal signal object, without importing that package.

    Recognised by attributes (duck typing):

    * ``StaticGraphTemporalSignal``: ``edge_index``, ``edge_weight``, ``features``, ``targets``
      — the static graph is repeated at every step;
    * ``DynamicGraphTemporalSignal``: ``edge_indices``, ``edge_weights``, ``features``,
      ``targets``;
    * ``DynamicGraphStaticSignal``: ``edge_indices``, ``edge_weights``, ``feature`` (one
      matrix, stored as static features), ``targets``.

    Batched variants (with ``batches``) hold several graphs per step and are rejected.
    Features ``(N, F)`` per step become ``x`` ``(T, N, F)``; targets become ``y``.
    ``directed=None`` infers the direction as in :func:`from_data_list`. Self-loops
    (common in these data sets) raise unless ``self_loops="keep"`` or ``"remove"``.
    """
    if getattr(signal, "batches", None) is not None:
        raise TemporalGraphError(
            "batched PyG Temporal signals (with 'batches') hold several graphs per step; "
            "convert the unbatched signal instead"
        )
    targets = getattr(signal, "targets", None)
    features = getattr(signal, "features", None)
    feature = getattr(signal, "feature", None)
    if hasattr(signal, "edge_indices"):
        ei_list = list(signal.edge_indices)
        T = len(ei_list)
        w_list = getattr(signal, "edge_weights", None)
        w_list = [None] * T if w_list is None else list(w_list)
        if len(w_list) != T:
            raise TemporalGraphError(
                f"edge_weights: expected {T} entries (one per snapshot), got {len(w_list)}"
            )
    elif hasattr(signal, "edge_index"):
        if features is None and targets is None:
            raise TemporalGraphError(
                "static-graph signal without features or targets has no time dimension"
            )
        T = len(features if features is not None else targets)
        ei_list = [signal.edge_index] * T
        w_list = [getattr(signal, "edge_weight", None)] * T
    else:
        raise TemporalGraphError(
            f"{type(signal).__name__}: not a PyG Temporal signal (no edge_index/edge_indices)"
        )
    edges = []
    for t, ei in enumerate(ei_list):
        if ei is None:
            raise TemporalGraphError(f"snapshot {t}, edge_index: missing (None)")
        edges.append(_long(ei, f"snapshot {t}, edge_index"))
    weights = None
    if _all_or_none(w_list, "edge_weight"):
        weights = [_float(w, f"snapshot {t}, edge_weight") for t, w in enumerate(w_list)]
    x: Any = None
    if features is not None:
        features = list(features)
        if len(features) != T:
            raise TemporalGraphError(
                f"features: expected {T} entries (one per snapshot), got {len(features)}"
            )
        if _all_or_none(features, "x"):
            x = [_float(f, f"snapshot {t}, x") for t, f in enumerate(features)]
    elif feature is not None:
        x = _float(feature, "x")
    y = None
    if targets is not None:
        targets = list(targets)
        if len(targets) != T:
            raise TemporalGraphError(
                f"targets: expected {T} entries (one per snapshot), got {len(targets)}"
            )
        if _all_or_none(targets, "y"):
            y = torch.stack([_float(v, f"snapshot {t}, y") for t, v in enumerate(targets)])
    if num_nodes is None:
        if x is not None:
            num_nodes = int(x[0].shape[0]) if isinstance(x, list) else int(x.shape[0])
        elif y is not None:
            num_nodes = int(y.shape[1])
        else:
            num_nodes = _max_id(edges) + 1
    if directed is None:
        directed = _infer_directed(edges, weights, num_nodes)
    return TemporalGraph(
        edges, num_nodes, directed=directed, edge_weights=weights, x=x, y=y, name=name, **kwargs
    )


# --------------------------------------------------------------------------- event streams
def bin_events(
    src: Any,
    dst: Any,
    time: Any,
    num_nodes: int | None = None,
    *,
    window: float | None = None,
    num_snapshots: int | None = None,
    start: float | None = None,
    weight: Any = None,
    directed: bool = True,
    self_loops: str = "error",
    name: str | None = None,
) -> TemporalGraph:
    """Bin a timestamped event stream ``(src_i, dst_i, t_i)`` into snapshots.

    Snapshot of event i: ``s_i = floor((t_i - t0) / window)`` with ``t0 = start`` (default
    the first event time). Give either ``window`` (a window length in the unit of ``time``)
    or ``num_snapshots`` (then ``window = (t_max - t0) / num_snapshots`` and the last event
    falls in the last snapshot). Windows without events give empty snapshots, so the
    snapshots are evenly spaced in time. Repeated events of a pair within a window are
    merged, and the edge weight is the number of events (or the sum of ``weight`` per
    event). Undirected: the events ``u->v`` and ``v->u`` count for the same edge.
    ``graph.time`` holds each window's start, floored to an integer.

    This is the windowing used for ``uci_collegemsg`` and ``bitcoin_alpha`` in
    ``datasets/`` (``window`` = EvolveGCN's ``aggr_time``).
    """
    src = _long(src, "events src").reshape(-1)
    dst = _long(dst, "events dst").reshape(-1)
    tt = torch.as_tensor(np.asarray(time) if not isinstance(time, Tensor) else time)
    tt = tt.reshape(-1).double()
    if not (src.numel() == dst.numel() == tt.numel()):
        raise TemporalGraphError(
            f"events: src, dst and time must have equal length, got {src.numel()}, "
            f"{dst.numel()}, {tt.numel()}"
        )
    if src.numel() == 0:
        raise TemporalGraphError("events: empty event stream")
    if not torch.isfinite(tt).all():
        raise TemporalGraphError("events time: non-finite value (NaN/inf)")
    if (window is None) == (num_snapshots is None):
        raise TemporalGraphError("give exactly one of window= or num_snapshots=")
    t0 = float(tt.min()) if start is None else float(start)
    if float(tt.min()) < t0:
        raise TemporalGraphError(f"events time: event at {float(tt.min())} before start={t0}")
    t_max = float(tt.max())
    if num_snapshots is not None:
        if int(num_snapshots) != num_snapshots or num_snapshots < 1:
            raise TemporalGraphError(
                f"num_snapshots must be a positive integer, got {num_snapshots}"
            )
        num_snapshots = int(num_snapshots)
        span = t_max - t0
        window = span / num_snapshots if span > 0 else 1.0
        idx = torch.floor((tt - t0) / window).long().clamp_(max=num_snapshots - 1)
        T = num_snapshots
    else:
        if not window > 0 or not math.isfinite(window):
            raise TemporalGraphError(f"window must be a positive finite number, got {window}")
        idx = torch.floor((tt - t0) / window).long()
        T = int(idx.max()) + 1
    if weight is None:
        w = torch.ones(src.numel())
    else:
        w = _float(weight, "events weight").reshape(-1)
        if w.numel() != src.numel():
            raise TemporalGraphError(
                f"events weight: expected {src.numel()} values, got {w.numel()}"
            )
    if num_nodes is None:
        num_nodes = int(torch.maximum(src, dst).max()) + 1
    if not directed:
        src, dst = torch.minimum(src, dst), torch.maximum(src, dst)
    order = torch.argsort(idx, stable=True)
    src, dst, w, idx = src[order], dst[order], w[order], idx[order]
    ptr = torch.searchsorted(idx, torch.arange(T + 1))
    edges = [torch.stack([src[ptr[s]:ptr[s + 1]], dst[ptr[s]:ptr[s + 1]]]) for s in range(T)]
    weights = [w[ptr[s]:ptr[s + 1]] for s in range(T)]
    times = torch.floor(t0 + window * torch.arange(T, dtype=torch.float64)).long()
    return TemporalGraph(
        edges,
        num_nodes,
        directed=directed,
        edge_weights=weights,
        duplicates="merge",
        self_loops=self_loops,
        time=times,
        name=name,
    )


def from_temporal_data(
    events: Any,
    num_nodes: int | None = None,
    *,
    window: float | None = None,
    num_snapshots: int | None = None,
    start: float | None = None,
    weight: str | None = None,
    directed: bool = True,
    self_loops: str = "error",
    name: str | None = None,
) -> TemporalGraph:
    """Bin a PyG ``TemporalData`` event stream (``src``, ``dst``, ``t``) into snapshots.

    See :func:`bin_events` for the windowing. ``weight`` names a per-event scalar
    attribute (e.g. ``"msg"`` if it has one column) to sum into edge weights;
    ``None`` makes the weight the number of events of the pair in the window.
    ``num_nodes`` defaults to ``events.num_nodes``.
    """
    for attr in ("src", "dst", "t"):
        if getattr(events, attr, None) is None:
            raise TemporalGraphError(f"TemporalData: missing '{attr}'")
    w = None
    if weight is not None:
        w = getattr(events, weight, None)
        if w is None:
            raise TemporalGraphError(f"TemporalData: no per-event attribute {weight!r}")
        w = _float(w, f"events {weight}")
        if w.dim() == 2 and w.size(1) == 1:
            w = w[:, 0]
        if w.dim() != 1:
            raise TemporalGraphError(
                f"events {weight}: expected one scalar per event, got shape {tuple(w.shape)}"
            )
    if num_nodes is None:
        num_nodes = getattr(events, "num_nodes", None)
    return bin_events(
        events.src,
        events.dst,
        events.t,
        num_nodes,
        window=window,
        num_snapshots=num_snapshots,
        start=start,
        weight=w,
        directed=directed,
        self_loops=self_loops,
        name=name,
    )


# --------------------------------------------------------------------------- networkx
def _node_order(graphs: Sequence[Any]) -> list:
    seen: dict = {}
    for G in graphs:
        for v in G.nodes:
            seen.setdefault(v, None)
    nodes = list(seen)
    try:
        return sorted(nodes)
    except TypeError:
        return nodes  # unorderable labels: order of first appearance


def from_networkx(
    graphs: Sequence[Any],
    *,
    nodes: Sequence[Hashable] | None = None,
    weight: str | None = "weight",
    feature_key: str | None = "x",
    target_key: str | None = "y",
    node_mask: bool | None = None,
    name: str | None = None,
    return_nodes: bool = False,
    **kwargs: Any,
) -> TemporalGraph | tuple[TemporalGraph, list]:
    """Build a :class:`TemporalGraph` from one networkx graph per snapshot.

    Args:
        graphs: ``nx.Graph`` (undirected) or ``nx.DiGraph`` (directed) snapshots, all of
            the same kind. Multigraphs are rejected (merge parallel edges first).
        nodes: the node universe in index order; default all nodes of all snapshots,
            sorted (order of first appearance if labels cannot be sorted).
        weight: edge attribute holding the weight; used if every edge of every snapshot
            has it (``None``: no weights). Edges missing it while others have it raise.
        feature_key / target_key: node attributes read as ``x`` / ``y`` if every node
            of every snapshot has them.
        node_mask: ``True`` stores ``node_mask[t, v] = v in graphs[t]``; ``None`` does so
            only if the node sets differ between snapshots.
        return_nodes: also return the node list (index -> original label).
    """
    graphs = list(graphs)
    if not graphs:
        raise TemporalGraphError("need at least 1 snapshots, got 0")
    kinds = {G.is_directed() for G in graphs}
    if len(kinds) > 1:
        raise TemporalGraphError("snapshots mix directed and undirected networkx graphs")
    for t, G in enumerate(graphs):
        if G.is_multigraph():
            raise TemporalGraphError(
                f"snapshot {t}: networkx multigraphs are not supported; merge parallel edges"
            )
    directed = kinds.pop()
    order = list(nodes) if nodes is not None else _node_order(graphs)
    index = {v: i for i, v in enumerate(order)}
    if len(index) != len(order):
        raise TemporalGraphError("nodes: duplicate labels in the node list")
    N = len(order)
    has_w = weight is not None and any(
        weight in d for G in graphs for _, _, d in G.edges(data=True)
    )
    edges, weights = [], []
    for t, G in enumerate(graphs):
        missing = [v for v in G.nodes if v not in index]
        if missing:
            raise TemporalGraphError(f"snapshot {t}: node {missing[0]!r} is not in nodes")
        el = list(G.edges(data=True))
        ei = torch.tensor([[index[u], index[v]] for u, v, _ in el], dtype=torch.long)
        edges.append(ei.reshape(-1, 2).t())
        if has_w:
            if not all(weight in d for _, _, d in el):
                raise TemporalGraphError(
                    f"snapshot {t}, edge_weight: some edges lack attribute {weight!r} that "
                    "other edges have"
                )
            ws = [float(d[weight]) for _, _, d in el]
            weights.append(torch.tensor(ws, dtype=torch.float64).float())
    edge_weights = weights if has_w else None
    present = torch.zeros(len(graphs), N, dtype=torch.bool)
    for t, G in enumerate(graphs):
        ids = [index[v] for v in G.nodes]
        present[t, ids] = True

    def node_attr(key):
        if key is None:
            return None
        if not all(key in d for G in graphs for _, d in G.nodes(data=True)):
            return None
        if not bool(present.all()):
            raise TemporalGraphError(
                f"node attribute {key!r}: snapshots have different node sets; features need "
                "every node in every snapshot"
            )
        out = []
        for G in graphs:
            rows = [None] * N
            for v, d in G.nodes(data=True):
                rows[index[v]] = _float(d[key], f"node {v!r}, {key}").reshape(-1)
            out.append(torch.stack(rows))
        return torch.stack(out)

    x = node_attr(feature_key)
    y = node_attr(target_key)
    if y is not None and y.size(-1) == 1:
        y = y[..., 0]
    if node_mask is None:
        node_mask = not bool(present.all())
    g = TemporalGraph(
        edges,
        N,
        directed=directed,
        edge_weights=edge_weights,
        x=x,
        y=y,
        node_mask=present if node_mask else None,
        name=name,
        **kwargs,
    )
    return (g, order) if return_nodes else g


def to_networkx(graph: TemporalGraph, nodes: Sequence[Hashable] | None = None) -> list:
    """One ``nx.Graph`` (undirected) or ``nx.DiGraph`` (directed) per snapshot.

    Nodes are ``0..N-1`` (or the labels in ``nodes``); with a node mask only the
    present nodes are added. Edge weights go to the ``"weight"`` attribute, features to
    node attribute ``"x"`` and targets to ``"y"`` (lists of floats), so
    ``from_networkx(to_networkx(g)) == g``.
    """
    import networkx as nx

    labels = list(range(graph.num_nodes)) if nodes is None else list(nodes)
    if len(labels) != graph.num_nodes:
        raise TemporalGraphError(
            f"nodes: expected {graph.num_nodes} labels, got {len(labels)}"
        )
    out = []
    for t in range(len(graph)):
        G = nx.DiGraph() if graph.directed else nx.Graph()
        keep = (
            range(graph.num_nodes)
            if graph.node_mask is None
            else graph.node_mask[t].nonzero().flatten().tolist()
        )
        x = graph.features(t)
        y = None if graph.y is None else graph.y[t]
        for i in keep:
            attrs = {}
            if x is not None:
                attrs["x"] = x[i].tolist()
            if y is not None:
                attrs["y"] = y[i].reshape(-1).tolist()
            G.add_node(labels[i], **attrs)
        ei = graph.edges(t).tolist()
        w = graph.weights(t)
        if w is None:
            G.add_edges_from((labels[u], labels[v]) for u, v in zip(*ei, strict=True))
        else:
            G.add_edges_from(
                (labels[u], labels[v], {"weight": wv})
                for u, v, wv in zip(*ei, w.tolist(), strict=True)
            )
        out.append(G)
    return out


def is_lag_window_signal(graph: TemporalGraph) -> bool:
    """Whether ``graph`` is a PyG Temporal lag-window signal: per-step features ``x (T, N, L)``,
    targets ``y (T, N)`` and ``x[i+1, :, -1] == y[i]`` (each window ends with the previous
    target), as ``load_dataset`` gives for the PyG Temporal datasets."""
    x, y = graph.x, graph.y
    return (x is not None and y is not None and x.dim() == 3 and y.dim() == 2
            and x.shape[:2] == y.shape and len(graph) > 1
            and bool(torch.allclose(x[1:, :, -1], y[:-1])))


def series_graph(signal: TemporalGraph) -> TemporalGraph:
    r"""The univariate series behind a lag-window signal, as a graph with feature ``F = 1``.

    PyG Temporal lag windows hold ``x[i, v] = (s_i, …, s_{i+L-1})`` and ``y[i, v] = s_{i+L}``; the
    series ``s_0..s_{T+L-1}`` (``T = len(signal)``) is ``x[0]`` followed by ``y``. Snapshot ``j``
    of the returned graph has node feature ``s_j`` and the signal's snapshot-``max(j − L, 0)``
    edges (static graphs: the same at every step). Forecasting the target ``y[i] = s_{i+L}`` is then
    the one-step forecast of snapshot ``i + L`` from origin ``i + L`` (history ``s_0..s_{i+L-1}``,
    which contains the lag window ``x[i]``).
    """
    if signal.y is None or signal.x is None or signal.x.dim() != 3:
        raise ValueError("series_graph: needs lag-window features x (T, N, L) and targets y")
    x, y = signal.x, signal.y
    if y.dim() != 2:
        raise ValueError(f"series_graph: targets must be (T, N), got {tuple(y.shape)}")
    L = x.size(-1)
    if not torch.allclose(x[1:, :, -1], y[:-1]):
        raise ValueError("series_graph: x[i+1, :, -1] != y[i]; not a lag-window signal")
    s = torch.cat([x[0].transpose(0, 1), y], dim=0)  # (T + L, N)
    edges = [signal.edges(max(j - L, 0)) for j in range(s.size(0))]
    weights = None
    if signal.weights(0) is not None:
        weights = [signal.weights(max(j - L, 0)) for j in range(s.size(0))]
    return TemporalGraph(edges, signal.num_nodes, directed=signal.directed, edge_weights=weights,
                         x=s.unsqueeze(-1), self_loops="keep",
                         name=f"series({signal.name})" if signal.name else "series")

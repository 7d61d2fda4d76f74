"""The temporal graph container: T snapshots over a fixed universe of N nodes.

Conventions
-----------
* Node ids are ``0..N-1`` and mean the same node in every snapshot.
* Undirected snapshots are stored *once per edge* as ``(u, v)`` with ``u < v``
  (the npz layout of ``datasets/``); ``g[t]`` returns a PyG ``Data`` whose
  ``edge_index`` holds both directions, ready for message passing.
* Directed snapshots are stored as observed, sorted by ``(src, dst)``.
* Node features are absent, static ``(N, F)`` or per step ``(T, N, F)``.
* Optional per-step node masks ``(T, N)`` say which nodes exist at step t.
* Optional node targets ``y`` of shape ``(T, N)`` or ``(T, N, D)`` (lag-window
  forecasting data such as PyG Temporal's signals).

Nothing is changed silently: duplicate edges and self-loops raise unless the
caller names how to handle them (``duplicates=``, ``self_loops=``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import torch
from torch import Tensor

DuplicatePolicy = Literal["error", "merge"]
SelfLoopPolicy = Literal["error", "remove", "keep"]


class TemporalGraphError(ValueError):
    """Invalid temporal graph input; the message names the snapshot and field."""


def _where(t: int | None, field: str) -> str:
    return f"{field}" if t is None else f"snapshot {t}, {field}"


def _as_tensor(value, dtype: torch.dtype, t: int | None, field: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TemporalGraphError(f"{_where(t, field)}: cannot convert to a tensor ({err})") from err


def _check_finite(x: Tensor, t: int | None, field: str) -> None:
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise TemporalGraphError(f"{_where(t, field)}: non-finite value (NaN/inf) at index {bad}")


def _check_node_ids(node_ids, num_nodes: int) -> list | None:
    if node_ids is None:
        return None
    ids = [v.item() if hasattr(v, "item") else v for v in node_ids]
    if len(ids) != num_nodes:
        raise TemporalGraphError(f"node_ids: expected {num_nodes} ids, got {len(ids)}")
    bad = next((i for i, v in enumerate(ids)
                if isinstance(v, bool) or not isinstance(v, (int, str))), None)
    if bad is not None:
        raise TemporalGraphError(
            f"node_ids: node {bad} has id {ids[bad]!r} of type {type(ids[bad]).__name__}; "
            "ids must be ints or strings")
    if len(set(ids)) != len(ids):
        seen: set = set()
        dup = next(v for v in ids if v in seen or seen.add(v))
        raise TemporalGraphError(f"node_ids: id {dup!r} is given to more than one node")
    return ids


class TemporalGraph:
    """A discrete-time dynamic graph ``G_1..G_T`` on ``N`` fixed nodes.

    Args:
        edge_indices: one ``(2, E_t)`` integer tensor (or array) per snapshot.
        num_nodes: ``N``.
        directed: whether edges are directed. Undirected input may list an
            edge in one direction or in both (PyG's convention); both
            directions of one edge are the same edge, and their weights
            must agree.
        edge_weights: optional ``(E_t,)`` float tensor per snapshot, aligned
            with ``edge_indices``.
        x: optional node features, ``(N, F)`` (static) or ``(T, N, F)`` or a
            list of ``T`` tensors ``(N, F)``.
        node_mask: optional ``(T, N)`` bool; ``True`` where node v exists at t.
        y: optional node targets ``(T, N)`` or ``(T, N, D)``.
        duplicates: ``"error"`` (default) raises on a repeated edge;
            ``"merge"`` keeps one copy and sums weights (a missing weight counts 1).
        self_loops: ``"error"`` (default) raises; ``"remove"`` drops them;
            ``"keep"`` keeps them (the Bernoulli edge likelihood still
            ignores the diagonal).
        min_snapshots: raise if there are fewer snapshots than this.
        name: optional dataset name shown in ``repr``.
        time: optional ``(T,)`` tensor of snapshot start times (metadata).
        node_ids: optional original id of each node (``N`` distinct ints or strings, e.g.
            from :func:`~dyngraphvae.data.events.load_events`); forecasts name nodes by them.
    """

    def __init__(
        self,
        edge_indices: Sequence[Tensor],
        num_nodes: int,
        *,
        directed: bool = False,
        edge_weights: Sequence[Tensor] | None = None,
        x: Tensor | Sequence[Tensor] | None = None,
        node_mask: Tensor | None = None,
        y: Tensor | None = None,
        duplicates: DuplicatePolicy = "error",
        self_loops: SelfLoopPolicy = "error",
        min_snapshots: int = 1,
        name: str | None = None,
        time: Tensor | None = None,
        node_ids: Sequence | None = None,
    ) -> None:
        if duplicates not in ("error", "merge"):
            raise TemporalGraphError(f"duplicates must be 'error' or 'merge', got {duplicates!r}")
        if self_loops not in ("error", "remove", "keep"):
            raise TemporalGraphError(
                f"self_loops must be 'error', 'remove' or 'keep', got {self_loops!r}"
            )
        if isinstance(num_nodes, bool) or int(num_nodes) != num_nodes or num_nodes <= 0:
            raise TemporalGraphError(f"num_nodes must be a positive integer, got {num_nodes!r}")
        self.num_nodes = int(num_nodes)
        self.directed = bool(directed)
        self.name = name
        edge_indices = list(edge_indices)
        T = len(edge_indices)
        if T < max(1, min_snapshots):
            raise TemporalGraphError(
                f"need at least {max(1, min_snapshots)} snapshots, got {T}"
            )
        if edge_weights is not None:
            edge_weights = list(edge_weights)
            if len(edge_weights) != T:
                raise TemporalGraphError(
                    f"edge_weights: expected one tensor per snapshot ({T}), got {len(edge_weights)}"
                )
        self._edges: list[Tensor] = []
        self._weights: list[Tensor] | None = [] if edge_weights is not None else None
        for t in range(T):
            w = None if edge_weights is None else edge_weights[t]
            ei, w = self._clean_snapshot(t, edge_indices[t], w, duplicates, self_loops)
            self._edges.append(ei)
            if self._weights is not None:
                self._weights.append(w)
        self._x = self._check_features(x, T)
        self._node_mask = self._check_mask(node_mask, T)
        self._y = self._check_targets(y, T)
        self.time = None if time is None else _as_tensor(time, torch.long, None, "time")
        if self.time is not None and self.time.shape != (T,):
            raise TemporalGraphError(f"time: expected shape ({T},), got {tuple(self.time.shape)}")
        self.node_ids = _check_node_ids(node_ids, self.num_nodes)

    # ------------------------------------------------------------------ validation
    def _clean_snapshot(self, t, ei, w, duplicates, self_loops):
        ei = _as_tensor(ei, torch.long, t, "edge_index")
        if ei.is_floating_point() or ei.dtype == torch.bool or ei.is_complex():
            raise TemporalGraphError(
                f"snapshot {t}, edge_index: expected an integer tensor, got dtype {ei.dtype}"
            )
        if ei.numel() == 0:
            ei = ei.reshape(2, 0)
        if ei.dim() != 2 or ei.size(0) != 2:
            raise TemporalGraphError(
                f"snapshot {t}, edge_index: expected shape (2, E), got {tuple(ei.shape)}"
            )
        ei = ei.long()
        if ei.numel():
            lo, hi = int(ei.min()), int(ei.max())
            if lo < 0:
                col = int((ei < 0).any(0).nonzero()[0])
                raise TemporalGraphError(
                    f"snapshot {t}, edge_index: negative node id {lo} (edge {col}: "
                    f"{ei[:, col].tolist()})"
                )
            if hi >= self.num_nodes:
                col = int((ei >= self.num_nodes).any(0).nonzero()[0])
                raise TemporalGraphError(
                    f"snapshot {t}, edge_index: node id {hi} out of range for num_nodes="
                    f"{self.num_nodes} (edge {col}: {ei[:, col].tolist()})"
                )
        if w is not None:
            w = _as_tensor(w, torch.float, t, "edge_weight")
            if w.dim() != 1 or w.numel() != ei.size(1):
                raise TemporalGraphError(
                    f"snapshot {t}, edge_weight: expected shape ({ei.size(1)},), got "
                    f"{tuple(w.shape)}"
                )
            w = w.float()
            _check_finite(w, t, "edge_weight")
        loops = ei[0] == ei[1]
        if loops.any():
            if self_loops == "error":
                v = int(ei[0, loops][0])
                raise TemporalGraphError(
                    f"snapshot {t}, edge_index: {int(loops.sum())} self-loop(s), first at node "
                    f"{v}; pass self_loops='remove' or 'keep'"
                )
            if self_loops == "remove":
                ei, w = ei[:, ~loops], (None if w is None else w[~loops])
        n = self.num_nodes
        key = ei[0] * n + ei[1]
        uniq, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
        if (counts > 1).any():
            if duplicates == "error":
                k = int(uniq[counts > 1][0])
                raise TemporalGraphError(
                    f"snapshot {t}, edge_index: {int((counts > 1).sum())} duplicate edge(s), first "
                    f"({k // n}, {k % n}) appears {int(counts[counts > 1][0])} times; "
                    "pass duplicates='merge' to sum their weights"
                )
            wsum = torch.zeros(uniq.numel()).index_add_(
                0, inverse, w if w is not None else torch.ones(key.numel())
            )
            ei = torch.stack([uniq // n, uniq % n])
            w = wsum if w is not None else None
        else:
            order = torch.argsort(key)
            ei = ei[:, order]
            w = None if w is None else w[order]
        if not self.directed:
            ei, w = self._canonical_undirected(t, ei, w)
        return ei.contiguous(), w

    def _canonical_undirected(self, t, ei, w):
        n = self.num_nodes
        lo, hi = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
        key = lo * n + hi
        uniq, inverse = torch.unique(key, return_inverse=True)
        if uniq.numel() != key.numel() and w is not None:
            # both directions given: their weights must agree
            first = torch.full((uniq.numel(),), float("nan")).scatter_reduce(
                0, inverse, w, reduce="amax", include_self=False
            )
            least = torch.full((uniq.numel(),), float("nan")).scatter_reduce(
                0, inverse, w, reduce="amin", include_self=False
            )
            bad = (first != least).nonzero()
            if bad.numel():
                k = int(uniq[bad[0, 0]])
                raise TemporalGraphError(
                    f"snapshot {t}, edge_weight: undirected edge ({k // n}, {k % n}) has different "
                    f"weights in its two directions ({float(least[bad[0, 0]])} vs "
                    f"{float(first[bad[0, 0]])})"
                )
            w = first
        elif w is not None:
            w = torch.zeros(uniq.numel()).scatter(0, inverse, w)
        return torch.stack([uniq // n, uniq % n]), w

    def _check_features(self, x, T):
        if x is None:
            return None
        if isinstance(x, (list, tuple)):
            if len(x) != T:
                raise TemporalGraphError(f"x: expected {T} per-step feature tensors, got {len(x)}")
            xs = [_as_tensor(xi, torch.float, t, "x") for t, xi in enumerate(x)]
            for t, xi in enumerate(xs):
                if xi.dim() != 2 or xi.size(0) != self.num_nodes:
                    raise TemporalGraphError(
                        f"snapshot {t}, x: expected shape ({self.num_nodes}, F), got "
                        f"{tuple(xi.shape)}"
                    )
                if xi.size(1) != xs[0].size(1):
                    raise TemporalGraphError(
                        f"snapshot {t}, x: feature width {xi.size(1)} differs from snapshot 0's "
                        f"width {xs[0].size(1)}"
                    )
            x = torch.stack(xs)
        x = _as_tensor(x, torch.float, None, "x")
        if not x.is_floating_point():
            x = x.float()
        if x.dim() == 2:
            if x.size(0) != self.num_nodes:
                raise TemporalGraphError(
                    f"x: static features must have shape ({self.num_nodes}, F), got "
                    f"{tuple(x.shape)}"
                )
        elif x.dim() == 3:
            if x.size(0) != T or x.size(1) != self.num_nodes:
                raise TemporalGraphError(
                    f"x: per-step features must have shape ({T}, {self.num_nodes}, F), got "
                    f"{tuple(x.shape)}"
                )
            for t in range(T):
                _check_finite(x[t], t, "x")
        else:
            raise TemporalGraphError(f"x: expected 2 or 3 dimensions, got shape {tuple(x.shape)}")
        _check_finite(x, None, "x")
        return x.float()

    def _check_mask(self, mask, T):
        if mask is None:
            return None
        mask = _as_tensor(mask, torch.bool, None, "node_mask")
        if mask.dtype != torch.bool:
            raise TemporalGraphError(f"node_mask: expected a bool tensor, got dtype {mask.dtype}")
        if mask.shape != (T, self.num_nodes):
            raise TemporalGraphError(
                f"node_mask: expected shape ({T}, {self.num_nodes}), got {tuple(mask.shape)}"
            )
        for t in range(T):
            ei = self._edges[t]
            if ei.numel():
                absent = ~mask[t][ei].all(0)
                if absent.any():
                    col = int(absent.nonzero()[0])
                    raise TemporalGraphError(
                        f"snapshot {t}, node_mask: edge {ei[:, col].tolist()} touches a node that "
                        "the mask marks absent"
                    )
        return mask

    def _check_targets(self, y, T):
        if y is None:
            return None
        y = _as_tensor(y, torch.float, None, "y").float()
        if y.dim() not in (2, 3) or y.size(0) != T or y.size(1) != self.num_nodes:
            raise TemporalGraphError(
                f"y: expected shape ({T}, {self.num_nodes}) or ({T}, {self.num_nodes}, D), got "
                f"{tuple(y.shape)}"
            )
        for t in range(T):
            _check_finite(y[t], t, "y")
        return y

    # ------------------------------------------------------------------ access
    @property
    def num_snapshots(self) -> int:
        return len(self._edges)

    def __len__(self) -> int:
        return len(self._edges)

    @property
    def num_features(self) -> int:
        """Feature width F (0 for a featureless graph)."""
        return 0 if self._x is None else int(self._x.size(-1))

    @property
    def has_features(self) -> bool:
        return self._x is not None

    @property
    def static_features(self) -> bool:
        return self._x is not None and self._x.dim() == 2

    @property
    def x(self) -> Tensor | None:
        """Node features as stored: ``None``, ``(N, F)`` or ``(T, N, F)``."""
        return self._x

    @property
    def y(self) -> Tensor | None:
        return self._y

    @property
    def node_mask(self) -> Tensor | None:
        return self._node_mask

    @property
    def edge_weights(self) -> list[Tensor] | None:
        return None if self._weights is None else list(self._weights)

    @property
    def device(self) -> torch.device:
        return self._edges[0].device

    def num_edges(self, t: int | None = None) -> int | list[int]:
        """Edges stored at step ``t`` (undirected: counted once), or the list over all steps."""
        if t is None:
            return [int(e.size(1)) for e in self._edges]
        return int(self._edges[t].size(1))

    def _step(self, t: int) -> int:
        T = len(self._edges)
        if isinstance(t, bool) or not -T <= int(t) < T:
            raise IndexError(f"snapshot {t} out of range: this graph has {T} snapshots "
                             f"(0..{T - 1})")
        return int(t)

    def edges(self, t: int, both_directions: bool = False) -> Tensor:
        """``(2, E_t)`` edge index of snapshot ``t`` as stored (undirected: ``u < v`` once)."""
        ei = self._edges[self._step(t)]
        if both_directions and not self.directed:
            # a kept self-loop is its own mirror: list it once
            off = ei[0] != ei[1]
            ei = torch.cat([ei, ei[:, off].flip(0)], dim=1)
        return ei

    def weights(self, t: int, both_directions: bool = False) -> Tensor | None:
        if self._weights is None:
            return None
        t = self._step(t)
        w = self._weights[t]
        if both_directions and not self.directed:
            ei = self._edges[t]
            w = torch.cat([w, w[ei[0] != ei[1]]])
        return w

    def features(self, t: int) -> Tensor | None:
        """``(N, F)`` features at step ``t`` (static features are shared), or ``None``."""
        if self._x is None:
            return None
        return self._x if self._x.dim() == 2 else self._x[t]

    def dense_adjacency(self, t: int, weighted: bool = False) -> Tensor:
        """``(N, N)`` adjacency of snapshot ``t`` (symmetric when undirected)."""
        n = self.num_nodes
        a = torch.zeros(n, n, device=self.device)
        ei = self.edges(t, both_directions=True)
        vals = self.weights(t, both_directions=True) if weighted else None
        a[ei[0], ei[1]] = 1.0 if vals is None else vals
        return a

    def adjacency_stack(self, weighted: bool = False) -> Tensor:
        """``(T, N, N)`` dense adjacencies (for small graphs and tests)."""
        return torch.stack([self.dense_adjacency(t, weighted) for t in range(len(self))])

    def require_snapshots(self, n: int, use: str) -> None:
        """Raise a clear error if fewer than ``n`` snapshots are available for ``use``."""
        if len(self) < n:
            raise TemporalGraphError(
                f"{use} needs at least {n} snapshots, but this graph has {len(self)}"
            )

    def snapshot(self, t: int):
        """Snapshot ``t`` as a PyG ``Data`` (undirected edges in both directions)."""
        from torch_geometric.data import Data

        T = len(self)
        if not -T <= t < T:
            raise IndexError(f"snapshot index {t} out of range for {T} snapshots")
        t = t % T
        data = Data(edge_index=self.edges(t, both_directions=True), num_nodes=self.num_nodes)
        w = self.weights(t, both_directions=True)
        if w is not None:
            data.edge_weight = w
        if self._x is not None:
            data.x = self.features(t)
        if self._node_mask is not None:
            data.node_mask = self._node_mask[t]
        if self._y is not None:
            data.y = self._y[t]
        data.t = t
        return data

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.select(range(len(self))[idx])
        if isinstance(idx, (int,)) or (isinstance(idx, Tensor) and idx.dim() == 0):
            return self.snapshot(int(idx))
        raise TypeError(f"TemporalGraph indices must be int or slice, got {type(idx).__name__}")

    def __iter__(self) -> Iterator:
        for t in range(len(self)):
            yield self.snapshot(t)

    def select(self, steps: Sequence[int]) -> TemporalGraph:
        """A new graph made of the given snapshot indices (in that order)."""
        steps = list(steps)
        if not steps:
            raise TemporalGraphError("selecting zero snapshots gives an empty temporal graph")
        x = self._x
        if x is not None and x.dim() == 3:
            x = x[steps]
        return TemporalGraph._trusted(
            [self._edges[t] for t in steps],
            self.num_nodes,
            directed=self.directed,
            edge_weights=None if self._weights is None else [self._weights[t] for t in steps],
            x=x,
            node_mask=None if self._node_mask is None else self._node_mask[steps],
            y=None if self._y is None else self._y[steps],
            name=self.name,
            time=None if self.time is None else self.time[steps],
            node_ids=self.node_ids,
        )

    @classmethod
    def _trusted(cls, edges, num_nodes, *, directed, edge_weights, x, node_mask, y, name, time,
                 node_ids=None):
        """Build from already-validated parts (slicing, ``.to``) without re-checking."""
        g = cls.__new__(cls)
        g.num_nodes, g.directed, g.name, g.time = num_nodes, directed, name, time
        g.node_ids = node_ids
        g._edges, g._weights = list(edges), None if edge_weights is None else list(edge_weights)
        g._x, g._node_mask, g._y = x, node_mask, y
        return g

    def to(self, device) -> TemporalGraph:
        """Copy of the graph with every tensor on ``device``."""

        def mv(v):
            return None if v is None else v.to(device)

        return TemporalGraph._trusted(
            [e.to(device) for e in self._edges],
            self.num_nodes,
            directed=self.directed,
            edge_weights=None if self._weights is None else [w.to(device) for w in self._weights],
            x=mv(self._x),
            node_mask=mv(self._node_mask),
            y=mv(self._y),
            name=self.name,
            time=mv(self.time),
            node_ids=self.node_ids,
        )

    def with_features(self, x: Tensor | None) -> TemporalGraph:
        """Same graph with new (validated) node features."""
        g = self.select(range(len(self)))
        g._x = self._check_features(x, len(self)) if x is not None else None
        return g

    def with_edge_weights(self, weights: Sequence[Tensor] | None) -> TemporalGraph:
        """Same graph with other edge weights: one ``(E_t,)`` tensor per snapshot aligned with
        :meth:`edges`, or ``None`` for an unweighted graph."""
        if weights is not None:
            weights = list(weights)
            if len(weights) != len(self):
                raise TemporalGraphError(
                    f"edge_weights: expected one tensor per snapshot ({len(self)}), got "
                    f"{len(weights)}")
            for t, w in enumerate(weights):
                w = _as_tensor(w, torch.float32, t, "edge_weight")
                if w.shape != (self.num_edges(t),):
                    raise TemporalGraphError(
                        f"snapshot {t}, edge_weight: expected shape ({self.num_edges(t)},), got "
                        f"{tuple(w.shape)}")
                _check_finite(w, t, "edge_weight")
                weights[t] = w
        g = self.select(range(len(self)))
        g._weights = weights
        return g

    # ------------------------------------------------------------------ interop (thin wrappers)
    @classmethod
    def from_data_list(cls, data_list, num_nodes=None, **kwargs) -> TemporalGraph:
        """See :func:`dyngraphvae.data.interop.from_data_list`."""
        from dyngraphvae.data.interop import from_data_list

        return from_data_list(data_list, num_nodes, **kwargs)

    def to_data_list(self) -> list:
        """See :func:`dyngraphvae.data.interop.to_data_list`."""
        from dyngraphvae.data.interop import to_data_list

        return to_data_list(self)

    @classmethod
    def from_networkx(cls, graphs, **kwargs):
        """See :func:`dyngraphvae.data.interop.from_networkx`."""
        from dyngraphvae.data.interop import from_networkx

        return from_networkx(graphs, **kwargs)

    def to_networkx(self, nodes=None) -> list:
        """See :func:`dyngraphvae.data.interop.to_networkx`."""
        from dyngraphvae.data.interop import to_networkx

        return to_networkx(self, nodes)

    @classmethod
    def from_pygt_signal(cls, signal, num_nodes=None, **kwargs) -> TemporalGraph:
        """See :func:`dyngraphvae.data.interop.from_pygt_signal`."""
        from dyngraphvae.data.interop import from_pygt_signal

        return from_pygt_signal(signal, num_nodes, **kwargs)

    @classmethod
    def from_temporal_data(cls, events, num_nodes=None, **kwargs) -> TemporalGraph:
        """See :func:`dyngraphvae.data.interop.from_temporal_data`."""
        from dyngraphvae.data.interop import from_temporal_data

        return from_temporal_data(events, num_nodes, **kwargs)

    def __eq__(self, other) -> bool:
        if not isinstance(other, TemporalGraph):
            return NotImplemented

        def same(a, b):
            if a is None or b is None:
                return a is None and b is None
            return a.shape == b.shape and bool(torch.equal(a.cpu(), b.cpu()))

        return (
            self.num_nodes == other.num_nodes
            and self.directed == other.directed
            and len(self) == len(other)
            and all(same(a, b) for a, b in zip(self._edges, other._edges, strict=True))
            and (self._weights is None) == (other._weights is None)
            and (self._weights is None or all(
                same(a, b) for a, b in zip(self._weights, other._weights, strict=True)
            ))
            and same(self._x, other._x)
            and same(self._node_mask, other._node_mask)
            and same(self._y, other._y)
        )

    __hash__ = None  # mutable container

    def __repr__(self) -> str:
        e = self.num_edges()
        kind = "directed" if self.directed else "undirected"
        parts = [f"N={self.num_nodes}", f"T={len(self)}", kind]
        parts.append(f"edges/step={min(e)}..{max(e)} (mean {sum(e) / len(e):.1f})")
        if self._x is None:
            parts.append("features=none")
        else:
            kind = "static" if self._x.dim() == 2 else "per-step"
            parts.append(f"features={self.num_features} ({kind})")
        if self._weights is not None:
            parts.append("weighted")
        if self._node_mask is not None:
            parts.append("node_mask")
        if self._y is not None:
            parts.append(f"y={tuple(self._y.shape[2:]) or 1}")
        head = f"{type(self).__name__}" + (f"[{self.name}]" if self.name else "")
        return f"{head}({', '.join(parts)})"

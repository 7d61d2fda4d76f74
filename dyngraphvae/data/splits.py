"""Seeded, deterministic train/validation/test splits of a :class:`TemporalGraph` in time.

* :func:`chronological_split` — consecutive train / validation / test blocks of snapshots.
* :func:`temporal_signal_split` — PyTorch Geometric Temporal's ``temporal_signal_split``:
  the first ``int(train_ratio * T)`` snapshots train, the rest test.
* :func:`link_prediction_split` — the dynamic link-prediction protocol of VGRNN
  (Hajiramezanali et al., NeurIPS 2019): the last ``num_test`` snapshots are test, with
  ``num_val`` validation snapshots just before them so that no model is ever selected on
  test; each evaluation snapshot gets its edges as positives, as many uniformly sampled
  non-edges as negatives (1:1), and the *new-link* task (edges absent from the previous
  snapshot) with its own 1:1 negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dyngraphvae.data.temporal_graph import TemporalGraph, TemporalGraphError

__all__ = [
    "LinkEvalSet",
    "LinkSplit",
    "chronological_split",
    "link_prediction_split",
    "sample_non_edges",
    "temporal_signal_split",
]


def _check_ratio(value: float, name: str) -> None:
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")


def chronological_split(
    graph: TemporalGraph, train: float = 0.7, val: float = 0.15
) -> tuple[TemporalGraph, TemporalGraph, TemporalGraph]:
    """Split the snapshots in time: ``[0, n_tr)``, ``[n_tr, n_tr + n_va)``, the rest.

    ``n_tr = int(train * T)``, ``n_va = int(val * T)``; the test block gets the remaining
    ``T - n_tr - n_va`` snapshots. Every block must be non-empty.
    """
    _check_ratio(train, "train")
    _check_ratio(val, "val")
    if train + val >= 1.0:
        raise ValueError(f"train + val must be < 1 to leave a test block, got {train + val}")
    T = len(graph)
    n_tr, n_va = int(train * T), int(val * T)
    n_te = T - n_tr - n_va
    if min(n_tr, n_va, n_te) < 1:
        raise TemporalGraphError(
            f"chronological_split of {T} snapshots with train={train}, val={val} gives "
            f"{n_tr}/{n_va}/{n_te} snapshots; every block needs at least 1"
        )
    return (
        graph.select(range(n_tr)),
        graph.select(range(n_tr, n_tr + n_va)),
        graph.select(range(n_tr + n_va, T)),
    )


def temporal_signal_split(
    graph: TemporalGraph, train_ratio: float = 0.8
) -> tuple[TemporalGraph, TemporalGraph]:
    """PyG Temporal's split: the first ``int(train_ratio * T)`` snapshots, then the rest."""
    _check_ratio(train_ratio, "train_ratio")
    T = len(graph)
    n = int(train_ratio * T)
    if not 1 <= n < T:
        raise TemporalGraphError(
            f"temporal_signal_split of {T} snapshots with train_ratio={train_ratio} gives "
            f"{n} train and {T - n} test snapshots; both need at least 1"
        )
    return graph.select(range(n)), graph.select(range(n, T))


# --------------------------------------------------------------------------- negatives
def _pair_keys(ei: Tensor, n: int, directed: bool) -> Tensor:
    """``u·N + v`` per pair ``(2, P)``; undirected pairs are keyed in canonical ``u < v`` order.
    The one pair-key helper of the package (links, baselines and protocols use it too)."""
    u, v = ei[0].long(), ei[1].long()
    if not directed:
        u, v = torch.minimum(u, v), torch.maximum(u, v)
    return u * n + v


def sample_non_edges(
    edge_index: Tensor,
    num_nodes: int,
    num_samples: int,
    *,
    directed: bool = False,
    nodes: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``num_samples`` distinct node pairs drawn uniformly from the non-edges, ``(2, K)``.

    Pairs are ``u != v``; undirected pairs are returned as ``u < v`` and ``(u, v)``,
    ``(v, u)`` count as the same pair. ``nodes`` restricts both endpoints to a node
    subset (e.g. the nodes present at that step). Sampling is without replacement:
    rejection sampling of uniform pairs (duplicates and edges rejected, first draws kept)
    when non-edges are plentiful, else a random permutation of all non-edges.
    """
    n = int(num_nodes)
    cand = torch.arange(n) if nodes is None else nodes.flatten().long().cpu()
    m = cand.numel()
    num_samples = int(num_samples)
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    edge_keys = torch.unique(_pair_keys(edge_index.cpu().long(), n, directed))
    if m < 2:
        total, edges_in = 0, 0
    else:
        total = m * (m - 1) if directed else m * (m - 1) // 2
        inside = torch.zeros(n, dtype=torch.bool)
        inside[cand] = True
        eu, ev = edge_keys // n, edge_keys % n
        edges_in = int((inside[eu] & inside[ev] & (eu != ev)).sum())
    available = total - edges_in
    if num_samples > available:
        raise TemporalGraphError(
            f"cannot sample {num_samples} non-edges: only {available} node pairs are non-edges"
        )
    if num_samples == 0:
        return torch.empty(2, 0, dtype=torch.long)
    if available <= 4 * num_samples or total <= 200_000:
        iu = (
            torch.ones(m, m, dtype=torch.bool).fill_diagonal_(False).nonzero().t()
            if directed
            else torch.triu_indices(m, m, offset=1)
        )
        pairs = cand[iu]
        keep = ~torch.isin(_pair_keys(pairs, n, directed), edge_keys)
        pairs = pairs[:, keep]
        pick = torch.randperm(pairs.size(1), generator=generator)[:num_samples]
        return pairs[:, pick]
    chosen = torch.empty(0, dtype=torch.long)
    while chosen.numel() < num_samples:
        k = 2 * (num_samples - chosen.numel()) + 64
        u = cand[torch.randint(m, (k,), generator=generator)]
        v = cand[torch.randint(m, (k,), generator=generator)]
        keys = _pair_keys(torch.stack([u, v]), n, directed)[u != v]
        keys = keys[~torch.isin(keys, edge_keys)]
        keys = torch.cat([chosen, keys])
        uniq, inv = torch.unique(keys, return_inverse=True)
        first = torch.full((uniq.numel(),), keys.numel()).scatter_reduce(
            0, inv, torch.arange(keys.numel()), reduce="amin"
        )
        chosen = keys[torch.sort(first).values][:num_samples]
    return torch.stack([chosen // n, chosen % n])


# --------------------------------------------------------------------------- link split
@dataclass
class LinkEvalSet:
    """Evaluation pairs of one snapshot ``step`` (indices into the full graph).

    ``pos``: the snapshot's edges ``(2, P)`` (undirected: ``u < v``; self-loops excluded);
    ``neg``: ``P`` uniformly sampled non-edges; ``new_pos``: edges absent from snapshot
    ``step - 1`` (all edges at step 0); ``new_neg``: their own ``len(new_pos)`` non-edges.
    """

    step: int
    pos: Tensor
    neg: Tensor
    new_pos: Tensor
    new_neg: Tensor

    def pairs_and_labels(self, new_links: bool = False) -> tuple[Tensor, Tensor]:
        """``(2, 2P)`` pairs (positives first) and float labels ``(2P,)`` for AUC/AP."""
        pos, neg = (self.new_pos, self.new_neg) if new_links else (self.pos, self.neg)
        labels = torch.cat([torch.ones(pos.size(1)), torch.zeros(neg.size(1))])
        return torch.cat([pos, neg], dim=1), labels


@dataclass
class LinkSplit:
    """Result of :func:`link_prediction_split`.

    ``train_steps`` are the snapshots a model may train on; a model forecasting snapshot
    ``s`` of ``val`` or ``test`` may condition on ``history(s)`` (all snapshots before
    ``s``, as in VGRNN, which feeds the true previous adjacencies). Select models on
    ``val`` only.
    """

    graph: TemporalGraph
    train_steps: list[int]
    val: list[LinkEvalSet]
    test: list[LinkEvalSet]
    seed: int

    @property
    def train(self) -> TemporalGraph:
        return self.graph.select(self.train_steps)

    @property
    def val_steps(self) -> list[int]:
        return [e.step for e in self.val]

    @property
    def test_steps(self) -> list[int]:
        return [e.step for e in self.test]

    def history(self, step: int) -> TemporalGraph:
        """Snapshots ``0..step-1``: what a forecaster may see before predicting ``step``."""
        if not 1 <= step <= len(self.graph):
            raise TemporalGraphError(f"history: step must be in [1, {len(self.graph)}], got {step}")
        return self.graph.select(range(step))


def _eval_set(graph: TemporalGraph, t: int, seed: int, respect_node_mask: bool) -> LinkEvalSet:
    n, directed = graph.num_nodes, graph.directed
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + t)
    ei = graph.edges(t).cpu()
    pos = ei[:, ei[0] != ei[1]]
    if t == 0:
        new_pos = pos
    else:
        prev = _pair_keys(graph.edges(t - 1).cpu(), n, directed)
        new_pos = pos[:, ~torch.isin(_pair_keys(pos, n, directed), prev)]
    nodes = None
    if respect_node_mask and graph.node_mask is not None:
        nodes = graph.node_mask[t].cpu().nonzero().flatten()
    neg = sample_non_edges(ei, n, pos.size(1), directed=directed, nodes=nodes, generator=gen)
    new_neg = sample_non_edges(
        ei, n, new_pos.size(1), directed=directed, nodes=nodes, generator=gen
    )
    return LinkEvalSet(t, pos, neg, new_pos, new_neg)


def link_prediction_split(
    graph: TemporalGraph,
    num_test: int = 3,
    num_val: int = 1,
    seed: int = 0,
    *,
    respect_node_mask: bool = True,
) -> LinkSplit:
    """The VGRNN dynamic link-prediction protocol, with a validation snapshot added.

    Test = the last ``num_test`` snapshots; validation = the ``num_val`` snapshots before
    them; train = everything earlier. For each evaluation snapshot ``t``: positives are the
    edges of ``t`` (undirected once as ``u < v``, directed as ordered pairs), negatives an
    equal number of distinct non-edges of ``t`` drawn uniformly (among the nodes present
    at ``t`` when the graph has a node mask and ``respect_node_mask``); new-link positives
    are the edges of ``t`` absent from ``t - 1``, with their own 1:1 negatives. The draw
    of step ``t`` depends only on ``(seed, t)``, so the test sets do not change with
    ``num_val``.
    """
    for v, name, lo in ((num_test, "num_test", 1), (num_val, "num_val", 0)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    T = len(graph)
    graph.require_snapshots(num_test + num_val + 1, "link_prediction_split")
    first_val = T - num_test - num_val
    val = [_eval_set(graph, t, seed, respect_node_mask) for t in range(first_val, T - num_test)]
    test = [_eval_set(graph, t, seed, respect_node_mask) for t in range(T - num_test, T)]
    return LinkSplit(graph, list(range(first_val)), val, test, int(seed))

r"""Negative pairs for link-forecast AUC/AP the way the field draws them.

Poursafaei, Huang, Pelrine & Rabbany, "Towards Better Evaluation for Dynamic Link Prediction",
NeurIPS 2022 (the definitions DyGLib implements), adapted to snapshots: the positives of target
snapshot ``t`` are its edges ``E_t``; ``num`` negatives are drawn without replacement from

* ``"random"``: all non-edges of ``t`` (uniform; the VGRNN / VGAE protocol). Easy on sparse
  activity data, where most random pairs involve a node that is inactive at ``t``;
* ``"historical"``: pairs seen in the history, :math:`\bigcup_{s<T} E_s \setminus E_t` — which
  past pairs stop recurring. Memory baselines (EdgeBank) score all of them 1 and drop to chance;
* ``"inductive"``: pairs first seen after training, :math:`\bigcup_{T_0 \le s<T} E_s \setminus
  (\bigcup_{s<T_0} E_s \cup E_t)` with ``T_0 = train_end`` — pairs no model saw while training.

``T = history_end`` is the end of what the forecaster has seen: ``t`` itself for one-step
streaming evaluation (DyGLib's setting, the default), the forecast origin for an ``h``-step
forecast — a pair first seen between the origin and ``t`` is not history to a forecaster that
conditions on the snapshots before the origin.

When fewer candidates exist than ``num``, all of them are taken and the rest is filled with
random non-edges of ``t`` that are not candidates (as DyGLib does), so every target is scored on
``|E_t|`` positives against ``num`` negatives. The pairs depend only on the graph, ``t``,
``train_end`` and the generator. Undirected pairs are returned as ``u < v``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dyngraphvae.data.splits import _pair_keys
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.links import link_prediction_pairs, snapshot_non_edges

__all__ = [
    "MRR_NEGATIVES",
    "NEGATIVE_STRATEGIES",
    "candidate_negatives",
    "corrupted_destinations",
    "link_pairs",
    "negative_pairs",
    "seen_pair_keys",
]

NEGATIVE_STRATEGIES = ("random", "historical", "inductive")


def seen_pair_keys(graph: TemporalGraph, start: int, end: int) -> Tensor:
    """Sorted unique keys ``u·N + v`` of the pairs with an edge in snapshots ``[start, end)``."""
    n, directed = graph.num_nodes, graph.directed
    parts = [_pair_keys(graph.edges(s), n, directed).cpu() for s in range(max(0, start), end)]
    if not parts:
        return torch.empty(0, dtype=torch.long)
    return torch.unique(torch.cat(parts))


def _check(graph: TemporalGraph, t: int, strategy: str, train_end: int | None,
           history_end: int | None = None) -> None:
    if strategy not in NEGATIVE_STRATEGIES:
        raise ValueError(
            f"negatives: unknown strategy {strategy!r}; choose from {NEGATIVE_STRATEGIES}")
    if not 0 <= t < len(graph):
        raise ValueError(f"negatives: snapshot {t} out of range for {len(graph)} snapshots")
    if history_end is not None and not 0 <= history_end <= t:
        raise ValueError(
            f"negatives: history_end must lie in [0, {t}] for target {t}, got {history_end}")
    if strategy == "inductive":
        if train_end is None:
            raise ValueError("negatives='inductive' needs train_end (the end of the training span)")
        end = t if history_end is None else history_end
        if not 0 <= train_end <= end:
            raise ValueError(
                f"negatives='inductive': train_end must lie in [0, {end}] (the history's end) "
                f"for target {t}, got {train_end}")


def candidate_negatives(graph: TemporalGraph, t: int, strategy: str,
                        train_end: int | None = None, history_end: int | None = None) -> Tensor:
    """Sorted keys of the candidate negatives of target ``t`` (empty for ``"random"``)."""
    _check(graph, t, strategy, train_end, history_end)
    if strategy == "random":
        return torch.empty(0, dtype=torch.long)
    end = t if history_end is None else history_end
    target = _pair_keys(graph.edges(t), graph.num_nodes, graph.directed).cpu()
    if strategy == "historical":
        cand = seen_pair_keys(graph, 0, end)
    else:
        cand = seen_pair_keys(graph, train_end, end)
        cand = cand[~torch.isin(cand, seen_pair_keys(graph, 0, train_end))]
    return cand[~torch.isin(cand, target)]


def negative_pairs(
    graph: TemporalGraph,
    t: int,
    num: int,
    strategy: str = "random",
    *,
    train_end: int | None = None,
    history_end: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``(2, num)`` distinct negative pairs of target snapshot ``t`` (module docstring).

    Args:
        graph: the whole sequence (history and target).
        t: the target snapshot.
        num: number of negatives.
        strategy: ``"random"``, ``"historical"`` or ``"inductive"``.
        train_end: end of the training span (``inductive`` only): snapshots ``< train_end``
            were seen in training.
        history_end: end of the forecaster's history (default ``t``; the origin for an
            ``h``-step forecast).
        generator: seeds the draw.
    """
    num = int(num)
    if strategy == "random":
        _check(graph, t, strategy, train_end, history_end)
        return snapshot_non_edges(graph, t, num, generator=generator)
    n = graph.num_nodes
    cand = candidate_negatives(graph, t, strategy, train_end, history_end)  # validates
    if cand.numel() >= num:
        chosen = cand[torch.randperm(cand.numel(), generator=generator)[:num]]
        pairs = torch.stack([chosen // n, chosen % n])
    else:
        have = torch.stack([cand // n, cand % n])
        fill = snapshot_non_edges(graph, t, num - cand.numel(), generator=generator, exclude=have)
        pairs = torch.cat([have, fill.cpu()], dim=1)
    return pairs.to(graph.device)


def link_pairs(
    graph: TemporalGraph,
    t: int,
    strategy: str = "random",
    *,
    train_end: int | None = None,
    history_end: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """``(pos (2, P), neg (2, P))``: every edge of ``t`` and as many negatives of ``strategy``.

    ``"random"`` is exactly :func:`~dyngraphvae.evaluation.links.link_prediction_pairs` (the
    same draws from ``generator``). Raises ``ValueError`` when ``t`` has no edge.
    """
    _check(graph, t, strategy, train_end, history_end)
    if strategy == "random":
        return link_prediction_pairs(graph, t, generator=generator)
    pos = graph.edges(t)
    if pos.size(1) == 0:
        raise ValueError(f"link_pairs: snapshot {t} has no positive pairs")
    return pos, negative_pairs(graph, t, pos.size(1), strategy, train_end=train_end,
                               history_end=history_end, generator=generator)


MRR_NEGATIVES = ("random", "hist_rnd")


def corrupted_destinations(graph: TemporalGraph, t: int, queries: Tensor, k: int,
                           generator: torch.Generator | None = None, strategy: str = "random",
                           history_end: int | None = None) -> Tensor:
    """``(2, Q, K)`` one-vs-many negatives of TGB's MRR for each query ``(u, v)`` of target ``t``:
    ``K`` pairs ``(u, v')``.

    ``"random"``: random destinations ``v' != u``; a corruption that happens to be an edge of
    ``t`` is redrawn once, then kept (at these densities fewer than 1 in 10³ are).
    ``"hist_rnd"`` (TGB's negative sets, Huang et al. 2023): up to ``K // 2`` distinct
    destinations ``u`` had an edge with before ``history_end`` (default ``t``) that are not
    edges of ``t``, the rest random as above. Score them with
    :func:`~dyngraphvae.evaluation.links.mean_reciprocal_rank`, whose tie rule is TGB's.
    """
    if strategy not in MRR_NEGATIVES:
        raise ValueError(f"corrupted_destinations: strategy must be one of {MRR_NEGATIVES}, got "
                         f"{strategy!r}")
    n = graph.num_nodes
    q = queries.size(1)
    src = queries[0].unsqueeze(1).expand(q, k)
    dst = torch.randint(0, n, (q, k), generator=generator)
    keys = graph.edges(t)
    ek = keys[0] * n + keys[1]
    if not graph.directed:
        ek = torch.cat([ek, keys[1] * n + keys[0]])
    bad = (dst == src) | torch.isin(src * n + dst, ek)
    dst = torch.where(bad, torch.randint(0, n, (q, k), generator=generator), dst)
    dst = torch.where(dst == src, (dst + 1) % n, dst)
    if strategy == "hist_rnd" and k // 2 > 0:
        dst = dst.clone()
        dst[:, :k // 2] = _historical_destinations(graph, queries[0], k // 2, ek, generator,
                                                   t if history_end is None else history_end,
                                                   dst[:, :k // 2])
    return torch.stack([src, dst])


def _historical_destinations(graph: TemporalGraph, sources: Tensor, half: int, target_keys: Tensor,
                             generator: torch.Generator | None, history_end: int,
                             fallback: Tensor) -> Tensor:
    """``(Q, half)``: for each query's source ``u``, up to ``half`` distinct destinations drawn
    at random among those ``u`` had an edge with before ``history_end`` (not edges of the
    target), first in the row; ``fallback`` fills the rest. One draw per source, shared by its
    queries, vectorised over sources (a random order within each source's block of keys)."""
    n = graph.num_nodes
    seen = seen_pair_keys(graph, 0, int(history_end))
    if not graph.directed:  # both orientations: u's neighbours either way
        seen = torch.unique(torch.cat([seen, (seen % n) * n + seen // n]))
    src_cpu = sources.cpu()
    uniq = torch.unique(src_cpu)
    seen = seen[~torch.isin(seen, target_keys.cpu()) & torch.isin(seen // n, uniq)]
    owner = seen // n
    shuffle = torch.rand(seen.numel(), generator=generator, dtype=torch.float64)
    order = torch.argsort(owner.double() + shuffle)  # by source, random within a source
    seen, owner = seen[order], owner[order]
    rank = torch.arange(seen.numel()) - torch.searchsorted(owner, owner)
    keep = rank < half
    table = torch.full((uniq.numel(), half), -1, dtype=torch.long)
    table[torch.searchsorted(uniq, owner[keep]), rank[keep]] = seen[keep] % n
    rows = table[torch.searchsorted(uniq, src_cpu)].to(fallback.device)
    return torch.where(rows >= 0, rows, fallback)

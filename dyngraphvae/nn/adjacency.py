r"""Bernoulli adjacency log-likelihood ``log p(A | Z)``: exact dense and unbiased sparse evaluators.

For an edge decoder with scores ``s_uv = s(z_u, z_v)`` and ``pi_uv = sigmoid(s_uv)`` (Problem 4.2)::

    log p(A | Z) = sum_{(u,v) in P} [ A_uv log sigmoid(s_uv) + (1 - A_uv) log sigmoid(-s_uv) ]

over the valid pairs ``P = {u < v}`` (undirected, ``M = n(n-1)/2``) or ``P = {u != v}``
(directed, ``M = n(n-1)``); the diagonal (self-loops) is not modelled and contributes nothing.
With ``log sigmoid(s) - log sigmoid(-s) = s`` the same sum reads::

    log p(A | Z) = sum_{(u,v) in E} s_uv + sum_{(u,v) in P} log sigmoid(-s_uv)

Evaluators
----------
* ``"dense"``: the exact first form on the ``N x N`` score matrix, O(N^2) time and memory.
* ``"sparse"``: all ``E`` positives exactly plus ``K`` pairs ``(u_k, v_k)`` drawn *uniformly with
  replacement from P* (no rejection of edges)::

      L_hat = sum_{(u,v) in E} s_uv + (M / K) sum_{k=1}^K log sigmoid(-s_{u_k v_k})

  ``E[L_hat] = log p(A | Z)`` exactly, and, since ``L_hat`` is linear in the pair terms and the
  pairs do not depend on ``Z``, ``E[grad L_hat] = grad log p(A | Z)``. O(E + K) time and memory;
  N^2 is never materialised. Pairs are drawn in O(K): a uniform index ``m`` in ``[0, n(n-1))``
  maps bijectively to an ordered pair ``u = m // (n-1)``, ``v = r + [r >= u]`` with
  ``r = m mod (n-1)``; for undirected graphs ``(min, max)`` of a uniform ordered pair is uniform
  on ``{u < v}``. One set of pairs is shared by all leading sample dimensions of ``z`` (each
  sample's estimate is unbiased; the estimates are correlated across samples).
* ``"sparse"`` with a **stratum** ``C`` (a set of pairs chosen without looking at ``Z``, e.g. every
  pair the decoder context has seen before): the non-edge sum is split into ``C``, summed exactly
  (or, above a budget of ``B`` pairs, over ``B`` of its pairs drawn uniformly with replacement,
  each weighted ``|C| / B``), and the rest, estimated by the same ``K`` uniform pairs with the
  ones in ``C`` zeroed::

      L_hat = sum_E s_uv - sum_{C} softplus(s_uv) - (M / K) sum_k [p_k not in C] softplus(s_{p_k})

  Unbiased for the same reason (``E [p_k ∉ C] f(p_k) = (1/M) sum_{P \ C} f``). On sparse activity
  data a uniform pair almost never is one seen before, so without the stratum the weights of the
  pair-history terms see their negative side (seen pairs that stay silent) through a handful of
  draws per step; with it, through every such pair.
* ``"auto"``: dense if ``n <= dense_max_nodes``, else sparse.

An optional ``node_mask`` restricts ``P`` to pairs of present nodes.
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

AdjacencyMethod = Literal["auto", "dense", "sparse"]

#: default stratum budget of the sparse estimator, in multiples of its ``K`` uniform pairs
STRATUM_BUDGET_FACTOR = 8


class PairScorer(Protocol):
    """What :func:`adjacency_log_likelihood` needs from an edge decoder (e.g. ``EdgeDecoder``)."""

    def logits(self, z: Tensor, pairs: Tensor) -> Tensor: ...

    def dense_logits(self, z: Tensor) -> Tensor: ...


def num_valid_pairs(num_nodes: int, directed: bool) -> int:
    """``M``: ``n(n-1)`` ordered pairs ``u != v`` (directed) or ``n(n-1)/2`` pairs ``u < v``."""
    n = int(num_nodes)
    return n * (n - 1) if directed else n * (n - 1) // 2


def _index_to_ordered_pair(m: Tensor, n: int) -> Tensor:
    """Bijection ``[0, n(n-1)) -> {(u, v): u != v}``, ``u = m // (n-1)``, ``v = r + [r >= u]``."""
    u = torch.div(m, n - 1, rounding_mode="floor")
    r = m - u * (n - 1)
    v = r + (r >= u).to(r.dtype)
    return torch.stack([u, v])


def valid_pairs(num_nodes: int, directed: bool, device: torch.device | str | None = None) -> Tensor:
    """All valid pairs as a ``(2, M)`` LongTensor (O(N^2): small graphs and tests only).

    Undirected: ``u < v`` in row-major order; directed: all ``u != v`` in row-major order.
    """
    n = int(num_nodes)
    if n < 2:
        return torch.empty(2, 0, dtype=torch.long, device=device)
    if not directed:
        return torch.triu_indices(n, n, offset=1, device=device)
    return _index_to_ordered_pair(torch.arange(n * (n - 1), device=device), n)


def sample_pairs(
    num_nodes: int,
    num_samples: int,
    directed: bool,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """``K`` pairs drawn uniformly with replacement from the valid pairs: ``(2, K)`` LongTensor.

    O(K) time and memory for any ``N``. Undirected pairs come back canonical (``u < v``).
    Random numbers come from ``generator`` (on its device) and are moved to ``device``.
    """
    n = int(num_nodes)
    if n < 2:
        raise ValueError(f"num_nodes: need at least 2 nodes to sample pairs, got {n}")
    if num_samples < 0:
        raise ValueError(f"num_samples: must be >= 0, got {num_samples}")
    gen_device = generator.device if generator is not None else device
    m = torch.randint(
        0, n * (n - 1), (int(num_samples),), generator=generator, device=gen_device,
        dtype=torch.long,
    )
    pairs = _index_to_ordered_pair(m, n)
    if not directed:
        pairs = torch.stack([pairs.min(0).values, pairs.max(0).values])
    return pairs.to(device) if device is not None else pairs


def resolve_method(method: str, num_nodes: int, dense_max_nodes: int = 2000) -> str:
    """``"dense"`` or ``"sparse"``: ``"auto"`` is dense iff ``num_nodes <= dense_max_nodes``."""
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method: unknown {method!r}; expected auto|dense|sparse")
    if method == "auto":
        return "dense" if int(num_nodes) <= int(dense_max_nodes) else "sparse"
    return method


def _validate_edges(
    edge_index: Tensor, num_nodes: int, directed: bool, node_mask: Tensor | None
) -> None:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index: expected shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.dtype not in (torch.long, torch.int32, torch.int64):
        raise ValueError(f"edge_index: expected an integer tensor, got {edge_index.dtype}")
    if edge_index.numel() == 0:
        return
    lo, hi = int(edge_index.min()), int(edge_index.max())
    if lo < 0 or hi >= num_nodes:
        raise ValueError(f"edge_index: node ids must lie in [0, {num_nodes}), found [{lo}, {hi}]")
    src, dst = edge_index[0].long(), edge_index[1].long()
    keep = src != dst
    src, dst = src[keep], dst[keep]
    if not directed:
        src, dst = torch.minimum(src, dst), torch.maximum(src, dst)
    keys = src * num_nodes + dst
    uniq, counts = torch.unique(keys, return_counts=True)
    if uniq.numel() != keys.numel():
        k = int(uniq[counts > 1][0])
        u, v = k // num_nodes, k % num_nodes
        if directed:
            raise ValueError(f"edge_index: repeated directed edge ({u}, {v})")
        raise ValueError(
            f"edge_index: undirected edge ({u}, {v}) stored twice (repeated or in both "
            "directions); store each undirected edge once, as TemporalGraph.edges(t) does"
        )
    if node_mask is not None:
        absent = ~node_mask[src] | ~node_mask[dst]
        if bool(absent.any()):
            i = int(absent.nonzero()[0])
            raise ValueError(
                f"edge_index: edge ({int(src[i])}, {int(dst[i])}) touches a node that "
                "node_mask marks absent"
            )


def adjacency_log_likelihood(
    decoder: PairScorer,
    z: Tensor,
    edge_index: Tensor,
    num_nodes: int,
    directed: bool,
    method: AdjacencyMethod = "auto",
    num_negatives: int | None = None,
    generator: torch.Generator | None = None,
    dense_max_nodes: int = 2000,
    *,
    node_mask: Tensor | None = None,
    validate: bool = True,
    stratum: Tensor | None = None,
    stratum_budget: int | None = None,
) -> Tensor:
    """Bernoulli log-likelihood ``log p(A | Z)`` of one snapshot, shape ``(...)``.

    See the module docstring for the evaluators and the estimator.

    Args:
        decoder: an edge decoder with ``logits(z, pairs)`` and ``dense_logits(z)``
            (:class:`~dyngraphvae.nn.decoders.EdgeDecoder`).
        z: latents ``(..., N, d)``; leading dimensions (samples) are kept in the output.
        edge_index: ``(2, E)`` observed edges, undirected ones stored once (either orientation).
            Self-loops are allowed and ignored (the diagonal is not modelled).
        num_nodes: ``N``.
        directed: pair set ``u != v`` (True) or ``u < v`` (False).
        method: ``"dense"`` (exact, O(N^2)), ``"sparse"`` (unbiased, O(E + K)) or ``"auto"``
            (dense iff ``N <= dense_max_nodes``).
        num_negatives: ``K`` uniformly drawn pairs for the sparse estimator; default
            ``max(E, N)``.
        generator: random source for the sparse pairs (its device is used for sampling).
        dense_max_nodes: the ``"auto"`` threshold.
        node_mask: optional ``(N,)`` bool; pairs involving absent nodes are excluded (edges
            touching an absent node are an error).
        validate: check ids, integer dtype and duplicates (one ``unique`` over the edges); set
            False in a hot loop over already validated snapshots.
        stratum: sparse estimator only: ``(2, C)`` distinct valid pairs (undirected: ``u < v``,
            no self-loops) whose non-edge terms are summed exactly (module docstring); pairs
            touching a node that ``node_mask`` marks absent are dropped from it.
        stratum_budget: at most this many stratum pairs per call (default
            ``STRATUM_BUDGET_FACTOR · K = 8 K``); above it,
            a uniform sample with weight ``|C| / budget``.
    """
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method: unknown {method!r}; expected auto|dense|sparse")
    n = int(num_nodes)
    if z.dim() < 2 or z.size(-2) != n:
        raise ValueError(f"z: expected shape (..., {n}, d), got {tuple(z.shape)}")
    if node_mask is not None:
        if node_mask.shape != (n,) or node_mask.dtype != torch.bool:
            raise ValueError(
                f"node_mask: expected a bool tensor of shape ({n},), got "
                f"{node_mask.dtype} {tuple(node_mask.shape)}"
            )
        node_mask = node_mask.to(z.device)
    edge_index = edge_index.to(z.device)
    if validate:
        _validate_edges(edge_index, n, directed, node_mask)
    method = resolve_method(method, n, dense_max_nodes)
    if method == "dense":
        return _dense(decoder, z, edge_index.long(), n, directed, node_mask)
    return _sparse(decoder, z, edge_index.long(), n, directed, node_mask, num_negatives, generator,
                   stratum, stratum_budget)


def _dense(
    decoder: PairScorer,
    z: Tensor,
    edge_index: Tensor,
    n: int,
    directed: bool,
    node_mask: Tensor | None,
) -> Tensor:
    # sum_E s_uv + sum_P log sigmoid(-s_uv), as log sigmoid(s) - log sigmoid(-s) = s: autograd then
    # keeps one N x N tensor per call (for softplus' backward) instead of four.
    if directed:
        pairs = ~torch.eye(n, dtype=torch.bool, device=z.device)
    else:
        pairs = torch.ones(n, n, dtype=torch.bool, device=z.device).triu(1)
    if node_mask is not None:
        pairs = pairs & node_mask[:, None] & node_mask[None, :]
    s = decoder.dense_logits(z)
    neg = F.softplus(s).masked_fill(~pairs, 0.0).sum((-2, -1))
    src, dst = edge_index[0], edge_index[1]
    if not directed:
        src, dst = torch.minimum(src, dst), torch.maximum(src, dst)
    key = torch.unique(src * n + dst)  # each modelled pair once, whichever form edges come in
    src, dst = key // n, key % n
    keep = pairs[src, dst]  # drops the diagonal and masked nodes, as the pair set does
    edges = torch.stack([src[keep], dst[keep]])
    return decoder.logits(z, edges).sum(-1) - neg


def _sparse(
    decoder: PairScorer,
    z: Tensor,
    edge_index: Tensor,
    n: int,
    directed: bool,
    node_mask: Tensor | None,
    num_negatives: int | None,
    generator: torch.Generator | None,
    stratum: Tensor | None = None,
    stratum_budget: int | None = None,
) -> Tensor:
    loops = edge_index[0] == edge_index[1]
    if bool(loops.any()):
        edge_index = edge_index[:, ~loops]
    present = None if node_mask is None else node_mask.nonzero().squeeze(-1)
    n_present = n if present is None else int(present.numel())
    m_pairs = num_valid_pairs(n_present, directed)
    # sum_E [log sigmoid(s) - log sigmoid(-s)] = sum_E s, exactly.
    ll = decoder.logits(z, edge_index).sum(-1)
    if m_pairs == 0:
        return ll
    k = max(edge_index.size(1), n_present) if num_negatives is None else int(num_negatives)
    if k < 1:
        raise ValueError(f"num_negatives: must be >= 1 for the sparse estimator, got {k}")
    pairs = sample_pairs(n_present, k, directed, generator=generator, device=z.device)
    if present is not None:
        pairs = present[pairs]
    neg = F.logsigmoid(-decoder.logits(z, pairs))
    if stratum is None:
        return ll + (m_pairs / k) * neg.sum(-1)
    stratum = stratum.to(z.device).long()
    if node_mask is not None:
        stratum = stratum[:, node_mask[stratum[0]] & node_mask[stratum[1]]]
    c = stratum.size(1)
    if c == 0:
        return ll + (m_pairs / k) * neg.sum(-1)
    keys = torch.sort(stratum[0] * n + stratum[1]).values
    q = pairs[0] * n + pairs[1]
    outside = keys[torch.searchsorted(keys, q).clamp_max(c - 1)] != q  # draws not in C
    ll = ll + (m_pairs / k) * (neg * outside).sum(-1)
    budget = STRATUM_BUDGET_FACTOR * k if stratum_budget is None else int(stratum_budget)
    if budget < 1:
        raise ValueError(f"stratum_budget: must be >= 1, got {budget}")
    weight = 1.0
    if c > budget:
        gen_device = generator.device if generator is not None else z.device
        pick = torch.randint(0, c, (budget,), generator=generator, device=gen_device)
        stratum, weight = stratum[:, pick.to(stratum.device)], c / budget
    return ll + weight * F.logsigmoid(-decoder.logits(z, stratum)).sum(-1)

r"""Link-forecasting metrics in torch: AUC, AP, MRR, Hits@k, Brier and log score.

Every metric is batched over leading dimensions and runs on the device of its inputs; no
scikit-learn at runtime. Conventions follow the peers that published numbers use:

* :func:`roc_auc` equals ``sklearn.metrics.roc_auc_score`` (ties count one half; Mann–Whitney
  statistic with mid-ranks, Hanley & McNeil 1982).
* :func:`average_precision` equals ``sklearn.metrics.average_precision_score``:
  :math:`\mathrm{AP} = \sum_n (R_n - R_{n-1}) P_n` over the distinct score thresholds, a step
  function with no interpolation.
* :func:`link_ranks`, :func:`mean_reciprocal_rank`, :func:`hits_at_k` follow TGB
  (Huang et al., NeurIPS 2023) and OGB: the rank of a positive among its negatives is
  :math:`\tfrac12(\#\{neg > pos\} + \#\{neg \ge pos\}) + 1` (ties split between the optimistic
  and pessimistic rank).
* :func:`brier_score` and :func:`binary_log_score` are the Bernoulli proper scores (Brier 1950;
  Good 1952), equal to ``sklearn.metrics.brier_score_loss`` and ``log_loss``.

The VGRNN evaluation protocol (Hajiramezanali et al., NeurIPS 2019; 1:1 uniformly sampled
non-edges, "new link" positives) is provided by :func:`snapshot_non_edges` and
:func:`link_prediction_pairs`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dyngraphvae.data.splits import _pair_keys

__all__ = [
    "LinkMetrics",
    "average_precision",
    "binary_log_score",
    "brier_score",
    "hits_at_k",
    "link_metrics",
    "link_prediction_pairs",
    "link_ranks",
    "mean_reciprocal_rank",
    "roc_auc",
    "snapshot_non_edges",
]


def _check_binary_inputs(scores: Tensor, labels: Tensor, name: str) -> tuple[Tensor, Tensor]:
    if not isinstance(scores, Tensor) or not isinstance(labels, Tensor):
        raise TypeError(f"{name}: scores and labels must be tensors")
    if scores.shape != labels.shape:
        raise ValueError(
            f"{name}: scores {tuple(scores.shape)} and labels {tuple(labels.shape)} differ in shape"
        )
    if scores.dim() == 0 or scores.size(-1) == 0:
        raise ValueError(f"{name}: need at least one scored pair along the last dimension")
    if not torch.isfinite(scores).all():
        raise ValueError(f"{name}: scores contain NaN or infinite values")
    if labels.dtype != torch.bool:
        if not ((labels == 0) | (labels == 1)).all():
            raise ValueError(f"{name}: labels must be 0/1 or bool")
        labels = labels.bool()
    return scores, labels


def _class_counts(labels: Tensor, name: str) -> tuple[Tensor, Tensor]:
    n_pos = labels.sum(-1)
    n_neg = labels.size(-1) - n_pos
    if (n_pos == 0).any() or (n_neg == 0).any():
        raise ValueError(
            f"{name} is undefined when a row has only one class "
            f"(rows without positives: {int((n_pos == 0).sum())}, "
            f"without negatives: {int((n_neg == 0).sum())})"
        )
    return n_pos, n_neg


def roc_auc(scores: Tensor, labels: Tensor) -> Tensor:
    r"""Area under the ROC curve along the last dimension, ties counted one half.

    .. math::
        \mathrm{AUC} = \frac{\sum_{i:\,y_i=1} r_i - n_+(n_+ + 1)/2}{n_+ n_-}
        = P(s^+ > s^-) + \tfrac12 P(s^+ = s^-),

    with :math:`r_i` the mid-rank (average rank over ties) of score :math:`s_i` among all
    scores (Hanley & McNeil 1982). Identical to ``sklearn.metrics.roc_auc_score``.
    Cost :math:`O(P \log P)` per row.

    Args:
        scores: ``(..., P)`` real scores (probabilities, logits: any monotone scale).
        labels: ``(..., P)`` bool or 0/1; every row needs both classes.

    Returns:
        ``(...)`` AUC in ``[0, 1]``, float64 (float32 on Apple MPS, which lacks float64).
    """
    scores, labels = _check_binary_inputs(scores, labels, "roc_auc")
    n_pos, n_neg = _class_counts(labels, "roc_auc")
    acc = _acc_dtype(scores)
    s = scores.to(acc).contiguous()
    sorted_s = s.sort(dim=-1).values.contiguous()
    below = torch.searchsorted(sorted_s, s, side="left")  # #{s_j < s_i}
    below_eq = torch.searchsorted(sorted_s, s, side="right")  # #{s_j <= s_i}
    mid_rank = (below + below_eq + 1).to(acc) / 2.0  # 1-based average rank over ties
    rank_sum = (mid_rank * labels.to(acc)).sum(-1)
    n_pos_d, n_neg_d = n_pos.to(acc), n_neg.to(acc)
    return (rank_sum - n_pos_d * (n_pos_d + 1) / 2) / (n_pos_d * n_neg_d)


def average_precision(scores: Tensor, labels: Tensor) -> Tensor:
    r"""Average precision along the last dimension (step-function definition).

    .. math::
        \mathrm{AP} = \sum_n (R_n - R_{n-1})\, P_n
        = \frac{1}{n_+} \sum_{i:\,y_i=1} \mathrm{Prec}(s_i),
        \qquad \mathrm{Prec}(s) = \frac{\#\{j: s_j \ge s,\ y_j = 1\}}{\#\{j: s_j \ge s\}},

    where thresholds run over the distinct scores, so tied scores enter as one threshold
    (no interpolation). Identical to ``sklearn.metrics.average_precision_score``.

    Args:
        scores: ``(..., P)`` real scores.
        labels: ``(..., P)`` bool or 0/1; every row needs a positive and a negative.

    Returns:
        ``(...)`` AP in ``[0, 1]``, float64 (float32 on Apple MPS).
    """
    scores, labels = _check_binary_inputs(scores, labels, "average_precision")
    n_pos, _ = _class_counts(labels, "average_precision")
    acc = _acc_dtype(scores)
    s = scores.to(acc)
    P = s.size(-1)
    desc, order = s.sort(dim=-1, descending=True)
    y_desc = labels.gather(-1, order).to(acc)
    tp_cum = y_desc.cumsum(-1)
    asc = desc.flip(-1).contiguous()
    # index (in descending order) of the last element whose score equals desc[i]
    n_ge = P - torch.searchsorted(asc, desc.contiguous(), side="left")  # #{s_j >= desc_i}
    end = n_ge - 1
    precision_at_threshold = tp_cum.gather(-1, end) / n_ge.to(acc)
    return (y_desc * precision_at_threshold).sum(-1) / n_pos.to(acc)


def _out_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


def _acc_dtype(x: Tensor) -> torch.dtype:
    """float64 for rank statistics, except on backends without it (Apple MPS)."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def link_ranks(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    r"""Tie-aware rank of each positive among its own negatives (TGB / OGB convention).

    .. math::
        r = \tfrac12\big(\#\{k: s^-_k > s^+\} + \#\{k: s^-_k \ge s^+\}\big) + 1 .

    Args:
        pos_scores: ``(..., Q)`` score of the true pair of each query.
        neg_scores: ``(..., Q, K)`` scores of its ``K`` negatives.

    Returns:
        ``(..., Q)`` ranks in ``[1, K + 1]`` (float).
    """
    if neg_scores.dim() != pos_scores.dim() + 1 or neg_scores.shape[:-1] != pos_scores.shape:
        raise ValueError(
            f"link_ranks: neg_scores must have shape pos_scores.shape + (K,), got "
            f"pos {tuple(pos_scores.shape)} and neg {tuple(neg_scores.shape)}"
        )
    if not (torch.isfinite(pos_scores).all() and torch.isfinite(neg_scores).all()):
        raise ValueError("link_ranks: scores contain NaN or infinite values")
    p = pos_scores.unsqueeze(-1)
    optimistic = (neg_scores > p).sum(-1)
    pessimistic = (neg_scores >= p).sum(-1)
    return 0.5 * (optimistic + pessimistic).to(_out_dtype(pos_scores)) + 1.0


def mean_reciprocal_rank(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    r"""MRR :math:`= \frac1Q \sum_q 1/r_q` with the tie-aware ranks of :func:`link_ranks`.

    Args:
        pos_scores: ``(..., Q)``; neg_scores: ``(..., Q, K)``.

    Returns:
        ``(...)``, the mean over the ``Q`` queries.
    """
    return link_ranks(pos_scores, neg_scores).reciprocal().mean(-1)


def hits_at_k(pos_scores: Tensor, neg_scores: Tensor, k: int = 10) -> Tensor:
    r"""Hits@k :math:`= \frac1Q \sum_q \mathbf 1[r_q \le k]` with the tie-aware ranks of TGB.

    Args:
        pos_scores: ``(..., Q)``; neg_scores: ``(..., Q, K)``; k: cut-off (``>= 1``).

    Returns:
        ``(...)`` fraction of queries whose positive ranks within the top ``k``.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"hits_at_k: k must be a positive integer, got {k!r}")
    ranks = link_ranks(pos_scores, neg_scores)
    return (ranks <= k).to(ranks.dtype).mean(-1)


def _check_probs(probs: Tensor, labels: Tensor, name: str) -> tuple[Tensor, Tensor]:
    if probs.shape != labels.shape:
        raise ValueError(
            f"{name}: probabilities {tuple(probs.shape)} and labels {tuple(labels.shape)} "
            "differ in shape"
        )
    if not probs.is_floating_point():
        raise TypeError(f"{name}: probabilities must be a floating tensor")
    if not torch.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError(f"{name}: probabilities must lie in [0, 1]")
    if labels.dtype == torch.bool:
        labels = labels.to(probs.dtype)
    elif not ((labels == 0) | (labels == 1)).all():
        raise ValueError(f"{name}: labels must be 0/1 or bool")
    return probs, labels.to(probs.dtype)


def brier_score(probs: Tensor, labels: Tensor) -> Tensor:
    r"""Brier score :math:`\frac1P\sum_i (\pi_i - y_i)^2` along the last dimension (Brier 1950).

    Equal to ``sklearn.metrics.brier_score_loss``; lower is better.

    Args:
        probs: ``(..., P)`` predicted edge probabilities in ``[0, 1]``.
        labels: ``(..., P)`` bool or 0/1 outcomes.

    Returns:
        ``(...)``.
    """
    probs, labels = _check_probs(probs, labels, "brier_score")
    return (probs - labels).pow(2).mean(-1)


def binary_log_score(
    labels: Tensor, *, probs: Tensor | None = None, logits: Tensor | None = None
) -> Tensor:
    r"""Mean Bernoulli negative log-likelihood (log score, binary cross-entropy), lower is better.

    .. math::
        \mathrm{LS} = -\frac1P\sum_i \big[y_i \log \pi_i + (1 - y_i)\log(1 - \pi_i)\big].

    Give exactly one of ``probs`` or ``logits``. With ``logits`` the score is computed stably as
    ``softplus(-l)`` / ``softplus(l)`` (no clamping needed). With ``probs`` they are clamped to
    ``[eps, 1 - eps]``, ``eps`` the machine epsilon of their dtype, which is what
    ``sklearn.metrics.log_loss`` does.

    Args:
        labels: ``(..., P)`` bool or 0/1.
        probs: ``(..., P)`` probabilities, or
        logits: ``(..., P)`` logits.

    Returns:
        ``(...)``.
    """
    if (probs is None) == (logits is None):
        raise ValueError("binary_log_score: give exactly one of probs= or logits=")
    if logits is not None:
        if logits.shape != labels.shape:
            raise ValueError(
                f"binary_log_score: logits {tuple(logits.shape)} and labels "
                f"{tuple(labels.shape)} differ in shape"
            )
        if not torch.isfinite(logits).all():
            raise ValueError("binary_log_score: logits contain NaN or infinite values")
        if labels.dtype != torch.bool and not ((labels == 0) | (labels == 1)).all():
            raise ValueError("binary_log_score: labels must be 0/1 or bool")
        y = labels.to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(-1)
    probs, y = _check_probs(probs, labels, "binary_log_score")
    eps = torch.finfo(probs.dtype).eps
    p = probs.clamp(eps, 1 - eps)
    return -(y * p.log() + (1 - y) * torch.log1p(-p)).mean(-1)


@dataclass(frozen=True)
class LinkMetrics:
    """AUC and AP of one scored set of positive and negative pairs (floats, for tables)."""

    auc: float
    ap: float
    num_positive: int
    num_negative: int

    def to_dict(self) -> dict:
        return asdict(self)


def link_metrics(pos_scores: Tensor, neg_scores: Tensor) -> LinkMetrics:
    """AUC and AP of 1-D positive and negative scores (the VGRNN / VGAE table entry).

    Args:
        pos_scores: ``(P,)`` scores of true pairs.
        neg_scores: ``(Q,)`` scores of negative pairs.
    """
    if pos_scores.dim() != 1 or neg_scores.dim() != 1:
        raise ValueError("link_metrics: pos_scores and neg_scores must be 1-D")
    scores = torch.cat([pos_scores, neg_scores])
    labels = torch.cat(
        [
            torch.ones_like(pos_scores, dtype=torch.bool),
            torch.zeros_like(neg_scores, dtype=torch.bool),
        ]
    )
    return LinkMetrics(
        auc=float(roc_auc(scores, labels)),
        ap=float(average_precision(scores, labels)),
        num_positive=int(pos_scores.numel()),
        num_negative=int(neg_scores.numel()),
    )


# ---------------------------------------------------------------------------- protocol
def snapshot_non_edges(
    graph,
    t: int,
    num: int,
    *,
    generator: torch.Generator | None = None,
    exclude: Tensor | None = None,
) -> Tensor:
    r"""``num`` distinct node pairs drawn uniformly among the non-edges of snapshot ``t``.

    (The edge-index form, ``(edge_index, num_nodes, num_samples)``, is
    :func:`dyngraphvae.data.splits.sample_non_edges`, the package's one ``sample_non_edges``.)

    The negatives of the VGRNN / VGAE protocol: uniform over pairs :math:`u \ne v` (undirected:
    returned with ``u < v``) that are not edges of snapshot ``t`` (nor listed in ``exclude``,
    a ``(2, E')`` edge index). Sampling is without replacement by rejection, so the result has no
    repeated pair. Raises if fewer than ``num`` non-edges exist.

    Args:
        graph: a :class:`~dyngraphvae.TemporalGraph`.
        t: snapshot index.
        num: number of pairs.
        generator: optional ``torch.Generator`` for reproducibility.
        exclude: optional extra pairs that must not be drawn.

    Returns:
        ``(2, num)`` long tensor on the graph's device.
    """
    n, directed = graph.num_nodes, graph.directed
    total = n * (n - 1) if directed else n * (n - 1) // 2
    forbidden = _pair_keys(graph.edges(t), n, directed)
    if exclude is not None:
        forbidden = torch.cat([forbidden, _pair_keys(exclude.to(forbidden.device), n, directed)])
    forbidden = torch.unique(forbidden)
    available = total - int(forbidden.numel())
    if num > available:
        raise ValueError(
            f"snapshot_non_edges: asked for {num} non-edges at snapshot {t}, only {available} exist"
        )
    device = forbidden.device
    chosen = torch.empty(0, dtype=torch.long)
    forbidden_cpu = forbidden.cpu()
    while chosen.numel() < num:
        draw = max(2 * (num - chosen.numel()), 64)
        u = torch.randint(0, n, (draw,), generator=generator)
        v = torch.randint(0, n, (draw,), generator=generator)
        ok = u != v
        u, v = u[ok], v[ok]
        keys = _pair_keys(torch.stack([u, v]), n, directed)
        keys = keys[~torch.isin(keys, forbidden_cpu)]
        # keep first occurrence order while removing duplicates across draws
        merged = torch.cat([chosen, keys])
        uniq, inverse = torch.unique(merged, return_inverse=True)
        first = torch.full((uniq.numel(),), merged.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(merged.numel()), reduce="amin")
        chosen = merged[first.sort().values]
    chosen = chosen[:num]
    return torch.stack([chosen // n, chosen % n]).to(device)


def link_prediction_pairs(
    graph,
    t: int,
    *,
    new_links: bool = False,
    num_negatives: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Positive and negative pairs of the VGRNN link-prediction protocol for snapshot ``t``.

    Positives are all edges of snapshot ``t`` or, with ``new_links=True``, the edges of ``t``
    absent at ``t - 1`` (:math:`A_t - A_{t-1} > 0`; snapshot 0 has no predecessor and keeps all
    its edges, as in the VGRNN code). Undirected pairs are listed once (``u < v``); VGRNN lists
    them in both directions, which duplicates every positive with the same score and leaves AUC
    and AP unchanged. Negatives: as many uniformly sampled non-edges of ``t`` as positives
    (``num_negatives`` overrides).

    Returns:
        ``(pos_pairs (2, P), neg_pairs (2, Q))``.
    """
    pos = graph.edges(t)
    if new_links and t > 0:
        n = graph.num_nodes
        prev = _pair_keys(graph.edges(t - 1), n, graph.directed)
        pos = pos[:, ~torch.isin(_pair_keys(pos, n, graph.directed), prev)]
    if pos.size(1) == 0:
        raise ValueError(f"link_prediction_pairs: snapshot {t} has no positive pairs")
    num = pos.size(1) if num_negatives is None else int(num_negatives)
    neg = snapshot_non_edges(graph, t, num, generator=generator)
    return pos, neg

"""Free bits (Kingma et al. 2016, "Improved Variational Inference with Inverse Autoregressive
Flow", App.).

The KL term is split into units j (latent dimensions, nodes, groups of dimensions, or the whole
code) and
each unit's *batch-averaged* KL is floored at a threshold λ (nats):

    L̃_λ = E_{x∼M} E_q[log p(x|z)] − Σ_j max(λ, E_{x∼M}[KL(q(z_j|x) || p(z_j))]).

A unit whose batch-mean KL is below λ contributes the constant λ and receives **zero gradient**,
so the
optimiser is not pushed to close it further; above λ the term is the ordinary KL (gradient
identity).
For graph latents Z ∈ R^{N×d} the natural units are per (node, dimension) or per node.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["free_bits", "free_bits_units"]

_MODES = ("dimension", "node", "group", "total")


def _normalise_dims(dims: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    if isinstance(dims, int):
        dims = (dims,)
    out = []
    for d in dims:
        if not -ndim <= d < ndim:
            raise ValueError(f"{name}: dimension {d} out of range for a tensor with {ndim} dims")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated dimensions {tuple(dims)}")
    return tuple(sorted(out))


def _group_matrix(groups: Tensor | Sequence[Sequence[int]], d: int, device, dtype) -> Tensor:
    """(d, G) 0/1 matrix assigning each latent dimension to exactly one group."""
    if isinstance(groups, Tensor):
        gid = groups.to(device=device)
        if (
            gid.dim() != 1
            or gid.numel() != d
            or gid.dtype in (torch.float16, torch.float32, torch.float64)
        ):
            raise ValueError(
                f"free_bits: groups as a tensor must be an integer vector of length d={d} "
                f"(group id per latent dimension), got shape {tuple(gid.shape)} dtype {gid.dtype}"
            )
        if (gid < 0).any():
            raise ValueError("free_bits: group ids must be >= 0")
        num = int(gid.max()) + 1
        present = torch.zeros(num, dtype=torch.bool, device=device)
        present[gid] = True
        if not present.all():
            missing = torch.nonzero(~present).flatten().tolist()
            raise ValueError(
                f"free_bits: group ids must be contiguous 0..G-1; ids {missing} are empty"
            )
        return torch.nn.functional.one_hot(gid.long(), num).to(dtype)
    members = [list(g) for g in groups]
    flat = [i for g in members for i in g]
    if any(len(g) == 0 for g in members):
        raise ValueError("free_bits: every group must contain at least one latent dimension")
    if sorted(flat) != list(range(d)):
        raise ValueError(
            f"free_bits: groups must partition the latent dimensions 0..{d - 1} exactly once, "
            f"got {members}"
        )
    mat = torch.zeros(d, len(members), device=device, dtype=dtype)
    for g, idx in enumerate(members):
        mat[idx, g] = 1.0
    return mat


def free_bits_units(
    kl: Tensor,
    mode: str = "dimension",
    *,
    groups: Tensor | Sequence[Sequence[int]] | None = None,
    reduce_over: int | Sequence[int] = 0,
    mask: Tensor | None = None,
) -> Tensor:
    """Batch-averaged KL per free-bits unit, E_batch[KL_j] (before flooring).

    Args:
        kl: element-wise KL terms, shape (..., d): the last dimension indexes latent dimensions, the
            dimensions in ``reduce_over`` index datapoints (averaged), every other dimension indexes
            latent *units* kept apart (e.g. nodes N in a (B, N, d) or (T, N, d) tensor).
        mode: ``"dimension"`` (units = every kept coordinate × latent dimension), ``"node"``
            (sum over d, units = kept coordinates, e.g. nodes), ``"group"`` (sum within each
            group of latent dims, units = kept coordinates × groups), ``"total"`` (sum over
            everything but the batch: one unit).
        groups: for ``mode="group"``: an integer tensor (d,) of group ids 0..G−1, or a list of index
            lists partitioning 0..d−1.
        reduce_over: datapoint dimension(s) (default 0). Must not include the last dimension.
        mask: optional bool tensor of shape ``kl.shape[:-1]``; False entries (e.g. absent nodes) are
            excluded, and batch means are taken over the True entries only.

    Returns:
        Tensor of unit KLs: shape ``kept + (d,)`` for "dimension", ``kept`` for "node",
        ``kept + (G,)`` for "group", ``()`` for "total".
    """
    if not isinstance(kl, Tensor) or kl.dim() < 2:
        raise ValueError(
            "free_bits: kl must be a tensor of shape (..., d) with at least one datapoint "
            "dimension, "
            f"got {type(kl).__name__} of shape {getattr(kl, 'shape', None)}"
        )
    if mode not in _MODES:
        raise ValueError(f"free_bits: mode must be one of {_MODES}, got {mode!r}")
    if not torch.isfinite(kl).all():
        raise ValueError("free_bits: kl contains non-finite values")
    ndim = kl.dim()
    batch = _normalise_dims(reduce_over, ndim, "free_bits reduce_over")
    if ndim - 1 in batch:
        raise ValueError("free_bits: reduce_over must not include the last (latent) dimension")
    if mode == "node" and ndim - 1 - len(batch) < 1:
        raise ValueError(
            "free_bits: mode='node' needs a node dimension that is not reduced, e.g. kl of shape "
            f"(B, N, d) with reduce_over=0; got shape {tuple(kl.shape)} and reduce_over={batch}"
        )
    if mode == "group":
        if groups is None:
            raise ValueError("free_bits: mode='group' requires `groups`")
        gm = _group_matrix(groups, kl.shape[-1], kl.device, kl.dtype)
        kl = kl @ gm  # (..., G)
    elif groups is not None:
        raise ValueError(f"free_bits: `groups` is only used with mode='group', got mode={mode!r}")

    if mask is not None:
        if mask.shape != kl.shape[:-1]:
            raise ValueError(
                f"free_bits: mask must have shape kl.shape[:-1]={tuple(kl.shape[:-1])}, "
                f"got {tuple(mask.shape)}"
            )
        m = mask.to(device=kl.device, dtype=kl.dtype).unsqueeze(-1)
        count = m.sum(dim=batch)
        if (count == 0).any():
            raise ValueError("free_bits: mask leaves a unit with no datapoint to average over")
        mean = (kl * m).sum(dim=batch) / count
    else:
        mean = kl.mean(dim=batch)
    if mode == "dimension" or mode == "group":
        return mean
    if mode == "node":
        return mean.sum(-1)
    return mean.sum()


def free_bits(
    kl: Tensor,
    threshold: float,
    mode: str = "dimension",
    *,
    groups: Tensor | Sequence[Sequence[int]] | None = None,
    reduce_over: int | Sequence[int] = 0,
    mask: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Penalised KL term with free bits: Σ_j max(λ, E_batch[KL_j]) (Kingma et al. 2016).

    Units j are described in :func:`free_bits_units`. Below λ a unit contributes λ with zero
    gradient;
    above λ it contributes its batch-mean KL with the ordinary gradient. With λ = 0 the result
    equals the
    batch-mean total KL, ``kl.sum() / (number of datapoints)``.

    Args:
        kl: element-wise KL terms (..., d), e.g. (B, d) for a CVAE, (B, N, d) or (T, N, d) for
        graph latents.
        threshold: λ in nats per unit (>= 0). For a per-dimension target of τ total nats use λ = τ
        / d.
        mode, groups, reduce_over, mask: see :func:`free_bits_units`.
        reduction: ``"mean"`` returns the per-datapoint scale above; ``"sum"`` returns
            Σ_j n_j · max(λ, E_batch[KL_j]) with n_j the number of datapoints of unit j (the scale
            of a
            summed ELBO, e.g. Σ_t over a sequence); without a mask n_j = product of the batch sizes.

    Returns:
        A scalar tensor to *add* to the loss in place of the KL term.
    """
    threshold = float(threshold)
    if not threshold >= 0 or threshold == float("inf"):
        raise ValueError(f"free_bits: threshold must be finite and >= 0, got {threshold!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"free_bits: reduction must be 'mean' or 'sum', got {reduction!r}")
    if reduction == "sum" and mask is not None and mode == "total":
        raise ValueError(
            "free_bits: reduction='sum' with a mask is ambiguous for mode='total' (units kept "
            "apart by "
            "the mask have different datapoint counts); use mode='node' or 'dimension'"
        )
    units = free_bits_units(kl, mode, groups=groups, reduce_over=reduce_over, mask=mask)
    floored = torch.clamp(units, min=threshold)
    if reduction == "mean":
        return floored.sum()
    batch = _normalise_dims(reduce_over, kl.dim(), "free_bits reduce_over")
    if mask is None:
        n = 1
        for d in batch:
            n *= kl.shape[d]
        return floored.sum() * n
    count = mask.to(device=kl.device, dtype=kl.dtype).sum(dim=batch)  # kept shape
    if mode in ("dimension", "group"):
        count = count.unsqueeze(-1)
    return (floored * count).sum()

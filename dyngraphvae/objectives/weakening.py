"""Decoder weakening: dropping teacher-forced inputs (word dropout, Bowman et al. 2016).

An autoregressive decoder p(x_t | x_{<t}, z) that sees the true previous observations can predict
x_t
without z and so lets the posterior collapse. Word dropout replaces each conditioned-on input
token by
``<UNK>`` with probability p (p = 1: "inputless" decoder that must rely on z). The same idea for any
tensor of conditioning inputs: each *input* (a trailing block of ``feature_dims`` dimensions, e.g.
one
previous token embedding, one previous feature vector, one node's previous features) is replaced
by a
blank, zeros or a learned null vector, with probability p, during training only. No rescaling is
applied
(unlike ordinary dropout): the decoder is meant to see "missing", not a noisier input.

Graph analogue (dyngraphvae): drop the previous-snapshot information fed to the decoder or
transition,
never the observation being scored: :func:`drop_inputs` on previous node features (N, F) / (T, N, F)
(per node, or per snapshot with ``share_over``), and :func:`drop_edges` on the previous snapshot's
edge
list (each stored edge removed with probability p; an undirected edge stored once as u < v is
removed in
both directions together).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["InputDropout", "drop_edges", "drop_inputs"]


def _check_rate(rate: float, where: str) -> float:
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{where}: rate must be in [0, 1], got {rate!r}")
    return rate


def drop_inputs(
    inputs: Tensor,
    rate: float,
    *,
    training: bool = True,
    blank: Tensor | None = None,
    feature_dims: int = 1,
    share_over: int | Sequence[int] = (),
    generator: torch.Generator | None = None,
    return_mask: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Replace each conditioning input by a blank with probability ``rate`` (training only).

    Args:
        inputs: (..., *feature_shape) tensor; the last ``feature_dims`` dimensions form one input
            (one token embedding, one node's feature vector, …).
        rate: drop probability p in [0, 1].
        training: if False the inputs are returned unchanged (evaluation uses the full decoder).
        blank: replacement broadcastable to the feature shape (e.g. a learned null vector);
            zeros if None.
        feature_dims: number of trailing dimensions that form one input.
        share_over: leading dimensions along which one coin is shared (e.g. ``share_over=-2`` on
            (T, N, F) features drops whole snapshots rather than single nodes).
        generator: optional ``torch.Generator`` for reproducible masks.
        return_mask: also return the boolean keep-mask of shape ``inputs.shape[:-feature_dims]``.

    Returns:
        The weakened inputs (same shape and dtype), and optionally the keep-mask (True = kept).
    """
    rate = _check_rate(rate, "drop_inputs")
    if not isinstance(inputs, Tensor):
        raise TypeError(f"drop_inputs: inputs must be a Tensor, got {type(inputs).__name__}")
    if feature_dims < 0 or feature_dims > inputs.dim():
        raise ValueError(
            f"drop_inputs: feature_dims={feature_dims} invalid for inputs of shape "
            f"{tuple(inputs.shape)}"
        )
    lead = inputs.dim() - feature_dims
    lead_shape = tuple(inputs.shape[:lead])
    if not training or rate == 0.0:
        keep = torch.ones(lead_shape, dtype=torch.bool, device=inputs.device)
        return (inputs, keep) if return_mask else inputs
    if isinstance(share_over, int):
        share_over = (share_over,)
    coin_shape = list(lead_shape)
    for d in share_over:
        if not -lead <= d < lead:
            raise ValueError(
                f"drop_inputs: share_over dimension {d} is not a leading (non-feature) "
                "dimension of "
                f"inputs with shape {tuple(inputs.shape)} and feature_dims={feature_dims}"
            )
        coin_shape[d % lead] = 1
    u = torch.rand(
        coin_shape,
        generator=generator,
        device=inputs.device if generator is None else generator.device,
    )
    keep = (u >= rate).to(inputs.device).expand(lead_shape)
    fill = (
        torch.zeros((), dtype=inputs.dtype, device=inputs.device)
        if blank is None
        else blank.to(dtype=inputs.dtype, device=inputs.device)
    )
    keep_b = keep.reshape(lead_shape + (1,) * feature_dims)
    out = torch.where(keep_b, inputs, fill)
    return (out, keep) if return_mask else out


def drop_edges(
    edge_index: Tensor,
    rate: float,
    *,
    training: bool = True,
    edge_weight: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Remove each previous-snapshot edge fed to the decoder with probability ``rate``
    (training only).

    The blank for an edge is its absence. Edges are dropped as stored: for undirected graphs
    stored once
    (u < v, as in :class:`~dyngraphvae.data.TemporalGraph`) both directions disappear together; call
    this *before* symmetrising. Returns ``(edge_index, edge_weight)`` restricted to the kept edges.
    """
    rate = _check_rate(rate, "drop_edges")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(
            f"drop_edges: edge_index must have shape (2, E), got {tuple(edge_index.shape)}"
        )
    if edge_weight is not None and edge_weight.shape != (edge_index.shape[1],):
        raise ValueError(
            f"drop_edges: edge_weight must have shape (E,)=({edge_index.shape[1]},), "
            f"got {tuple(edge_weight.shape)}"
        )
    if not training or rate == 0.0:
        return edge_index, edge_weight
    dev = edge_index.device if generator is None else generator.device
    keep = (torch.rand(edge_index.shape[1], generator=generator, device=dev) >= rate).to(
        edge_index.device
    )
    return edge_index[:, keep], None if edge_weight is None else edge_weight[keep]


class InputDropout(nn.Module):
    """Module form of :func:`drop_inputs`, active only in ``train()`` mode.

    Args:
        num_features: size of one input (last dimension); needed for ``blank="learned"``.
        rate: drop probability p.
        blank: ``"zeros"`` or ``"learned"`` (a trainable null vector, initialised at zero, the
            analogue of the ``<UNK>`` embedding).
        share_over: see :func:`drop_inputs`.
    """

    def __init__(
        self,
        num_features: int,
        rate: float,
        blank: str = "zeros",
        share_over: int | Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.rate = _check_rate(rate, "InputDropout")
        if blank not in ("zeros", "learned"):
            raise ValueError(f"InputDropout: blank must be 'zeros' or 'learned', got {blank!r}")
        self.num_features = int(num_features)
        self.share_over = share_over
        self.null = nn.Parameter(torch.zeros(self.num_features)) if blank == "learned" else None

    def forward(self, inputs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if inputs.shape[-1] != self.num_features:
            raise ValueError(
                f"InputDropout: expected last dimension {self.num_features}, got "
                f"{tuple(inputs.shape)}"
            )
        return drop_inputs(
            inputs,
            self.rate,
            training=self.training,
            blank=self.null,
            share_over=self.share_over,
            generator=generator,
        )

    def extra_repr(self) -> str:
        learned = self.null is not None
        return f"num_features={self.num_features}, rate={self.rate}, learned_blank={learned}"

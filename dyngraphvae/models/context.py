r"""The autoregressive decoder's context (``decoder_context = "previous" | "history"``).

An edge logit of the autoregressive decoder is ``s(z_u, z_v) + α A_t(u, v) [+ γ H_t(u, v)]``
with the exponentially decayed history ``H_t = A_t + λ H_{t-1}``; the feature mean is moved by
``W x_t``. The context is stored sparsely (one key per stored pair), shared by the samples, and
rebuilt from a sampled graph during a rollout (``docs/model.md``, "Autoregressive decoder").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import (
    Distribution,
    Independent,
    LowRankMultivariateNormal,
    MultivariateNormal,
    Normal,
)

from dyngraphvae.data.neighbours import neighbour_mean
from dyngraphvae.models.random_effect import (  # noqa: F401  (re-exported)
    expected_sigmoid,
    marginal_logit,
    normal_quadrature,
)
from dyngraphvae.nn.decoders import EdgeDecoder
from dyngraphvae.objectives.weakening import drop_edges, drop_inputs

__all__ = [
    "ContextScorer",
    "DecoderContext",
    "EdgeContext",
    "EdgeContextTerm",
    "align_rows",
    "decoder_contexts",
    "lag_inputs",
    "push_lag",
    "shift_mean",
]


@dataclass
class EdgeContext:
    r"""Sparse edge context of the autoregressive decoder for ``B`` graphs (batch rows).

    Pair ``(u, v)`` of row ``b`` has the int64 key ``b·N² + u·N + v`` (undirected: ``u < v``);
    :attr:`keys` is sorted and unique, so a pair query is one ``searchsorted`` (O(P log K), no
    ``N × N`` tensor). Pairs absent from :attr:`keys` have ``A_t = H_t = 0``.

    Attributes:
        keys: ``(K,)`` sorted unique pair keys.
        previous: ``(K,)`` ``A_t(u, v) ∈ {0, 1}`` (the previous snapshot).
        history: ``(K,)`` decayed count ``H_t = A_t + λ H_{t-1}`` (``None`` for ``"previous"``).
        batch_size: ``B``; 1 means one context shared by every sample.
        num_nodes: ``N``.
        directed: whether pairs are ordered.
        rates: the rates ``(r_1, …, r_R)`` of the pair-history context (empty otherwise).
        rate_history: ``(K, R)`` decayed pair counts ``C^r_t = A_t + r C^r_{t-1}`` per rate.
        node_activity: ``(B, N, 2, R)`` decayed out- and in-degrees
            ``D^r_t(v) = deg_t(v) + r D^r_{t-1}(v)`` (undirected: the degree in both slots);
            over all nodes, so it is dense in ``N`` and never in ``N²``.
        node_recency: ``(B, N)`` snapshots since each node was last active, in either role
            (1: active in the latest snapshot; never active: snapshots seen + 1), as the
            recency features of :mod:`dyngraphvae.evaluation.pair_history`; with ``rates``.
    """

    keys: Tensor
    previous: Tensor
    history: Tensor | None
    batch_size: int
    num_nodes: int
    directed: bool
    rates: tuple[float, ...] = ()
    rate_history: Tensor | None = None
    node_activity: Tensor | None = None
    node_recency: Tensor | None = None

    @classmethod
    def empty(cls, num_nodes: int, directed: bool, history: bool,
              device: torch.device | None = None, rates: tuple[float, ...] = ()
              ) -> EdgeContext:
        """No previous graph (``A_0 = H_0 = 0``): the context of snapshot 0."""
        z = torch.zeros(0, device=device)
        rates = tuple(float(r) for r in rates)
        r = len(rates)
        return cls(torch.zeros(0, dtype=torch.long, device=device), z,
                   z.clone() if history else None, 1, int(num_nodes), bool(directed), rates,
                   torch.zeros(0, r, device=device) if r else None,
                   torch.zeros(1, int(num_nodes), 2, r, device=device) if r else None,
                   torch.ones(1, int(num_nodes), device=device) if r else None)

    @classmethod
    def from_edges(cls, coords: Tensor, num_nodes: int, directed: bool, batch_size: int = 1,
                   previous_context: EdgeContext | None = None, decay: float | None = None,
                   rates: tuple[float, ...] | None = None) -> EdgeContext:
        r"""Context after observing the edges ``coords``: ``(2, E)`` pairs (``batch_size = 1``)
        or ``(3, E)`` rows ``(b, u, v)``. Self-loops are skipped (the diagonal is not modelled);
        undirected pairs are canonicalised to ``u < v``.

        With ``decay = λ`` the history is updated, ``H_t = A_t + λ H_{t-1}``, from
        ``previous_context`` (``None``: ``H_{t-1} = 0``; a 1-row context is broadcast to
        ``batch_size`` rows). With ``rates`` (default: those of ``previous_context``) the
        pair-history context is updated too: ``C^r_t = A_t + r C^r_{t-1}`` for every stored pair
        and ``D^r_t = deg_t + r D^r_{t-1}`` for every node, and the recency
        ``ρ_t(v) = 1`` if ``v`` has an edge in ``coords`` else ``ρ_{t-1}(v) + 1`` (``ρ = 1``
        before any snapshot).
        """
        n = int(num_nodes)
        if rates is None:
            rates = previous_context.rates if previous_context is not None else ()
        rates = tuple(float(r) for r in rates)
        coords = coords.long()
        if coords.size(0) == 2:
            coords = torch.cat([coords.new_zeros(1, coords.size(1)), coords])
        b, u, v = coords
        keep = u != v
        b, u, v = b[keep], u[keep], v[keep]
        if not directed:
            u, v = torch.minimum(u, v), torch.maximum(u, v)
        keys = torch.unique(b * (n * n) + u * n + v)
        dev = keys.device
        prev = torch.ones(keys.numel(), device=dev)
        old = None
        if previous_context is not None and (decay is not None or rates):
            old = previous_context.expand(batch_size)
        node = recency = None
        if rates:
            rt = torch.tensor(rates, device=dev)
            kb = torch.div(keys, n * n, rounding_mode="floor")
            ku = torch.div(keys - kb * n * n, n, rounding_mode="floor")
            kv = keys % n
            deg = torch.zeros(int(batch_size), n, 2, device=dev)
            one = torch.ones_like(ku, dtype=deg.dtype)
            if directed:
                deg[:, :, 0].index_put_((kb, ku), one, accumulate=True)
                deg[:, :, 1].index_put_((kb, kv), one, accumulate=True)
            else:
                for slot in (0, 1):
                    deg[:, :, slot].index_put_((kb, ku), one, accumulate=True)
                    deg[:, :, slot].index_put_((kb, kv), one, accumulate=True)
            node = deg.unsqueeze(-1).expand(-1, -1, -1, len(rates)).clone()
            if old is not None and old.node_activity is not None:
                node = node + old.node_activity.to(dev).expand_as(node) * rt
            since = (old.node_recency.to(dev) if old is not None and old.node_recency is not None
                     else torch.ones(1, n, device=dev))  # ρ = 1 before any snapshot
            recency = torch.where(deg.sum(2) > 0, 1.0, since + 1)
        if old is None or old.keys.numel() == 0:
            hist = None if decay is None else prev.clone()
            rh = prev.unsqueeze(-1).expand(-1, len(rates)).clone() if rates else None
            return cls(keys, prev, hist, int(batch_size), n, bool(directed), rates, rh, node,
                       recency)
        all_keys = torch.cat([old.keys.to(dev), keys])
        uniq, inv = torch.unique(all_keys, return_inverse=True)
        hist = None
        if decay is not None:
            vals = torch.cat([decay * old.history.to(dev), prev])
            hist = torch.zeros(uniq.numel(), device=dev).index_add_(0, inv, vals)
        rh = None
        if rates:
            rvals = torch.cat([old.rate_history.to(dev) * rt,
                               prev.unsqueeze(-1).expand(-1, len(rates))])
            rh = torch.zeros(uniq.numel(), len(rates), device=dev).index_add_(0, inv, rvals)
        is_new = torch.zeros(uniq.numel(), device=dev).index_add_(
            0, inv[old.keys.numel():], prev)
        return cls(uniq, is_new, hist, int(batch_size), n, bool(directed), rates, rh, node,
                   recency)

    def expand(self, batch_size: int) -> EdgeContext:
        """Repeat a shared (1-row) context over ``batch_size`` rows (keys stay sorted)."""
        if batch_size == self.batch_size:
            return self
        if self.batch_size != 1:
            raise ValueError(f"EdgeContext.expand: cannot expand {self.batch_size} rows to "
                             f"{batch_size}")
        nn2 = self.num_nodes * self.num_nodes
        off = torch.arange(batch_size, device=self.keys.device).unsqueeze(1) * nn2
        rep = lambda t: None if t is None else t.unsqueeze(0).expand(batch_size, -1).reshape(-1)  # noqa: E731
        rh = None if self.rate_history is None else self.rate_history.unsqueeze(0).expand(
            batch_size, -1, -1).reshape(-1, self.rate_history.size(-1))
        node = None if self.node_activity is None else self.node_activity.expand(
            batch_size, -1, -1, -1)
        rec = None if self.node_recency is None else self.node_recency.expand(batch_size, -1)
        return EdgeContext((off + self.keys).reshape(-1), rep(self.previous), rep(self.history),
                           int(batch_size), self.num_nodes, self.directed, self.rates, rh, node,
                           rec)

    def select(self, keep: Tensor) -> EdgeContext:
        """The context restricted to the entries ``keep`` (bool or index over :attr:`keys`)."""
        return EdgeContext(self.keys[keep], self.previous[keep],
                           None if self.history is None else self.history[keep],
                           self.batch_size, self.num_nodes, self.directed, self.rates,
                           None if self.rate_history is None else self.rate_history[keep],
                           self.node_activity, self.node_recency)

    def coords(self) -> Tensor:
        """``(3, K)`` rows ``(b, u, v)`` of the stored pairs."""
        n = self.num_nodes
        b = torch.div(self.keys, n * n, rounding_mode="floor")
        r = self.keys - b * n * n
        return torch.stack([b, torch.div(r, n, rounding_mode="floor"), r % n])

    def lookup(self, pairs: Tensor) -> tuple[Tensor, Tensor | None]:
        r"""``(A_t, H_t)`` of the pairs ``(2, P)`` for every row: ``(B, P)`` each (``H`` is
        ``None`` without history). Sorted-key ``searchsorted``: never densifies."""
        prev = self.lookup_values(self.previous, pairs)
        return prev, (None if self.history is None else self.lookup_values(self.history, pairs))

    def lookup_values(self, values: Tensor, pairs: Tensor) -> Tensor:
        """``(B, P)`` values ``values (K,)`` of the stored pairs at ``pairs (2, P)`` (0 where not
        stored); undirected pairs are canonicalised."""
        n, bsz = self.num_nodes, self.batch_size
        pairs = pairs.to(self.keys.device).long()
        u, v = pairs[0], pairs[1]
        if not self.directed:
            u, v = torch.minimum(u, v), torch.maximum(u, v)
        q = (torch.arange(bsz, device=u.device).unsqueeze(1) * (n * n) + (u * n + v)).reshape(-1)
        if self.keys.numel() == 0:
            return torch.zeros(bsz, pairs.size(1), device=u.device)
        idx = torch.searchsorted(self.keys, q).clamp_max(self.keys.numel() - 1)
        hit = self.keys[idx] == q
        return torch.where(hit, values[idx], 0.0).reshape(bsz, pairs.size(1))

    def dense(self) -> tuple[Tensor, Tensor | None]:
        """``(A_t, H_t)`` as dense ``(B, N, N)`` float tensors (symmetric when undirected)."""
        n, bsz = self.num_nodes, self.batch_size
        b, u, v = self.coords()

        def fill(vals: Tensor) -> Tensor:
            out = torch.zeros(bsz, n, n, device=self.keys.device)
            out[b, u, v] = vals
            if not self.directed:
                out[b, v, u] = vals
            return out

        return fill(self.previous), (None if self.history is None else fill(self.history))


@dataclass
class DecoderContext:
    r"""What the autoregressive decoder of snapshot ``G_{t+1}`` sees besides ``Z_t``.

    Attributes:
        edges: :class:`EdgeContext` of ``A_t`` (and ``H_t``), or ``None`` without edge decoder.
        x: previous features ``[x_t, x_{t-1}, …, x_{t-L+1}]`` concatenated: ``(N, L·F)`` shared
            or ``(B, N, L·F)``, zero for absent nodes and before snapshot 0; ``None`` without a
            feature decoder.
        neighbours: the neighbour-mean operator ``P`` of the last observed graph ``G_t``
            (:func:`~dyngraphvae.data.neighbours.neighbour_mean`;
            ``config.feature_neighbours``), or ``None`` (no graph observed yet, or not used).
            Forecasts keep the origin's ``P`` at every step.
        observed: how many snapshots the context has read since snapshot 0 (entry ``s`` of
            :func:`decoder_contexts` from the empty context: ``s``), so the lag window is all
            observed iff ``observed >= L`` (``config.feature_full_lags``); ``None``: not counted
            (a forecast's context, or one built by hand), taken as observed.
    """

    edges: EdgeContext | None
    x: Tensor | None
    neighbours: Tensor | None = None
    observed: int | None = None


class EdgeContextTerm(nn.Module):
    r"""Learned context term of the autoregressive edge logit.

    ``"previous"`` / ``"history"``: ``ℓ_uv = s(z_u, z_v) + α A_t(u, v) + γ H_t(u, v)`` (``γ`` only
    with history).

    ``"pair_history"`` (``rates`` given) adds a linear function of the pair's and its endpoints'
    past, the features of a logistic regression on pair history::

        + Σ_r [ a_r log(1 + C^r_t(u, v)) + b_r log(1 + C^r_t(v, u))            (directed only)
                + c_r log(1 + D^r_out(u)) + e_r log(1 + D^r_in(v))
                + f_r log(1 + D^r_out(u)) log(1 + D^r_in(v)) ]
        + g log(1 + ρ_t(u)) + k log(1 + ρ_t(v))

    with the decayed pair counts ``C^r``, degrees ``D^r`` and recencies ``ρ`` (snapshots since the
    node was last active) of :class:`EdgeContext` (undirected: ``c_r = e_r`` and ``g = k``, degrees
    in both slots). Recency separates long-dead nodes from recently quiet ones, which decayed
    degrees cannot (they vanish for both): on uci_collegemsg the regression's link AUC drops
    from 96.2 to 90.5 without it (``docs/results.md``, section 3d). So the decoder contains that
    regression (less common neighbours) as the special case ``s ≡ const`` and the latent
    carries what counting cannot. Every weight starts at 0 (the model starts as the
    context-free decoder; the gradient, e.g. ``∂ log p / ∂α = Σ_uv A_t(u,v) (A_{t+1}(u,v) −
    π_uv)``, is non-zero from the start).

    ``offset=True`` adds a constant ``+ o`` (the last weight; a lead term of the direct
    multi-horizon decoder needs its own intercept: an aged context has no ``A_t``)."""

    def __init__(self, history: bool, rates: tuple[float, ...] = (),
                 directed: bool = False, offset: bool = False) -> None:
        super().__init__()
        self.previous_weight = nn.Parameter(torch.zeros(()))
        self.history_weight = nn.Parameter(torch.zeros(())) if history else None
        self.rates = tuple(float(r) for r in rates)
        self.directed = bool(directed)
        r = len(self.rates)
        self.pair_weight = nn.Parameter(torch.zeros(r)) if r else None
        self.reverse_weight = nn.Parameter(torch.zeros(r)) if r and directed else None
        self.source_weight = nn.Parameter(torch.zeros(r)) if r else None
        self.target_weight = nn.Parameter(torch.zeros(r)) if r and directed else None
        self.product_weight = nn.Parameter(torch.zeros(r)) if r else None
        self.recency_weight = nn.Parameter(torch.zeros(1)) if r else None
        self.recency_target_weight = nn.Parameter(torch.zeros(1)) if r and directed else None
        self.offset = nn.Parameter(torch.zeros(())) if offset else None

    def _combine(self, prev: Tensor, hist: Tensor | None) -> Tensor:
        out = self.previous_weight * prev
        if self.history_weight is not None and hist is not None:
            out = out + self.history_weight * hist
        return out

    def _pair_values(self, ctx: EdgeContext) -> tuple[Tensor, Tensor | None]:
        """The pair terms of the stored pairs, ``(K,)`` forward and reverse."""
        feats = torch.log1p(ctx.rate_history)  # (K, R)
        fwd = feats @ self.pair_weight
        rev = feats @ self.reverse_weight if self.reverse_weight is not None else None
        return fwd, rev

    def _node_features(self, ctx: EdgeContext) -> tuple[Tensor, Tensor, Tensor]:
        """``(B, N, R)`` log-activity of sources and targets, and their weights."""
        act = torch.log1p(ctx.node_activity)  # (B, N, 2, R)
        target_w = self.source_weight if self.target_weight is None else self.target_weight
        return act[:, :, 0], act[:, :, 1], target_w

    def _recency_terms(self, ctx: EdgeContext) -> tuple[Tensor, Tensor]:
        """``(B, N)`` recency terms of each node as a source and as a target."""
        rec = torch.log1p(ctx.node_recency)
        tw = self.recency_weight if self.recency_target_weight is None \
            else self.recency_target_weight
        return rec * self.recency_weight, rec * tw

    def _weights(self) -> list[nn.Parameter]:
        """The weights in the order of :meth:`pair_features`' columns."""
        out = [self.previous_weight.reshape(1)]
        if self.history_weight is not None:
            out.append(self.history_weight.reshape(1))
        if self.pair_weight is not None:
            out.append(self.pair_weight)
            if self.reverse_weight is not None:
                out.append(self.reverse_weight)
            out.append(self.source_weight)
            if self.target_weight is not None:
                out.append(self.target_weight)
            out.append(self.product_weight)
            out.append(self.recency_weight)
            if self.recency_target_weight is not None:
                out.append(self.recency_target_weight)
        if self.offset is not None:
            out.append(self.offset.reshape(1))
        return out

    def weight_vector(self) -> Tensor:
        """All weights as one vector ``w``: the term is ``pair_features(ctx, pairs) @ w``."""
        return torch.cat([w.reshape(-1) for w in self._weights()])

    @torch.no_grad()
    def load_weight_vector(self, vector: Tensor) -> None:
        """Set the weights from a vector laid out as :meth:`weight_vector`."""
        i = 0
        for w in self._weights():
            n = w.numel()
            w.view(-1).copy_(vector[i:i + n].reshape(-1))
            i += n
        if i != vector.numel():
            raise ValueError(f"load_weight_vector: expected {i} values, got {vector.numel()}")

    def pair_features(self, ctx: EdgeContext, pairs: Tensor) -> Tensor:
        """``(B, P, F)`` the features the term is linear in, columns as :meth:`weight_vector`:
        ``A_t``, ``H_t``, ``log(1 + C^r)``, ``log(1 + C^r(v, u))`` (directed), the endpoints'
        log-activities (undirected: their sum), their product and the endpoints' log-recencies
        (undirected: their sum), and a column of ones with ``offset``."""
        prev, hist = ctx.lookup(pairs)
        cols = [prev.unsqueeze(-1)]
        if self.history_weight is not None:
            cols.append(hist.unsqueeze(-1))
        if self.pair_weight is not None:
            self._check(ctx)
            feats = torch.log1p(ctx.rate_history)
            r = feats.size(-1)
            cols.append(torch.stack([ctx.lookup_values(feats[:, i], pairs) for i in range(r)], -1))
            if self.reverse_weight is not None:
                rp = pairs.flip(0)
                cols.append(torch.stack([ctx.lookup_values(feats[:, i], rp) for i in range(r)],
                                        -1))
            src, dst, _ = self._node_features(ctx)
            pairs = pairs.to(src.device).long()
            su, tv = src[:, pairs[0]], dst[:, pairs[1]]
            if self.target_weight is not None:
                cols += [su, tv]
            else:
                cols.append(su + tv)
            cols.append(su * tv)
            rec = torch.log1p(ctx.node_recency)
            ru, rv = rec[:, pairs[0], None], rec[:, pairs[1], None]
            cols += [ru, rv] if self.recency_target_weight is not None else [ru + rv]
        if self.offset is not None:
            cols.append(torch.ones_like(cols[0]))
        return torch.cat(cols, -1)

    def _check(self, ctx: EdgeContext) -> None:
        if ctx.rates != self.rates:
            raise ValueError(f"EdgeContextTerm: the context has rates {ctx.rates}, the term "
                             f"{self.rates}")

    def pair_logits(self, ctx: EdgeContext, pairs: Tensor) -> Tensor:
        """``(B, P)`` context terms of the pairs ``(2, P)``."""
        out = self._combine(*ctx.lookup(pairs))
        if self.offset is not None:
            out = out + self.offset
        if self.pair_weight is None:
            return out
        self._check(ctx)
        fwd, rev = self._pair_values(ctx)
        out = out + ctx.lookup_values(fwd, pairs)
        if rev is not None:
            out = out + ctx.lookup_values(rev, pairs.flip(0))
        src, dst, tw = self._node_features(ctx)
        pairs = pairs.to(src.device).long()
        su, tv = src[:, pairs[0]], dst[:, pairs[1]]  # (B, P, R)
        rs, rt = self._recency_terms(ctx)
        return (out + su @ self.source_weight + tv @ tw + (su * tv) @ self.product_weight
                + rs[:, pairs[0]] + rt[:, pairs[1]])

    def dense_logits(self, ctx: EdgeContext) -> Tensor:
        """``(B, N, N)`` context terms (dense; small graphs): every row block at once."""
        return self.block_logits(ctx, 0, ctx.num_nodes)

    def block_parts(self, ctx: EdgeContext) -> tuple:
        """What every row block of :meth:`block_logits` shares, computed once per context: the
        stored pairs' terms placed at ``(b, row, column)`` and sorted by row (undirected pairs
        in both orders; a directed pair's reverse count under ``(v, u)``), and the endpoint
        terms (row, column and the product's factors)."""
        b, u, v = ctx.coords()
        val = self._combine(ctx.previous, ctx.history)
        rev = None
        if self.pair_weight is not None:
            self._check(ctx)
            pf, rev = self._pair_values(ctx)
            val = val + pf
        place = [(b, u, v, val)]
        if not ctx.directed or rev is not None:
            place.append((b, v, u, val if not ctx.directed else rev))
        bb, rr, cc, vv = (torch.cat(t) for t in zip(*place, strict=True))
        order = torch.argsort(rr, stable=True)
        pairs = (bb[order], rr[order], cc[order], vv[order])
        if self.pair_weight is None:
            return pairs, None
        src, dst, tw = self._node_features(ctx)
        rs, rt = self._recency_terms(ctx)
        ends = (src @ self.source_weight + rs, dst @ tw + rt, src * self.product_weight,
                dst.transpose(-1, -2))
        return pairs, ends

    def block_logits(self, ctx: EdgeContext, start: int, end: int,
                     parts: tuple | None = None) -> Tensor:
        """Rows ``start:end`` of :meth:`dense_logits`: ``(B, end - start, N)``, built from the
        stored pairs of those rows in ``O(K_rows + B·(end − start)·N)`` (no ``N x N`` tensor);
        ``parts``: :meth:`block_parts` of ``ctx``, shared by the blocks of one context."""
        (b, r, c, val), ends = self.block_parts(ctx) if parts is None else parts
        lo, hi = (int(i) for i in torch.searchsorted(r, torch.tensor([start, end],
                                                                      device=r.device)))
        out = torch.zeros(ctx.batch_size, end - start, ctx.num_nodes, device=ctx.keys.device,
                          dtype=val.dtype)
        if self.offset is not None:
            out = out + self.offset
        out.index_put_((b[lo:hi], r[lo:hi] - start, c[lo:hi]), val[lo:hi], accumulate=True)
        if ends is None:
            return out
        row, col, src_w, dst_t = ends
        # a batched matrix product: einsum's path for this contraction was ~40x slower on CPU
        return out + row[:, start:end].unsqueeze(-1) + col.unsqueeze(-2) \
            + src_w[:, start:end] @ dst_t


def align_rows(term: Tensor, lead: tuple[int, ...]) -> Tensor:
    """Broadcast a ``(B, ...)`` context term against the leading latent shape ``lead``."""
    b = term.size(0)
    if b == 1:
        return term[0]
    if math.prod(lead) != b:
        raise ValueError(f"decoder context has {b} rows but the latents have leading shape "
                         f"{lead}; pass one context row or one per sample")
    return term.reshape(*lead, *term.shape[1:])


class ContextScorer:
    """Edge scorer ``s(z_u, z_v) + context term`` (``β s(z_u, z_v) + …`` when the term is a
    refitted one with a latent weight ``β``) with the ``logits``/``dense_logits`` interface
    of :class:`~dyngraphvae.nn.decoders.EdgeDecoder` (so the dense and sparse evaluators of
    :func:`~dyngraphvae.nn.adjacency.adjacency_log_likelihood` and the forecast edge sampler use
    it unchanged)."""

    def __init__(self, decoder: EdgeDecoder, term: EdgeContextTerm, ctx: EdgeContext) -> None:
        self.decoder, self.term, self.ctx = decoder, term, ctx
        self.parts: tuple | None = None  # EdgeContextTerm.block_parts, made at the first block
        # a refitted term may re-weight the latent score (RefitTerm.latent_weight)
        self.beta = getattr(term, "latent_weight", None)

    def _scaled(self, base: Tensor) -> Tensor:
        return base if self.beta is None else base * self.beta.to(base.dtype)

    def logits(self, z: Tensor, pairs: Tensor) -> Tensor:
        base = self._scaled(self.decoder.logits(z, pairs))
        return base + align_rows(self.term.pair_logits(self.ctx, pairs), tuple(base.shape[:-1]))

    def dense_logits(self, z: Tensor) -> Tensor:
        base = self._scaled(self.decoder.dense_logits(z))
        return base + align_rows(self.term.dense_logits(self.ctx), tuple(base.shape[:-2]))

    def block_logits(self, z: Tensor, start: int, end: int) -> Tensor:
        base = self._scaled(self.decoder.block_logits(z, start, end))
        if self.parts is None:  # shared by every row block of this scorer's context
            self.parts = self.term.block_parts(self.ctx)
        return base + align_rows(self.term.block_logits(self.ctx, start, end, self.parts),
                                 tuple(base.shape[:-2]))


class OffsetScorer:
    r"""An edge scorer with random intercepts drawn once per sample row: ``ℓ_uv + δ_b`` (the
    snapshot effect, ``ForecasterConfig.snapshot_effect``, ``offsets (B,)``) and, with node
    effects (``node_effect``, ``source``, ``target`` ``(B, N)`` centred draws of variance
    ``node_var`` per pair), ``m(ℓ_uv) + δ_b + a_{b,u} + c_{b,v}`` with ``m`` the
    :func:`marginal_logit` that keeps every pair's probability,
    ``E σ(m(ℓ) + δ + a + c) = E σ(ℓ + δ)``;
    the scorer's ``logits`` / ``dense_logits`` / ``block_logits`` interface. ``scale``: the
    standard deviation of all the intercepts of a pair together, with which :meth:`predictive`
    integrates them out."""

    def __init__(self, scorer: Any, offsets: Tensor, scale: float | None = None,
                 source: Tensor | None = None, target: Tensor | None = None,
                 node_var: float = 0.0) -> None:
        self.scorer, self.offsets, self.scale = scorer, offsets, scale
        self.source, self.target, self.node_var = source, target, float(node_var)

    def base(self, logits: Tensor) -> Tensor:
        """The scorer's ``logits`` before the drawn intercepts: ``m(ℓ)`` with node effects."""
        if self.source is None:
            return logits
        # the snapshot effect's variance is what the total scale holds beyond the node effects
        return marginal_logit(logits, self.node_var, (self.scale or 0.0) ** 2 - self.node_var)

    def effect(self, pairs: Tensor) -> Tensor:
        """``(B, P)`` drawn intercepts of ``pairs (2, P)``."""
        out = self.offsets.unsqueeze(-1)
        if self.source is not None:
            out = out + self.source[:, pairs[0]] + self.target[:, pairs[1]]
        return out

    def _block(self, start: int, end: int) -> Tensor:
        out = self.offsets[:, None, None]
        if self.source is not None:
            out = out + self.source[:, start:end, None] + self.target[:, None, :]
        return out

    def drawn(self, logits: Tensor, pairs: Tensor) -> Tensor:
        """The sampled logits of ``pairs`` from the scorer's own ``logits (B, P)``."""
        return self.base(logits) + self.effect(pairs)

    def logits(self, z: Tensor, pairs: Tensor) -> Tensor:
        return self.drawn(self.scorer.logits(z, pairs), pairs)

    def dense_logits(self, z: Tensor) -> Tensor:
        return self.base(self.scorer.dense_logits(z)) + self._block(0, z.size(-2))

    def block_logits(self, z: Tensor, start: int, end: int) -> Tensor:
        return self.base(self.scorer.block_logits(z, start, end)) + self._block(start, end)

    def predictive(self, logits: Tensor) -> Tensor:
        """``E σ(m(ℓ) + ε)``, ``ε ~ N(0, scale²)``, from the scorer's own ``logits``: the
        intercepts integrated out of each sample's pair probabilities (``σ(ℓ)`` itself with node
        effects alone)."""
        return expected_sigmoid(self.base(logits), self.scale or 0.0)


def shift_mean(dist: Distribution | Tensor, shift: Tensor) -> Distribution | Tensor:
    """The feature distribution with its mean moved by ``shift`` (covariance unchanged)."""
    if isinstance(dist, Tensor):
        return dist + shift
    if isinstance(dist, Independent):
        base = dist.base_dist
        return Independent(Normal(base.loc + shift, base.scale), 1)
    if isinstance(dist, LowRankMultivariateNormal):
        return LowRankMultivariateNormal(dist.loc + shift, dist.cov_factor, dist.cov_diag)
    if isinstance(dist, MultivariateNormal):
        return MultivariateNormal(dist.loc + shift, scale_tril=dist.scale_tril)
    raise TypeError(f"shift_mean: unsupported feature distribution {type(dist).__name__}")


def aged(edges: EdgeContext, decay: float | None) -> EdgeContext:
    r"""The edge context one snapshot later with no edge observed (``A = 0``): ``H ← λ H``,
    ``C^r ← r C^r``, ``D^r ← r D^r``, ``ρ ← ρ + 1``. The edge context of every step of a direct
    multi-horizon forecast (``ForecasterConfig.context_leads > 1``): the origin's observed
    history, never the forecast's own samples."""
    none = torch.zeros(3, 0, dtype=torch.long, device=edges.keys.device)
    return EdgeContext.from_edges(none, edges.num_nodes, edges.directed, edges.batch_size, edges,
                                  decay)


def lag_inputs(x: Tensor, neighbours: Tensor | None, spatial: bool) -> Tensor:
    r"""The inputs of the autoregressive feature mean: the lag window ``x`` (``(N, L·F)`` or
    ``(…, N, L·F)``) and, when ``spatial``, its neighbour means ``P x``
    (:func:`~dyngraphvae.data.neighbours.neighbour_mean`; zero when no graph was observed, as
    the window then is), concatenated on the last dimension.
    """
    if not spatial:
        return x
    if neighbours is None:
        return torch.cat([x, torch.zeros_like(x)], -1)
    p = neighbours.to(device=x.device, dtype=x.dtype)
    if x.dim() == 2:
        nx = torch.sparse.mm(p, x)
    else:
        n, k = x.shape[-2], x.shape[-1]
        b = x.numel() // (n * k)  # any leading (sample, …) dimensions
        flat = x.reshape(b, n, k).transpose(0, 1).reshape(n, b * k)
        nx = torch.sparse.mm(p, flat).reshape(n, b, k).transpose(0, 1).reshape(x.shape)
    return torch.cat([x, nx], -1)


def push_lag(x_new: Tensor, lags: Tensor) -> Tensor:
    """``[x_new, x_t, …, x_{t-L+2}]``: the lag window ``lags (…, N, L·F)`` shifted by one
    snapshot; a shared ``(N, L·F)`` window is broadcast to the rows of ``x_new (B, N, F)``."""
    f = x_new.size(-1)
    old = lags[..., :lags.size(-1) - f]
    if old.dim() < x_new.dim():
        old = old.expand(*x_new.shape[:-1], old.size(-1))
    return torch.cat([x_new, old.to(x_new.dtype)], dim=-1)


def decoder_contexts(
    graph: Any,
    start: DecoderContext,
    *,
    upto: int | None = None,
    directed: bool,
    decay: float | None,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
    neighbours: bool = False,
) -> list[DecoderContext]:
    r"""Contexts of snapshot indices ``0..upto`` of ``graph`` (default ``upto = T - 1``), starting
    from ``start`` (the empty context of snapshot 0): entry ``s`` holds ``A_s``, ``H_s`` (the
    history ``H_s = A_s + λ H_{s-1}`` when ``decay = λ`` is given) and ``x_s`` of snapshot
    ``s - 1`` (the lag window ``x_{s-1}, …, x_{s-L}``, :func:`push_lag`); previous features of
    absent nodes are zero. ``dropout = p`` removes every stored
    pair and zeroes every node's previous features with probability ``p`` (fresh coins per step);
    the recursion itself runs on the clean data. ``neighbours``: entry ``s`` also holds the
    neighbour-mean operator of ``G_{s-1}`` (:func:`~dyngraphvae.data.neighbours.neighbour_mean`)."""
    T = len(graph)
    upto = T - 1 if upto is None else int(upto)
    if not 0 <= upto <= T:
        raise ValueError(f"decoder_contexts: upto must lie in [0, {T}], got {upto}")
    n = graph.num_nodes
    edge_ctx, x_ctx, op = start.edges, start.x, start.neighbours
    out = []
    for s in range(upto + 1):
        if s > 0:
            if edge_ctx is not None:
                edge_ctx = EdgeContext.from_edges(graph.edges(s - 1), n, directed, 1, edge_ctx,
                                                  decay)
            if x_ctx is not None:
                x_new = graph.features(s - 1).to(start.x.device)
                if graph.node_mask is not None:
                    x_new = x_new * graph.node_mask[s - 1].unsqueeze(-1).to(x_new.dtype)
                x_ctx = push_lag(x_new, x_ctx)
                if neighbours:
                    op = neighbour_mean(graph.edges(s - 1), n)
        e, x = edge_ctx, x_ctx
        if dropout > 0:
            if e is not None and e.keys.numel() > 0:
                # drop whole stored pairs: run drop_edges on the entries' positions, so the
                # kept set is exact whatever the key layout (b*N^2 + u*N + v)
                idx = torch.arange(e.keys.numel(), device=e.keys.device)
                kept, _ = drop_edges(torch.stack([idx, idx]), dropout, training=True,
                                     edge_weight=None, generator=generator)
                keep = torch.zeros(idx.numel(), dtype=torch.bool, device=idx.device)
                keep[kept[0]] = True
                e = e.select(keep)
            if x is not None:
                x = drop_inputs(x, dropout, training=True, generator=generator)
        seen = None if start.observed is None else start.observed + s
        out.append(DecoderContext(edges=e, x=x, neighbours=op, observed=seen))
    return out

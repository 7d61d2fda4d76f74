r"""Baselines shown next to the model in every results table.

Link baselines score node pairs of the *next* snapshot from a history
:class:`~dyngraphvae.TemporalGraph` ``G_1..G_T`` (uniform interface
``score_pairs(history, pairs (2, P)) -> (P,)``, higher = more likely an edge at ``T+1``):

* :class:`PersistenceLinks`: :math:`s(i,j) = A_T(i,j)`.
* :class:`EdgeFrequencyLinks`: the history heuristic of ``VGRNN_RESULTS.md`` (quirk 6),
  :math:`s(i,j) = \sum_{t\le T} A_t(i,j) + 0.5\,A_T(i,j)
  + 10^{-3}\,\frac{d_i d_j}{\max_v d_v^2 + 1}`, :math:`d_v = \sum_{t \le T} \deg_t(v)`.
* :class:`EdgeBankLinks`: EdgeBank (Poursafaei et al., NeurIPS 2022), the memory baseline of the
  field: :math:`s(i,j) = 1` if the pair has an edge in the remembered history, else 0; unlimited
  memory (``window=None``, EdgeBank∞) or the last ``window`` snapshots (EdgeBank_tw).
* :class:`VGAELinks`: a static PyG ``VGAE`` (Kipf & Welling 2016, GCN encoder) trained on
  :math:`G_T`, scoring :math:`\sigma(\mu_i^\top \mu_j)`.

Feature baselines forecast node features (uniform interface
``predict(history, horizon) -> (horizon, N, F)``) or, for lag-window datasets such as the PyG
Temporal ones, node targets (``predict_targets(train, test) -> test.y``'s shape):

* :class:`PersistenceFeatures`: :math:`\hat x_{T+h} = x_T`; targets: the most recent lag.
* :class:`LinearLagRegression`: least squares on lags with coefficients shared by all nodes,
  :math:`x_{t}[v] = b + \sum_{l=1}^{L} W_l\, x_{t-l}[v] + \varepsilon`, iterated for ``h > 1``;
  targets: :math:`y_t[v] = b + W x_t[v]` (the "linear regression on lags (shared)" column of the
  PyG Temporal table in ``datasets/pygt/README.md``).

No baseline keeps state between calls: fitting happens inside ``score_pairs`` / ``predict``,
and ``fit`` methods return what they fitted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from dyngraphvae.data.splits import _pair_keys as _keys
from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = [
    "EdgeBankLinks",
    "EdgeFrequencyLinks",
    "FeatureBaseline",
    "LinearLagFit",
    "LinearLagRegression",
    "SpatialLagRegression",
    "LinkBaseline",
    "PersistenceFeatures",
    "PersistenceLinks",
    "VGAELinks",
    "FEATURE_BASELINE_LAGS",
    "gaussian_lag_paths",
    "lag_baseline_paths",
    "least_squares",
    "link_baselines",
]


@runtime_checkable
class LinkBaseline(Protocol):
    """Scores node pairs of the snapshot following ``history``."""

    def score_pairs(self, history: TemporalGraph, pairs: Tensor) -> Tensor: ...


@runtime_checkable
class FeatureBaseline(Protocol):
    """Forecasts node features ``horizon`` steps after ``history``."""

    def predict(self, history: TemporalGraph, horizon: int) -> Tensor: ...


# ---------------------------------------------------------------------------- helpers
def _check_pairs(pairs: Tensor, num_nodes: int, who: str) -> Tensor:
    if not isinstance(pairs, Tensor) or pairs.dim() != 2 or pairs.size(0) != 2:
        shape = tuple(pairs.shape) if isinstance(pairs, Tensor) else type(pairs).__name__
        raise ValueError(f"{who}: pairs must be a (2, P) tensor, got {shape}")
    if pairs.dtype.is_floating_point or pairs.dtype == torch.bool:
        raise TypeError(f"{who}: pairs must be an integer tensor, got {pairs.dtype}")
    if pairs.numel() and (pairs.min() < 0 or pairs.max() >= num_nodes):
        raise ValueError(f"{who}: pairs hold node ids outside [0, {num_nodes})")
    return pairs.long()



def _lookup_counts(table_keys: Tensor, query: Tensor) -> Tensor:
    """Number of occurrences of each ``query`` key in ``table_keys`` (O((E + P) log E))."""
    if table_keys.numel() == 0:
        return torch.zeros(query.shape, dtype=torch.float64, device=query.device)
    uniq, counts = torch.unique(table_keys, return_counts=True)
    idx = torch.searchsorted(uniq, query).clamp(max=uniq.numel() - 1)
    return torch.where(uniq[idx] == query, counts[idx], torch.zeros_like(counts[idx])).double()


# ---------------------------------------------------------------------------- link baselines
@dataclass(frozen=True)
class PersistenceLinks:
    r"""Persistence: :math:`s(i, j) = A_T(i, j)`, the last snapshot of the history (0/1)."""

    def score_pairs(self, history: TemporalGraph, pairs: Tensor) -> Tensor:
        """``(P,)`` float64 scores of ``pairs (2, P)`` for snapshot ``T + 1``."""
        n = history.num_nodes
        pairs = _check_pairs(pairs, n, "PersistenceLinks")
        last = _keys(history.edges(len(history) - 1), n, history.directed)
        return _lookup_counts(last, _keys(pairs, n, history.directed)).clamp(max=1.0)


@dataclass(frozen=True)
class EdgeBankLinks:
    r"""EdgeBank (Poursafaei, Huang, Pelrine & Rabbany, NeurIPS 2022): memory without learning.

    .. math::
        s(i, j) = \mathbf 1\big[(i, j) \in \textstyle\bigcup_{t \in M} E_t\big],\qquad
        M = \{1..T\}\ (\text{EdgeBank}_\infty)\ \text{or}\ \{T - w + 1..T\}\
        (\text{EdgeBank}_{tw}, w = \texttt{window}).

    The paper's time window is the duration of the test span; in snapshots, ``window`` = the
    number of test snapshots. Ties (every unseen pair scores 0) count one half in AUC.
    """

    window: int | None = None

    def score_pairs(self, history: TemporalGraph, pairs: Tensor) -> Tensor:
        """``(P,)`` float64 0/1 scores of ``pairs (2, P)`` for snapshot ``T + 1``."""
        if self.window is not None and (isinstance(self.window, bool) or self.window < 1
                                        or int(self.window) != self.window):
            raise ValueError(f"EdgeBankLinks: window must be a positive integer or None, "
                             f"got {self.window!r}")
        n, directed = history.num_nodes, history.directed
        pairs = _check_pairs(pairs, n, "EdgeBankLinks")
        T = len(history)
        first = 0 if self.window is None else max(0, T - int(self.window))
        seen = torch.cat([_keys(history.edges(t), n, directed) for t in range(first, T)])
        return _lookup_counts(seen, _keys(pairs, n, directed)).clamp(max=1.0)


@dataclass(frozen=True)
class EdgeFrequencyLinks:
    r"""History heuristic of ``VGRNN_RESULTS.md`` (quirk 6), no training.

    .. math::
        s(i,j) = \#\{t \le T: (i,j) \in E_t\} + w_p\,A_T(i,j)
        + w_d\,\frac{d_i\,d_j}{\max_v d_v^2 + 1},\qquad d_v = \sum_{t\le T}\deg_t(v),

    with :math:`w_p = 0.5`, :math:`w_d = 10^{-3}`: frequency first, recency breaks ties among
    equally frequent pairs, a preferential-attachment term ranks never-seen pairs (it is below
    0.5 so it never overturns the first two). Directed graphs use :math:`d_i` = summed
    out-degree of ``i`` and :math:`d_j` = summed in-degree of ``j`` (the max over both).
    Cost :math:`O(\sum_t E_t \log + P)`, no dense matrix.
    """

    persistence_weight: float = 0.5
    degree_weight: float = 1e-3

    def score_pairs(self, history: TemporalGraph, pairs: Tensor) -> Tensor:
        """``(P,)`` float64 scores of ``pairs (2, P)`` for snapshot ``T + 1``."""
        n, directed = history.num_nodes, history.directed
        pairs = _check_pairs(pairs, n, "EdgeFrequencyLinks")
        T = len(history)
        all_edges = torch.cat([history.edges(t) for t in range(T)], dim=1)
        q = _keys(pairs, n, directed)
        count = _lookup_counts(_keys(all_edges, n, directed), q)
        last = _lookup_counts(_keys(history.edges(T - 1), n, directed), q).clamp(max=1.0)
        src, dst = all_edges[0], all_edges[1]
        if directed:
            d_out = torch.bincount(src, minlength=n).double()
            d_in = torch.bincount(dst, minlength=n).double()
        else:
            d_out = d_in = torch.bincount(torch.cat([src, dst]), minlength=n).double()
        max_deg = torch.maximum(d_out.max(), d_in.max())
        pa = d_out[pairs[0]] * d_in[pairs[1]] / (max_deg * max_deg + 1)
        return count + self.persistence_weight * last + self.degree_weight * pa


@dataclass(frozen=True)
class VGAELinks:
    r"""Static VGAE (Kipf & Welling 2016) trained on the last history snapshot :math:`G_T`.

    ``torch_geometric.nn.VGAE`` with a GCN encoder (``in -> hidden`` ReLU, then GCN heads for
    :math:`\mu` and :math:`\log\sigma`, as in PyG's ``examples/autoencoder.py``), trained by
    Adam on PyG's objective ``recon_loss(z, E_T) + kl_loss() / N`` (Kipf's scaling, negatives by
    ``negative_sampling``). Pairs are scored :math:`\sigma(\mu_i^\top\mu_j)` (posterior means).
    Node inputs: the snapshot's features if ``features="auto"`` and the graph has them, else the
    identity (one-hot node ids, :math:`N \times N`, as VGAE / VGRNN do for featureless graphs).
    Training is seeded (``seed``); the global torch and Python RNG states are restored after.
    """

    hidden_channels: int = 32
    latent_channels: int = 16
    epochs: int = 200
    lr: float = 0.01
    features: str = "auto"
    seed: int = 0

    def _inputs(self, history: TemporalGraph, t: int) -> Tensor:
        if self.features not in ("auto", "identity"):
            raise ValueError(
                f"VGAELinks: features must be 'auto' or 'identity', got {self.features!r}"
            )
        if self.features == "auto" and history.has_features:
            return history.features(t).float()
        return torch.eye(history.num_nodes, device=history.device)

    def fit(self, history: TemporalGraph):
        """Train on the last snapshot.

        Returns:
            ``(model, x, edge_index)``: the trained ``VGAE`` in eval mode and its inputs.
        """
        from torch_geometric.nn import VGAE, GCNConv

        t = len(history) - 1
        edge_index = history.edges(t, both_directions=True)
        if edge_index.size(1) == 0:
            raise ValueError(f"VGAELinks: snapshot {t} has no edges to train on")
        x = self._inputs(history, t)
        hidden, latent = self.hidden_channels, self.latent_channels

        class _Encoder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = GCNConv(x.size(1), hidden)
                self.mu = GCNConv(hidden, latent)
                self.logstd = GCNConv(hidden, latent)

            def forward(self, x: Tensor, edge_index: Tensor):
                h = self.conv(x, edge_index).relu()
                return self.mu(h, edge_index), self.logstd(h, edge_index)

        devices = [x.device] if x.device.type == "cuda" else []
        py_state = random.getstate()  # PyG's negative_sampling draws with Python's `random`
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed)
                random.seed(self.seed)
                model = VGAE(_Encoder()).to(x.device)
                opt = torch.optim.Adam(model.parameters(), lr=self.lr)
                model.train()
                for _ in range(self.epochs):
                    opt.zero_grad()
                    z = model.encode(x, edge_index)
                    loss = model.recon_loss(z, edge_index) + model.kl_loss() / history.num_nodes
                    loss.backward()
                    opt.step()
        finally:
            random.setstate(py_state)
        model.eval()
        return model, x, edge_index

    def score_pairs(self, history: TemporalGraph, pairs: Tensor) -> Tensor:
        """``(P,)`` edge probabilities (posterior-mean inner products) for snapshot ``T + 1``."""
        pairs = _check_pairs(pairs, history.num_nodes, "VGAELinks")
        model, x, edge_index = self.fit(history)
        with torch.no_grad():
            z = model.encode(x, edge_index)  # eval mode: the posterior mean
            return model.decoder(z, pairs.to(z.device), sigmoid=True)


def link_baselines(edgebank_window: int, horizon: int = 1) -> dict[str, LinkBaseline]:
    """The link baselines every report shows next to the model, for a target ``horizon``
    snapshots after the history: persistence, edge frequency, EdgeBank with unlimited memory and
    over the last ``edgebank_window`` snapshots, and the pair-history regression fitted for that
    horizon (:class:`~dyngraphvae.evaluation.pair_history.PairHistoryRegression`, the strongest
    of them on sparse activity data) twice: on balanced rows (``pair_history``, the strongest
    against historical negatives) and by the snapshots' full likelihood (``pair_history_ml``,
    ``weighting="natural"``, the strongest against random negatives and on MRR)."""
    from dyngraphvae.evaluation.pair_history import PairHistoryRegression

    h = int(horizon)
    return {"persistence": PersistenceLinks(), "frequency": EdgeFrequencyLinks(),
            "edgebank": EdgeBankLinks(), "edgebank_tw": EdgeBankLinks(int(edgebank_window)),
            "pair_history": PairHistoryRegression(horizon=h),
            "pair_history_ml": PairHistoryRegression(horizon=h, weighting="natural")}


# ---------------------------------------------------------------------------- feature baselines
def _per_step_features(history: TemporalGraph, who: str) -> Tensor:
    if not history.has_features:
        raise ValueError(f"{who}: the history has no node features")
    x = history.x
    if x.dim() != 3:
        raise ValueError(f"{who}: needs per-step features (T, N, F); this graph has static (N, F)")
    return x


def _check_horizon(horizon: int, who: str) -> int:
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"{who}: horizon must be a positive integer, got {horizon!r}")
    return int(horizon)


@dataclass(frozen=True)
class PersistenceFeatures:
    r"""Persistence: :math:`\hat x_{T+h} = x_T` for all ``h``; targets :math:`\hat y_t = x_t[\ell]`.

    ``lag_feature`` is the feature column that holds the most recent value in lag-window
    datasets (PyG Temporal: ``x[t, v] = (s_t, ..., s_{t+L-1})``, ``y[t, v] = s_{t+L}``, so ``-1``).
    """

    lag_feature: int = -1

    def predict(self, history: TemporalGraph, horizon: int) -> Tensor:
        """``(horizon, N, F)``: the last observed features repeated."""
        h = _check_horizon(horizon, "PersistenceFeatures")
        if not history.has_features:
            raise ValueError("PersistenceFeatures: the history has no node features")
        last = history.features(len(history) - 1)
        return last.unsqueeze(0).expand(h, *last.shape).clone()

    def predict_targets(self, train: TemporalGraph | None, test: TemporalGraph) -> Tensor:
        """``(T, N)`` predictions of ``test.y``: the most recent lag (``train`` is unused)."""
        x = _per_step_features(test, "PersistenceFeatures.predict_targets")
        return x[..., self.lag_feature]


def least_squares(
    inputs: Tensor, targets: Tensor, *, intercept: bool = True, ridge: float = 0.0
) -> tuple[Tensor, Tensor]:
    r"""Least squares :math:`\min_{W,b}\|Y - XW - b\|^2 + \lambda\|W\|^2` in float64.

    Solved by ``torch.linalg.lstsq`` on the (ridge-augmented) design matrix; the intercept is not
    penalised.

    Args:
        inputs: ``(R, P)`` design rows.
        targets: ``(R, D)`` responses.
        intercept: fit ``b`` (else ``b = 0``).
        ridge: :math:`\lambda \ge 0`.

    Returns:
        ``(W (P, D), b (D,))`` in float64.
    """
    if inputs.dim() != 2 or targets.dim() != 2 or inputs.size(0) != targets.size(0):
        raise ValueError(
            f"least_squares: need inputs (R, P) and targets (R, D), got {tuple(inputs.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if ridge < 0:
        raise ValueError(f"least_squares: ridge must be >= 0, got {ridge}")
    X, Y = inputs.double(), targets.double()
    R, P = X.shape
    if R == 0:
        raise ValueError("least_squares: no rows to fit")
    if intercept:
        X = torch.cat([X, torch.ones(R, 1, dtype=X.dtype, device=X.device)], dim=1)
    if ridge > 0:
        pen = torch.zeros(P, X.size(1), dtype=X.dtype, device=X.device)
        pen[:, :P] = ridge**0.5 * torch.eye(P, dtype=X.dtype, device=X.device)
        X = torch.cat([X, pen])
        Y = torch.cat([Y, torch.zeros(P, Y.size(1), dtype=Y.dtype, device=Y.device)])
    driver = "gelsd" if X.device.type == "cpu" else None
    sol = torch.linalg.lstsq(X, Y, driver=driver).solution
    W = sol[:P]
    b = sol[P] if intercept else torch.zeros(Y.size(1), dtype=Y.dtype, device=Y.device)
    return W, b


@dataclass(frozen=True)
class LinearLagFit:
    r"""Fitted shared lag regression :math:`x_t = b + \sum_{l=1}^{L} W_l x_{t-l}`.

    ``weight`` is ``(L * F, F)`` with rows ordered lag-major (lag 1 first); ``coefficients``
    gives ``(L, F, F)`` with ``coefficients[l-1] = W_l`` acting as ``x_{t-l} @ W_l``.
    """

    weight: Tensor
    bias: Tensor
    lags: int

    @property
    def coefficients(self) -> Tensor:
        F = self.bias.numel()
        return self.weight.reshape(self.lags, F, F)

    def step(self, window: Tensor) -> Tensor:
        """One-step prediction from ``window (L, N, F)`` (oldest first) -> ``(N, F)``."""
        lagged = window.flip(0).permute(1, 0, 2).reshape(window.size(1), -1)  # lag 1 first
        return lagged.double() @ self.weight + self.bias


@dataclass(frozen=True)
class LinearLagRegression:
    r"""Linear regression on lags, shared across nodes, by least squares (float64).

    Features: :math:`x_t[v] = b + \sum_{l=1}^{L} W_l\,x_{t-l}[v] + \varepsilon`, all nodes and
    steps pooled (a VAR(L) common to the nodes; for ``F = 1`` an AR(L)); multi-step forecasts
    iterate the one-step map on its own predictions. Targets (lag-window data):
    :math:`y_t[v] = b + W x_t[v]` (:meth:`predict_targets`). Rows with a masked node
    (``node_mask``) at any involved step are left out of the fit.
    """

    lags: int = 4
    intercept: bool = True
    ridge: float = 0.0

    def fit(self, history: TemporalGraph) -> LinearLagFit:
        """Fit on the features ``x (T, N, F)`` of ``history``; needs ``T > lags``."""
        L = self.lags
        if isinstance(L, bool) or int(L) != L or L < 1:
            raise ValueError(f"LinearLagRegression: lags must be a positive integer, got {L!r}")
        x = _per_step_features(history, "LinearLagRegression")
        T, N, F = x.shape
        history.require_snapshots(L + 1, f"LinearLagRegression with lags={L}")
        # lagged[t - L, v] = (x_{t-1}[v], ..., x_{t-L}[v]) for targets x_t, t = L..T-1
        win = x.unfold(0, L + 1, 1)  # (T - L, N, F, L + 1), oldest first on the last dim
        target = win[..., L]
        lagged = win[..., :L].flip(-1).permute(0, 1, 3, 2).reshape(T - L, N, L * F)
        keep = torch.ones(T - L, N, dtype=torch.bool, device=x.device)
        if history.node_mask is not None:
            keep = history.node_mask.unfold(0, L + 1, 1).all(-1)
        W, b = least_squares(
            lagged[keep], target[keep], intercept=self.intercept, ridge=self.ridge
        )
        return LinearLagFit(weight=W, bias=b, lags=L)

    def predict(self, history: TemporalGraph, horizon: int) -> Tensor:
        """``(horizon, N, F)`` iterated forecast after fitting on ``history`` itself."""
        h = _check_horizon(horizon, "LinearLagRegression")
        fit = self.fit(history)
        x = history.x
        window = x[-self.lags :].double()
        out = []
        for _ in range(h):
            nxt = fit.step(window)
            out.append(nxt)
            window = torch.cat([window[1:], nxt.unsqueeze(0)])
        return torch.stack(out).to(x.dtype)

    def fit_targets(self, train: TemporalGraph) -> tuple[Tensor, Tensor]:
        """Fit :math:`y_t[v] = b + W x_t[v]` on ``train`` (needs ``x (T, N, F)`` and ``y``)."""
        x = _per_step_features(train, "LinearLagRegression.fit_targets")
        if train.y is None:
            raise ValueError("LinearLagRegression.fit_targets: the training graph has no targets y")
        y = train.y
        y2 = y.unsqueeze(-1) if y.dim() == 2 else y
        keep = (
            torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
            if train.node_mask is None
            else train.node_mask
        )
        return least_squares(x[keep], y2[keep], intercept=self.intercept, ridge=self.ridge)

    def predict_targets(self, train: TemporalGraph, test: TemporalGraph) -> Tensor:
        """Predictions of ``test.y`` (same shape) from a fit on ``train``."""
        W, b = self.fit_targets(train)
        x = _per_step_features(test, "LinearLagRegression.predict_targets")
        pred = x.double() @ W + b
        if train.y.dim() == 2:
            pred = pred.squeeze(-1)
        return pred.to(x.dtype)


def gaussian_lag_paths(history: TemporalGraph, horizon: int, num_samples: int, *,
                       lags: int = 4, neighbours: bool = False,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""The Gaussian linear model on the lags as a multi-step forecaster of per-snapshot features:

    .. math::
        x_s[v] = b + \sum_{l=1}^{L} W_l x_{s-l}[v]
                 \ [+ \sum_{l=1}^{L} V_l (P_{s-1} x_{s-l})[v]] + ε,
        \quad ε \sim N(0, \mathrm{diag}\,σ^2)

    fitted by least squares on the targets ``s = L..T−1`` of ``history`` (every lag observed;
    rows of absent nodes left out), ``σ²`` the mean squared training residual per feature; with
    ``neighbours`` the STAR of :class:`SpatialLagRegression` (``P_{s-1}``: the neighbour-mean
    operator of ``G_{s-1}``; forecasts use the last observed graph's). Returns the iterated point
    forecast ``(H, N, F)`` (the noise-free map) and ``num_samples`` simulated paths
    ``(S, H, N, F)``, each step fed its own draw: the multi-step predictive of the baseline."""
    from dyngraphvae.data.neighbours import neighbour_mean
    from dyngraphvae.models.context import lag_inputs

    x = _per_step_features(history, "gaussian_lag_paths").double()
    T, n, f = x.shape
    L = int(lags)
    history.require_snapshots(L + 2, f"gaussian_lag_paths with lags={L}")
    H = _check_horizon(horizon, "gaussian_lag_paths")

    def op(t: int) -> Tensor:
        return neighbour_mean(history.edges(t), n).double().to(x.device)

    def design(window: Tensor, p: Tensor | None) -> Tensor:
        """``window (…, N, L·F)`` → the inputs ``(…, N, K)``, as the model's AR mean reads them
        (every sample path in one sparse product)."""
        return lag_inputs(window, p, neighbours)

    rows, targets = [], []
    for s in range(L, T):
        window = torch.cat([x[s - l] for l in range(1, L + 1)], -1)
        d = design(window, op(s - 1) if neighbours else None)
        keep = (torch.ones(n, dtype=torch.bool, device=x.device) if history.node_mask is None
                else history.node_mask[s - L:s + 1].all(0))
        rows.append(d[keep])
        targets.append(x[s][keep])
    X, Y = torch.cat(rows), torch.cat(targets)
    W, b = least_squares(X, Y)
    sigma = (X @ W + b - Y).pow(2).mean(0).sqrt()  # (F,)
    p_last = op(T - 1) if neighbours else None
    window = torch.cat([x[T - l] for l in range(1, L + 1)], -1)  # lag 1 first
    point, paths = [], []
    win_p = window
    win_s = window.expand(int(num_samples), n, L * f).clone()
    for _ in range(H):
        mean_p = design(win_p, p_last) @ W + b
        mean_s = design(win_s, p_last) @ W + b
        draw = mean_s + sigma * torch.randn(mean_s.shape, generator=generator,
                                            dtype=mean_s.dtype, device=mean_s.device)
        point.append(mean_p)
        paths.append(draw)
        win_p = torch.cat([mean_p, win_p[..., :-f]], -1)
        win_s = torch.cat([draw, win_s[..., :-f]], -1)
    dtype = history.x.dtype
    return torch.stack(point).to(dtype), torch.stack(paths, 1).to(dtype)


#: lags of the feature baselines of ``evaluate`` and the drift evaluation (PyG Temporal's 4)
FEATURE_BASELINE_LAGS = 4


def lag_baseline_paths(history: TemporalGraph, horizon: int, num_samples: int, seed: int,
                       lags: int = FEATURE_BASELINE_LAGS) -> dict[str, tuple[Tensor, Tensor]]:
    """The feature baselines of a forecast from the end of ``history``: ``"linear_lags"`` (the
    Gaussian linear model on ``lags`` own lags) and ``"spatial_lags"`` (and their neighbour
    means), each ``(point forecast, paths)`` of :func:`gaussian_lag_paths`, drawn from one
    generator seeded by ``seed``; empty when the history has no per-snapshot features or is too
    short to fit them."""
    if history.x is None or history.x.dim() != 3 or len(history) < int(lags) + 2:
        return {}
    gen = torch.Generator().manual_seed(int(seed))
    return {name: gaussian_lag_paths(history, horizon, num_samples, lags=lags, neighbours=nb,
                                     generator=gen)
            for name, nb in (("linear_lags", False), ("spatial_lags", True))}


@dataclass(frozen=True)
class SpatialLagRegression:
    r"""Linear regression on each node's lags and on its neighbours' mean lags (a space-time
    autoregression, STAR; Pfeifer & Deutsch, Technometrics 1980), shared across nodes, by least
    squares (float64), on lag-window data:

    .. math::
        y_t[v] = b + W x_t[v] + V (P_t x_t)[v] + ε,

    ``x_t[v]`` the lag window of node ``v`` at step ``t``, ``P_t`` the neighbour-mean operator of
    the step's graph (:func:`~dyngraphvae.data.neighbours.neighbour_mean`). It contains
    :class:`LinearLagRegression` (``V = 0``) and is the baseline of the model's
    ``feature_neighbours`` mean. Rows of masked nodes are left out of the fit.
    """

    intercept: bool = True
    ridge: float = 0.0

    @staticmethod
    def design(graph: TemporalGraph) -> Tensor:
        """``(T, N, 2·K)``: each step's lag window ``x_t`` next to its neighbour means."""
        from dyngraphvae.data.neighbours import neighbour_mean

        x = _per_step_features(graph, "SpatialLagRegression").double()
        nx = torch.stack([torch.sparse.mm(neighbour_mean(graph.edges(t), graph.num_nodes)
                                          .double().to(x.device), x[t])
                          for t in range(x.size(0))])
        return torch.cat([x, nx], -1)

    def fit_targets(self, train: TemporalGraph) -> tuple[Tensor, Tensor]:
        """Fit on ``train`` (needs lag windows ``x (T, N, K)`` and targets ``y``)."""
        if train.y is None:
            raise ValueError("SpatialLagRegression.fit_targets: the training graph has no "
                             "targets y")
        x = self.design(train)
        y = train.y.double()
        y2 = y.unsqueeze(-1) if y.dim() == 2 else y
        keep = (torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
                if train.node_mask is None else train.node_mask)
        return least_squares(x[keep], y2[keep], intercept=self.intercept, ridge=self.ridge)

    def predict_targets(self, train: TemporalGraph, test: TemporalGraph) -> Tensor:
        """Predictions of ``test.y`` (same shape) from a fit on ``train``."""
        W, b = self.fit_targets(train)
        pred = self.design(test) @ W + b
        if train.y.dim() == 2:
            pred = pred.squeeze(-1)
        return pred.to(test.x.dtype)

"""Posterior-collapse demonstration: a sequence VAE with a strong autoregressive decoder.

Synthetic data with a KNOWN number of informative latent dimensions: each sequence x_{1:L} in
R^{L x D} starts at a point set by a global latent c ~ N(0, I_k) (k = 2 by default) and then
follows a random walk,

    x_1 = scale * W c + init_noise * eps_1,   x_t = rho * x_{t-1} + step_noise * eps_t  (t >= 2),

with W = the first k coordinate axes (so p(x_1) is a diagonal Gaussian) and rho = 1. The model has a
d-dimensional latent z (d = 8 > k) and a GRU decoder that sees the teacher-forced x_{t-1} (and z).
Without z that decoder can represent p(x) exactly, so at beta = 1 using z can at best tie with
ignoring it and the plain ELBO drifts towards collapse. The cures compared are free bits, cyclical
annealing and decoder weakening (input dropout), all from :mod:`dyngraphvae.collapse`.
Measured results: docs/collapse.md. Used by ``examples/collapse_demo.py`` and the collapse tests.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from dyngraphvae.collapse.diagnostics import active_units, kl_per_dimension, mutual_information
from dyngraphvae.collapse.free_bits import free_bits
from dyngraphvae.collapse.schedules import ConstantSchedule, CyclicalSchedule, KLSchedule
from dyngraphvae.collapse.weakening import drop_inputs

__all__ = [
    "DemoConfig",
    "DemoResult",
    "SequenceData",
    "SequenceVAE",
    "make_sequences",
    "run_demo",
    "train_sequence_vae",
]


@dataclass
class SequenceData:
    """Sequences ``x`` (num, L, D) and the true global latents ``c`` (num, k) that generated
    them.
    """

    x: Tensor
    c: Tensor
    num_informative: int


def make_sequences(
    num: int,
    length: int = 16,
    dim: int = 4,
    num_informative: int = 2,
    rho: float = 1.0,
    scale: float = 2.0,
    init_noise: float = 0.3,
    step_noise: float = 0.3,
    sharpness: float | None = None,
    seed: int = 0,
) -> SequenceData:
    """Draw ``num`` sequences from the generative process in the module docstring.

    x_1 = scale · W f(c) + init_noise · ε_1 and x_t = ρ x_{t−1} + step_noise · ε_t (t ≥ 2), with
    f = identity (``sharpness=None``) or tanh(sharpness · c). W is seeded by 1234 so that train
    and test
    sets drawn with different ``seed`` share the same law.
    """
    if not 1 <= num_informative <= dim:
        raise ValueError(
            f"make_sequences: need 1 <= num_informative <= dim, got {num_informative}, {dim}"
        )
    w = torch.eye(dim, num_informative)
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(num, num_informative, generator=g)
    shaped = c if sharpness is None else torch.tanh(sharpness * c)
    eps = torch.randn(num, length, dim, generator=g)
    x = torch.empty(num, length, dim)
    x[:, 0] = scale * shaped @ w.T + init_noise * eps[:, 0]
    for t in range(1, length):  # recursion over time (length is small), vectorised over sequences
        x[:, t] = rho * x[:, t - 1] + step_noise * eps[:, t]
    return SequenceData(x=x, c=c, num_informative=num_informative)


class SequenceVAE(nn.Module):
    """GRU encoder q(z|x) = N(μ(x), diag σ²(x)); GRU decoder p(x_t | x_{<t}, z) = N(m_t, diag s_t²)
    that receives the teacher-forced x_{t−1} (zeros at t = 1) concatenated with z at every step and
    an initial state tanh(A z)."""

    def __init__(self, dim: int, latent_dim: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.enc = nn.GRU(dim, hidden, batch_first=True)
        self.enc_out = nn.Linear(hidden, 2 * latent_dim)
        self.dec_init = nn.Linear(latent_dim, hidden)
        self.dec = nn.GRU(dim + latent_dim, hidden, batch_first=True)
        self.dec_out = nn.Linear(hidden, 2 * dim)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(loc, scale) of q(z|x), each (B, latent_dim)."""
        _, h = self.enc(x)
        mu, log_sd = self.enc_out(h[-1]).chunk(2, -1)
        return mu, torch.exp(log_sd.clamp(-7.0, 5.0))

    def log_likelihood(self, x: Tensor, z: Tensor, inputs: Tensor) -> Tensor:
        """Σ_t log p(x_t | inputs_{≤t}, z) per sequence; ``inputs`` are the (possibly weakened)
        x_{t−1}.
        """
        zz = z[:, None, :].expand(-1, x.shape[1], -1)
        h0 = torch.tanh(self.dec_init(z))[None]
        out, _ = self.dec(torch.cat([inputs, zz], -1), h0)
        m, log_s = self.dec_out(out).chunk(2, -1)
        log_s = log_s.clamp(-7.0, 5.0)
        ll = -0.5 * ((x - m) / torch.exp(log_s)) ** 2 - log_s - 0.5 * math.log(2 * math.pi)
        return ll.sum((1, 2))


@dataclass
class DemoConfig:
    """One training run. ``cure`` is ``"none"`` (plain ELBO), ``"free_bits"``, ``"cyclical"`` or
    ``"dropout"`` (decoder weakening)."""

    cure: str = "none"
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    latent_dim: int = 8
    hidden: int = 64
    free_bits: float = 0.25  # nats per latent dimension
    num_cycles: int = 4
    ratio: float = 0.5
    dropout: float = 0.5
    num_train: int = 4096
    num_test: int = 1024
    length: int = 16
    dim: int = 4
    num_informative: int = 2
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DemoResult:
    config: DemoConfig
    active_units: int
    mutual_information: float
    mean_kl: float
    test_elbo: float
    recovery_r2: float
    seconds: float
    kl_per_dim: list[float] = field(default_factory=list)
    kl_trace: list[tuple[int, float]] = field(
        default_factory=list
    )  # (step, training-batch mean KL)

    def row(self) -> dict:
        return {
            "cure": self.config.cure,
            "AU": self.active_units,
            "MI": round(self.mutual_information, 3),
            "KL": round(self.mean_kl, 3),
            "test ELBO": round(self.test_elbo, 2),
            "R2(c|mu)": round(self.recovery_r2, 3),
            "s": round(self.seconds, 1),
        }


def _schedule(cfg: DemoConfig) -> KLSchedule:
    if cfg.cure == "cyclical":
        return CyclicalSchedule(cfg.steps, num_cycles=cfg.num_cycles, ratio=cfg.ratio)
    return ConstantSchedule(1.0)


def _shifted(x: Tensor) -> Tensor:
    return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)


def _r2(features: Tensor, target: Tensor) -> float:
    """Coefficient of determination of a least-squares fit target ≈ [features, 1] B (mean over
    targets).
    """
    a = torch.cat([features, torch.ones(features.shape[0], 1)], 1).double()
    sol = torch.linalg.lstsq(a, target.double()).solution
    resid = target.double() - a @ sol
    ss_res = (resid**2).sum(0)
    ss_tot = ((target.double() - target.double().mean(0)) ** 2).sum(0)
    return float((1 - ss_res / ss_tot).mean())


def train_sequence_vae(
    cfg: DemoConfig, train: SequenceData, test: SequenceData
) -> tuple[SequenceVAE, DemoResult]:
    """Train one :class:`SequenceVAE` with the configured cure and measure latent usage on
    ``test``.
    """
    if cfg.cure not in ("none", "free_bits", "cyclical", "dropout"):
        raise ValueError(f"unknown cure {cfg.cure!r}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    model = SequenceVAE(train.x.shape[-1], cfg.latent_dim, cfg.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = _schedule(cfg)
    n = train.x.shape[0]
    kl_trace: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    model.train()
    for step in range(cfg.steps):
        idx = torch.randint(0, n, (cfg.batch_size,), generator=gen)
        x = train.x[idx]
        mu, sd = model.posterior(x)
        z = mu + sd * torch.randn(mu.shape, generator=gen)
        inputs = _shifted(x)
        if cfg.cure == "dropout":
            inputs = drop_inputs(inputs, cfg.dropout, training=True, generator=gen)
        rec = model.log_likelihood(x, z, inputs).mean()
        kl = kl_per_dimension(mu, sd)  # (B, d)
        if cfg.cure == "free_bits":
            reg = free_bits(kl, cfg.free_bits, mode="dimension")
        else:
            reg = sched(step) * kl.sum(-1).mean()
        loss = -rec + reg
        if step % max(1, cfg.steps // 10) == 0 or step == cfg.steps - 1:
            kl_trace.append((step, float(kl.detach().sum(-1).mean())))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        mu, sd = model.posterior(test.x)
        kl = kl_per_dimension(mu, sd)
        z = mu + sd * torch.randn(mu.shape, generator=gen)
        elbo = (model.log_likelihood(test.x, z, _shifted(test.x)) - kl.sum(-1)).mean()
        au = active_units(mu)
        mi = mutual_information(mu, sd, generator=gen)
    result = DemoResult(
        config=cfg,
        active_units=au.count,
        mutual_information=float(mi),
        mean_kl=float(kl.sum(-1).mean()),
        test_elbo=float(elbo),
        recovery_r2=_r2(mu, test.c),
        seconds=seconds,
        kl_per_dim=[round(v, 4) for v in kl.mean(0).tolist()],
        kl_trace=kl_trace,
    )
    return model, result


def run_demo(
    cures: tuple[str, ...] = ("none", "free_bits", "cyclical", "dropout"), **overrides
) -> list[DemoResult]:
    """Train one model per cure on the same data and return the measured results."""
    base = DemoConfig(**overrides)
    train = make_sequences(
        base.num_train, base.length, base.dim, base.num_informative, seed=base.seed
    )
    test = make_sequences(
        base.num_test, base.length, base.dim, base.num_informative, seed=base.seed + 10_000
    )
    results = []
    for cure in cures:
        cfg = DemoConfig(**{**base.to_dict(), "cure": cure})
        results.append(train_sequence_vae(cfg, train, test)[1])
    return results

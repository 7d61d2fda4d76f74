"""KL-weight (β) schedules against posterior collapse.

Every schedule is a frozen dataclass: the object *is* its configuration. It is called with the
global
optimisation step (0-based, one step = one minibatch update) and returns the weight β_step that
multiplies the KL term, ``loss = −E_q[log p(x|z)] + β_step · KL``.

- :class:`ConstantSchedule`: β = value (β = 1 is the plain ELBO, β ≠ 1 the β-VAE objective).
- :class:`LinearSchedule`: linear warm-up, β = start + (stop − start) · min(1, step / num_steps)
  (Bowman et al. 2016; the per-iteration increments of He et al. 2019, ``kl_start``/``warm_up``).
- :class:`LogisticSchedule`: β = 1 / (1 + exp(−k (step − x0))) (Bowman et al. 2016 as implemented in
  Sentence-VAE, defaults k = 0.0025, x0 = 2500).
- :class:`CyclicalSchedule`: M cycles over T total steps, rising during a proportion R of each cycle
  and then held at ``stop`` (Fu et al. 2019, "Cyclical Annealing Schedule: A Simple Approach to
  Mitigating KL Vanishing", NAACL). Rises: ``"linear"``, ``"sigmoid"``, ``"cosine"``. The monotonic
  schedule is the special case M = 1 (:func:`monotonic_schedule`).

Use :func:`schedule_from_dict` to rebuild any schedule from ``schedule.to_dict()`` (JSON-friendly).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "ConstantSchedule",
    "CyclicalSchedule",
    "KLSchedule",
    "LinearSchedule",
    "LogisticSchedule",
    "monotonic_schedule",
    "schedule_from_dict",
]


def _check_step(step: int | float) -> float:
    step = float(step)
    if not math.isfinite(step) or step < 0:
        raise ValueError(f"schedule step must be a finite number >= 0, got {step!r}")
    return step


@dataclass(frozen=True)
class KLSchedule:
    """Base class: ``__call__(step) -> float`` plus a dict/JSON round trip."""

    kind: ClassVar[str] = "base"

    def __call__(self, step: int | float) -> float:  # pragma: no cover - overridden
        raise TypeError(f"{type(self).__name__} is abstract; use a concrete schedule")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with a ``"kind"`` key; inverse of :func:`schedule_from_dict`."""
        return {"kind": self.kind, **asdict(self)}

    def values(self, num_steps: int) -> list[float]:
        """β for steps 0, 1, …, num_steps − 1 (convenient for plots and tests)."""
        return [self(s) for s in range(num_steps)]


@dataclass(frozen=True)
class ConstantSchedule(KLSchedule):
    """β_step = ``value`` for every step (1.0 = plain ELBO)."""

    value: float = 1.0
    kind: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise ValueError(f"ConstantSchedule.value must be finite and >= 0, got {self.value!r}")

    def __call__(self, step: int | float) -> float:
        _check_step(step)
        return float(self.value)


@dataclass(frozen=True)
class LinearSchedule(KLSchedule):
    """Linear warm-up β_step = start + (stop − start) · min(1, step / num_steps).

    With ``start = 0, stop = 1`` this is Sentence-VAE's ``min(1, step / x0)``; with ``start =
    kl_start``
    it reproduces He et al. (2019)'s per-iteration increments ``(1 − kl_start) / (warm_up · N /
    B)``.
    """

    num_steps: int
    start: float = 0.0
    stop: float = 1.0
    kind: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        if int(self.num_steps) != self.num_steps or self.num_steps < 1:
            raise ValueError(
                f"LinearSchedule.num_steps must be an integer >= 1, got {self.num_steps!r}"
            )
        for name in ("start", "stop"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"LinearSchedule.{name} must be finite and >= 0, got {v!r}")

    def __call__(self, step: int | float) -> float:
        s = _check_step(step)
        frac = min(1.0, s / self.num_steps)
        return float(self.start + (self.stop - self.start) * frac)


@dataclass(frozen=True)
class LogisticSchedule(KLSchedule):
    """Logistic annealing β_step = 1 / (1 + exp(−k (step − x0))) (Bowman et al. 2016).

    Defaults are Sentence-VAE's (k = 0.0025, x0 = 2500). Note β_0 = 1 / (1 + exp(k x0)) > 0.
    Evaluated in a numerically stable form for any step.
    """

    k: float = 0.0025
    x0: float = 2500.0
    kind: ClassVar[str] = "logistic"

    def __post_init__(self) -> None:
        if not math.isfinite(self.k) or self.k <= 0:
            raise ValueError(f"LogisticSchedule.k must be finite and > 0, got {self.k!r}")
        if not math.isfinite(self.x0):
            raise ValueError(f"LogisticSchedule.x0 must be finite, got {self.x0!r}")

    def __call__(self, step: int | float) -> float:
        u = self.k * (_check_step(step) - self.x0)
        if u >= 0:
            return 1.0 / (1.0 + math.exp(-u))
        e = math.exp(u)
        return e / (1.0 + e)


_SHAPES = ("linear", "sigmoid", "cosine")


@dataclass(frozen=True)
class CyclicalSchedule(KLSchedule):
    """Cyclical annealing (Fu et al. 2019): M cycles over T steps, rising for a proportion R of
    each.

    With period P = T / M, cycle c starts at step ⌊c P⌋ (c = 0..M−1, exactly as the reference
    ``frange_cycle_*`` functions index their array) and within a cycle at offset i = step − ⌊c P⌋
    the rise variable is v = start + i (stop − start) / (P R). Then

    - v ≤ stop (rising phase): β = f(v) with ``"linear"`` f(v) = v, ``"sigmoid"``
      f(v) = 1 / (1 + exp(−(12 v − 6))) (so f(0) ≈ 0.0025, not 0), ``"cosine"`` f(v) = ½ − ½ cos(π
      v);
    - otherwise (the remaining 1 − R of the cycle) β = stop.

    For integer P this is the paper's β_t = f(τ/R) for τ ≤ R else 1, τ = mod(t, P) / P. Steps at
    or beyond
    ``total_steps`` return ``stop`` (training continues at the final weight). M = 1 is the
    monotonic schedule.
    """

    total_steps: int
    num_cycles: int = 4
    ratio: float = 0.5
    shape: str = "linear"
    start: float = 0.0
    stop: float = 1.0
    kind: ClassVar[str] = "cyclical"

    def __post_init__(self) -> None:
        if int(self.total_steps) != self.total_steps or self.total_steps < 1:
            raise ValueError(
                f"CyclicalSchedule.total_steps must be an integer >= 1, got {self.total_steps!r}"
            )
        if int(self.num_cycles) != self.num_cycles or not 1 <= self.num_cycles <= self.total_steps:
            raise ValueError(
                "CyclicalSchedule.num_cycles must be an integer in [1, total_steps], "
                f"got {self.num_cycles!r}"
            )
        if not (0.0 < self.ratio <= 1.0):
            raise ValueError(f"CyclicalSchedule.ratio must be in (0, 1], got {self.ratio!r}")
        if self.shape not in _SHAPES:
            raise ValueError(f"CyclicalSchedule.shape must be one of {_SHAPES}, got {self.shape!r}")
        if not (
            math.isfinite(self.start) and math.isfinite(self.stop) and 0 <= self.start <= self.stop
        ):
            raise ValueError(
                f"CyclicalSchedule needs finite 0 <= start <= stop, got start={self.start!r}, "
                f"stop={self.stop!r}"
            )

    @property
    def period(self) -> float:
        """P = T / M (steps per cycle; may be fractional)."""
        return self.total_steps / self.num_cycles

    def _rise(self, v: float) -> float:
        if self.shape == "linear":
            return v
        if self.shape == "sigmoid":
            return 1.0 / (1.0 + math.exp(-(12.0 * v - 6.0)))
        return 0.5 - 0.5 * math.cos(math.pi * v)

    def __call__(self, step: int | float) -> float:
        s = _check_step(step)
        if s >= self.total_steps:
            return float(self.stop)
        p = self.period
        # last cycle whose (floored) start is <= step; later cycles overwrite earlier ones.
        c = min(int(s // p), self.num_cycles - 1)
        while c + 1 < self.num_cycles and math.floor((c + 1) * p) <= s:
            c += 1
        while c > 0 and math.floor(c * p) > s:
            c -= 1
        i = s - math.floor(c * p)
        v = self.start + i * (self.stop - self.start) / (p * self.ratio)
        if v <= self.stop:
            return float(self._rise(v))
        return float(self.stop)


def monotonic_schedule(
    total_steps: int,
    ratio: float = 0.5,
    shape: str = "linear",
    start: float = 0.0,
    stop: float = 1.0,
) -> CyclicalSchedule:
    """Monotonic annealing = :class:`CyclicalSchedule` with a single cycle (M = 1; Fu et al.
    2019).
    """
    return CyclicalSchedule(
        total_steps=total_steps, num_cycles=1, ratio=ratio, shape=shape, start=start, stop=stop
    )


_REGISTRY: dict[str, type[KLSchedule]] = {
    cls.kind: cls for cls in (ConstantSchedule, LinearSchedule, LogisticSchedule, CyclicalSchedule)
}


def schedule_from_dict(config: dict[str, Any]) -> KLSchedule:
    """Rebuild a schedule from ``schedule.to_dict()`` (``{"kind": ..., **fields}``)."""
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"schedule config must be a dict with a 'kind' key, got {config!r}")
    kind = config["kind"]
    if kind not in _REGISTRY:
        raise ValueError(f"unknown schedule kind {kind!r}; expected one of {sorted(_REGISTRY)}")
    cls = _REGISTRY[kind]
    names = {f.name for f in fields(cls)}
    extra = set(config) - names - {"kind"}
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)} for schedule kind {kind!r}")
    return cls(**{k: v for k, v in config.items() if k != "kind"})

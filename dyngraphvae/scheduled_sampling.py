r"""Scheduled sampling schedules (Bengio, Vinyals, Jaitly, Shazeer, NeurIPS 2015).

``ε_i`` is the probability of *teacher forcing* at training iteration ``i``: with probability
``ε_i`` the transition prior :math:`p_\theta(Z_{t+1} \mid \tilde Z_t)` is fed the posterior sample
:math:`Z_t \sim q_\phi`, otherwise the model's own rollout sample
:math:`\hat Z_t \sim p_\theta(\cdot \mid \tilde Z_{t-1})` (Problem 4.5 of the problem set; see
:meth:`dyngraphvae.models.TemporalGraphVAE.elbo` with ``teacher_forcing=ε``).

The three decays of Bengio et al. (2015, Sec. 2.4):

* linear           :math:`\varepsilon_i = \max(\varepsilon_{\min}, k - c\,i)`,
  ``floor`` = ε_min with ``0 ≤ floor < 1``
* exponential      :math:`\varepsilon_i = k^i`, ``0 < k < 1``
* inverse sigmoid  :math:`\varepsilon_i = k / (k + \exp(i / k))`, ``k ≥ 1``

``ε_i`` starts at (about) 1, pure teacher forcing, and decays towards 0, pure autoregressive
training. Every value returned lies in ``[0, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

ScheduleKind = Literal["linear", "exponential", "inverse_sigmoid"]

_DEFAULT_K = {"linear": 1.0, "exponential": 0.999, "inverse_sigmoid": 100.0}

__all__ = ["ScheduleKind", "TeacherForcingSchedule", "teacher_forcing_probability"]


def _check(kind: str, k: float, c: float, floor: float) -> None:
    if kind not in _DEFAULT_K:
        raise ValueError(
            f"scheduled sampling kind must be 'linear', 'exponential' or 'inverse_sigmoid', "
            f"got {kind!r}"
        )
    if not math.isfinite(k):
        raise ValueError(f"scheduled sampling ({kind}): k must be finite, got {k}")
    if kind == "linear":
        if not 0.0 <= floor < 1.0:
            raise ValueError(f"scheduled sampling (linear): need 0 <= floor < 1, got {floor}")
        if c < 0 or not math.isfinite(c):
            raise ValueError(f"scheduled sampling (linear): slope c must be >= 0, got {c}")
    elif kind == "exponential":
        if not 0.0 < k < 1.0:
            raise ValueError(f"scheduled sampling (exponential): need 0 < k < 1, got {k}")
    elif k < 1.0:
        raise ValueError(f"scheduled sampling (inverse_sigmoid): need k >= 1, got {k}")


def teacher_forcing_probability(
    step: int,
    kind: ScheduleKind = "linear",
    k: float | None = None,
    c: float = 1e-3,
    floor: float = 0.0,
) -> float:
    r"""Teacher-forcing probability ``ε_i`` at training iteration ``i = step`` (Bengio et al. 2015).

    Args:
        step: training iteration ``i >= 0`` (mini-batch or epoch counter, the caller decides).
        kind: ``"linear"`` (:math:`\max(\text{floor}, k - c\,i)`), ``"exponential"`` (:math:`k^i`)
            or ``"inverse_sigmoid"`` (:math:`k / (k + e^{i/k})`).
        k: offset (linear, default 1), base (exponential, default 0.999) or scale (inverse
            sigmoid, default 100).
        c: slope of the linear decay (ignored otherwise).
        floor: lower bound ``ε`` of the linear decay (ignored otherwise).

    Returns:
        ``ε_i`` clipped to ``[0, 1]`` (a linear offset ``k > 1`` delays the decay).
    """
    if isinstance(step, bool) or int(step) != step or step < 0:
        raise ValueError(f"scheduled sampling: step must be a non-negative integer, got {step!r}")
    step = int(step)
    k = _DEFAULT_K.get(kind, 1.0) if k is None else float(k)
    _check(kind, k, float(c), float(floor))
    if kind == "linear":
        eps = max(floor, k - c * step)
    elif kind == "exponential":
        eps = math.exp(step * math.log(k))
    else:
        # k / (k + exp(i/k)) = 1 / (1 + exp(i/k - log k)), evaluated without overflow
        u = step / k - math.log(k)
        eps = 1.0 / (1.0 + math.exp(u)) if u < 700 else 0.0
    return float(min(1.0, max(0.0, eps)))


@dataclass
class TeacherForcingSchedule:
    """A scheduled-sampling decay as a plain (JSON-serialisable) config; call it with the step.

    Example::

        schedule = TeacherForcingSchedule("inverse_sigmoid", k=50.0)
        out = model.elbo(graph, teacher_forcing=schedule(epoch))
    """

    kind: ScheduleKind = "linear"
    k: float | None = None
    c: float = 1e-3
    floor: float = 0.0

    def __post_init__(self) -> None:
        k = _DEFAULT_K.get(self.kind, 1.0) if self.k is None else float(self.k)
        _check(self.kind, k, float(self.c), float(self.floor))

    def __call__(self, step: int) -> float:
        return teacher_forcing_probability(step, self.kind, self.k, self.c, self.floor)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TeacherForcingSchedule:
        return cls(**d)

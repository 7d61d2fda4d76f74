r"""Mode coverage of sampled futures on data with known multimodal futures.

On the :func:`~dyngraphvae.data.synthetic.fork` process the optimal forecast given the history
is the equal mixture of two futures (mode 0: features at ``+δ``, group 0 dense; mode 1: at
``−δ``, group 1 dense). A forecaster that represents that law samples each mode with probability
1/2; one that averages (a deterministic decoder trained with squared error, Problem 4.3 of the
problem set) produces futures close to neither. :func:`mode_fractions` counts the classes
returned by :meth:`ForkData.mode_of` and tests the split against 1/2 (exact two-sided binomial
test on the classified samples); :func:`fork_multimodality` forecasts held-out fork sequences and
adds the energy score (Gneiting & Raftery 2007) of the sampled feature futures
:math:`\mathrm{ES} = \frac1S\sum_s\|x_s - y\| - \frac1{2S(S-1)}\sum_{s,s'}\|x_s - x_{s'}\|` (fair),
next to the energy score of samples from the true mixture law.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["ModeFractions", "fork_multimodality", "mode_fractions"]


@dataclass(frozen=True)
class ModeFractions:
    r"""Counts and fractions of sampled futures per mode.

    Attributes:
        num_samples: all classified futures.
        count_0, count_1, count_neither: per class (``mode_of`` gives -1 for "neither").
        fraction_0, fraction_1, fraction_neither: over ``num_samples``.
        fraction_0_among_modal: ``count_0 / (count_0 + count_1)`` (NaN if none is modal), to
            compare with 1/2.
        binomial_p_value: exact two-sided binomial test of ``count_0`` out of
            ``count_0 + count_1`` against ``p = 1/2`` (1.0 when no sample is modal).
        total_variation: :math:`\tfrac12(|f_0 - \tfrac12| + |f_1 - \tfrac12| + f_{\rm neither})`,
            the TV distance between the class frequencies and ``(1/2, 1/2, 0)``.
    """

    num_samples: int
    count_0: int
    count_1: int
    count_neither: int
    fraction_0: float
    fraction_1: float
    fraction_neither: float
    fraction_0_among_modal: float
    binomial_p_value: float
    total_variation: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mode_fractions(modes: Tensor) -> ModeFractions:
    """Summarise a tensor of mode labels in ``{0, 1, -1}`` (any shape)."""
    from scipy.stats import binomtest

    m = torch.as_tensor(modes).flatten().long()
    if m.numel() == 0:
        raise ValueError("mode_fractions: no samples")
    bad = ~torch.isin(m, torch.tensor([-1, 0, 1]))
    if bool(bad.any()):
        raise ValueError(f"mode_fractions: labels must be 0, 1 or -1, got {m[bad][:5].tolist()}")
    n = int(m.numel())
    c0, c1 = int((m == 0).sum()), int((m == 1).sum())
    cn = n - c0 - c1
    f0, f1, fn = c0 / n, c1 / n, cn / n
    modal = c0 + c1
    p = float(binomtest(c0, modal, 0.5).pvalue) if modal > 0 else 1.0
    return ModeFractions(
        num_samples=n, count_0=c0, count_1=c1, count_neither=cn, fraction_0=f0, fraction_1=f1,
        fraction_neither=fn, fraction_0_among_modal=c0 / modal if modal else float("nan"),
        binomial_p_value=p, total_variation=0.5 * (abs(f0 - 0.5) + abs(f1 - 0.5) + fn),
    )


def fork_multimodality(
    model: Any,
    data: Any,
    sequences: Sequence[int] | None = None,
    *,
    num_samples: int = 100,
    seed: int = 0,
    oracle_samples: Any = None,
    first_step: int = 1,
) -> dict[str, Any]:
    r"""Forecast the future of fork sequences from their history and measure mode coverage.

    Args:
        model: a trained :class:`~dyngraphvae.models.TemporalGraphVAE` (features and/or edges).
        data: a :class:`~dyngraphvae.data.synthetic.ForkData` (the held-out sequences).
        sequences: indices into ``data.graphs`` (default: all).
        num_samples: ``S`` futures per sequence.
        seed: seeds the forecasts.
        oracle_samples: optional ``ForkData`` drawn independently from the same process; its
            futures are samples of the true predictive (the history carries no information), and
            their energy score against each sequence's truth is reported as the reference.
        first_step: classify each future by its steps ``h >= first_step`` only (``1``: all
            steps). With a filtering posterior the state ``Z_T`` has seen only the shared
            history, and the first future snapshot ``G_{T+1}`` is decoded from ``Z_T``, so
            a forecaster can only express the fork from ``h = 2`` on (the transition
            ``p(Z_{T+1} | Z_T)`` is where the modes split); ``first_step=2`` measures that.
            The labels over all steps are also returned (``"pooled_all_steps"``). The energy
            scores always use the whole horizon.

    Returns:
        ``{"pooled": ModeFractions dict, "per_sequence_fraction_0": [...],
        "mean_abs_deviation_from_half": ..., "both_modes_fraction": ..., "energy_score": ...,
        "oracle_energy_score": ... | None, "cues": [...]}``; mode labels use every cue the model
        produces (features and sampled adjacency).
    """
    from dyngraphvae.evaluation.scores import energy_score

    if isinstance(first_step, bool) or int(first_step) != first_step or \
            not 1 <= first_step <= data.horizon:
        raise ValueError(f"fork_multimodality: first_step must be an integer in "
                         f"[1, {data.horizon}], got {first_step!r}")
    k0 = int(first_step) - 1
    idx = list(range(len(data.graphs))) if sequences is None else [int(i) for i in sequences]
    gen = torch.Generator().manual_seed(int(seed))
    labels, labels_all, per_seq, es, es_oracle = [], [], [], [], []
    ox = None
    if oracle_samples is not None and data.num_features > 0:
        ox, _ = oracle_samples.futures()
        ox = ox.flatten(1).double()
    cues: list[str] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in idx:
                g = data.graphs[i]
                fc = model.forecast(g[: data.history], data.horizon, num_samples, generator=gen)
                x = fc.x if (fc.x is not None and data.num_features > 0) else None
                adj = fc.sample_adjacency(generator=gen) if fc.edge_decoder is not None else None
                cues = [c for c, v in (("features", x), ("adjacency", adj)) if v is not None]
                lab = data.mode_of(x=None if x is None else x[..., k0:, :, :],
                                   adjacency=None if adj is None else adj[..., k0:, :, :])  # (S,)
                labels.append(lab)
                labels_all.append(data.mode_of(x=x, adjacency=adj))
                mf = mode_fractions(lab)
                per_seq.append(mf.fraction_0)
                if x is not None:
                    y = g.x[data.history:].flatten().double()
                    est = "fair" if num_samples > 1 else "nrg"
                    es.append(float(energy_score(y, x.flatten(1).double(), estimator=est)))
                    if ox is not None:
                        es_oracle.append(float(energy_score(y, ox, estimator="fair")))
    finally:
        model.train(was_training)
    pooled = mode_fractions(torch.cat(labels))
    per = torch.tensor(per_seq, dtype=torch.float64)
    both = torch.tensor([bool((lab == 0).any() and (lab == 1).any()) for lab in labels])
    return {
        "pooled": pooled.to_dict(),
        "first_step": int(first_step),
        "pooled_all_steps": mode_fractions(torch.cat(labels_all)).to_dict(),
        "per_sequence_fraction_0": per.tolist(),
        "mean_abs_deviation_from_half": float((per - 0.5).abs().mean()),
        "both_modes_fraction": float(both.double().mean()),
        "energy_score": float(torch.tensor(es).mean()) if es else None,
        "oracle_energy_score": float(torch.tensor(es_oracle).mean()) if es_oracle else None,
        "num_sequences": len(idx),
        "num_samples": int(num_samples),
        "cues": cues,
    }

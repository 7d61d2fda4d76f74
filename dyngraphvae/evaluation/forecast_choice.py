r"""Automatic choice of the per-origin refit (``ForecasterConfig.context_refit``) on validation
origins, by a proper score of the forecast edge probabilities.

The refit changes forecasts only (``dyngraphvae.models.refit``), so one trained model is scored
with each candidate window ``W`` (``0``: the trained weights, iterated) on the **validation**
origins, and the best is kept. The score of a forecast from origin ``T`` at horizon ``h`` is the
pairwise log score of its marginal edge probabilities ``p̂_uv`` on the target snapshot
``s = T + h − 1``,

.. math::
    \ell_s = \sum_{u \ne v} A_s(u, v) \log p̂_{uv} + (1 - A_s(u, v)) \log(1 - p̂_{uv}),

estimated without bias from the stratified pairs of
:func:`~dyngraphvae.models.refit.stratified_pairs`
(every edge of ``s``, the pairs seen before ``T``, uniform pairs weighted to stand for the rest;
the same pairs for every candidate), divided by the number of edges of ``s`` and averaged over
``(T, h)``. It is a proper scoring rule of the pairwise marginals: it rewards the ranking of the
pairs and the level of the probabilities (the expected edge count) at once, the two sides of the
trade-off measured in ``docs/results.md`` (section 3i).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models.refit import refit_negatives, stratified_pairs, window_steps
from dyngraphvae.models.rolling import predictive_pair_probs

__all__ = ["candidate_rows", "choose_context_refit", "gain_standard_error", "greedy_refit_choice",
           "mean_score", "pair_log_score", "pair_log_scores", "refined", "refit_settings"]


def _score_pairs(graph: TemporalGraph, origins: Sequence[int], horizon: int, model: Any,
                 negatives: int, seed: int) -> list[list[tuple | None]]:
    """The stratified pairs ``(pairs, y, w)`` of every ``(origin, h)`` (``None``: no edge)."""
    contexts = model.decoder_contexts(graph, max(origins))
    out = []
    for t in origins:
        row = []
        for k in range(horizon):
            s = t + k
            if s >= len(graph) or graph.num_edges(s) == 0:
                row.append(None)
                continue
            gen = torch.Generator().manual_seed(7_919 * (int(seed) + 1) + 104_729 * s + int(t))
            row.append(stratified_pairs(graph, s, contexts[t].edges.keys.cpu(), negatives, gen))
        out.append(row)
    return out


def pair_log_scores(model: Any, graph: TemporalGraph, origins: Sequence[int], horizon: int, *,
                    num_samples: int = 20, seed: int = 0, negatives: int | None = None,
                    pairs: list[list[tuple | None]] | None = None) -> list[list[float | None]]:
    """The estimated pairwise log score per edge of the target (module docstring) of
    ``model``'s forecast from each origin at each ``h = 1..horizon``, one row per origin
    (``None`` where the target has no edge); higher is better. ``pairs``: precomputed
    :func:`_score_pairs` rows (so that candidates share them)."""
    if pairs is None:
        pairs = _score_pairs(graph, origins, horizon, model,
                             negatives or refit_negatives(model.config), seed)
    requests = [[None if r is None else r[0] for r in row] for row in pairs]
    probs = predictive_pair_probs(model, graph, list(origins), horizon, num_samples, requests,
                                  torch.Generator().manual_seed(int(seed)))
    out = []
    for row, prow in zip(pairs, probs, strict=True):
        scores: list[float | None] = []
        for r, p in zip(row, prow, strict=True):
            if r is None:
                scores.append(None)
                continue
            _, y, w = r
            p = p.double().clamp(1e-12, 1 - 1e-12)
            ll = (w * (y * p.log() + (1 - y) * (1 - p).log())).sum()
            scores.append(float(ll / y.sum()))
        out.append(scores)
    return out


def mean_score(rows: list[list[float | None]]) -> float:
    """The mean over the ``(origin, h)`` with a score (:func:`pair_log_scores`)."""
    flat = [v for row in rows for v in row if v is not None]
    if not flat:
        raise ValueError("pair_log_score: no (origin, h) has a target with an edge")
    return sum(flat) / len(flat)


def pair_log_score(model: Any, graph: TemporalGraph, origins: Sequence[int], horizon: int, *,
                   num_samples: int = 20, seed: int = 0, negatives: int | None = None,
                   pairs: list[list[tuple | None]] | None = None) -> float:
    """Mean over the ``(origin, h)`` of :func:`pair_log_scores`."""
    return mean_score(pair_log_scores(model, graph, origins, horizon, num_samples=num_samples,
                                      seed=seed, negatives=negatives, pairs=pairs))


def gain_standard_error(base: list[list[float | None]], new: list[list[float | None]]) -> float:
    r"""The standard error of ``mean_score(new) − mean_score(base)`` for scores of the same
    pairs (:func:`pair_log_scores` rows), with the origins as independent clusters: the
    forecasts of one origin share its history and latent paths, so its horizons are not
    independent. With differences :math:`d_{oh}`, :math:`n` rows in all, :math:`m` origins and
    :math:`\bar d` the mean difference,

    .. math::
        \mathrm{SE} = \frac{1}{n}
            \sqrt{\frac{m}{m - 1} \sum_o \Big(\sum_h (d_{oh} - \bar d)\Big)^2},

    the cluster-robust standard error of a mean (Liang and Zeger 1986). With one origin its
    ``(origin, h)`` rows are the clusters (the plain :math:`s / \sqrt{n}`); with one row,
    ``inf``."""
    diffs = [[b - a for a, b in zip(ra, rb, strict=True) if a is not None and b is not None]
             for ra, rb in zip(base, new, strict=True)]
    clusters = [d for d in diffs if d]
    if len(clusters) < 2:
        clusters = [[v] for d in diffs for v in d]
    n, m = sum(len(d) for d in clusters), len(clusters)
    if m < 2:
        return math.inf
    mean = sum(v for d in clusters for v in d) / n
    resid = [sum(v - mean for v in d) for d in clusters]
    return math.sqrt(m / (m - 1) * sum(r * r for r in resid)) / n


def refit_settings(candidate: int | str) -> dict[str, Any]:
    """The forecast settings of a refit candidate: ``W`` (an integer ``>= 0``; ``0``: the trained
    weights, iterated), ``"W+degrees"`` (the refit with the cumulative degree columns,
    ``context_refit_degrees``), ``"W+rates"`` (with the degree columns as log rates,
    ``context_refit_degree_form="rate"``); any of these with ``W > 0`` may end in ``"+cn"``
    (with the common-neighbour column, ``context_refit_neighbours``), then in ``"+pc"`` (the
    undecayed pair counts, ``context_refit_counts``), then in ``"+lw"`` (the latent score's
    weight refitted too, ``context_refit_latent``) and then in ``"+ar"`` (the snapshot effect's
    persistent level, ``context_refit_level="ar1"``); last, ``"~σ"`` sets the refit's prior
    scale ``context_refit_prior`` (``σ > 0``; default 1)."""
    spec, rest, flags, prior = candidate, [], {}, 1.0
    if isinstance(candidate, str) and "~" in candidate:
        candidate, _, sigma = candidate.partition("~")
        prior = _positive_float(sigma)
        if prior is None or candidate.strip() == "0":
            raise ValueError(f"choose_context_refit: '~σ' (the refit's prior scale, σ > 0) "
                             f"ends a candidate with W > 0, got {candidate}~{sigma}")
    if isinstance(candidate, str):
        window, *rest = candidate.split("+")
        for suffix in ("ar", "lw", "pc", "cn"):  # the reverse of their order
            flags[suffix] = rest[-1:] == [suffix]
            rest = rest[:-1] if flags[suffix] else rest
        ok = window.strip().isdigit() and rest in ([], ["degrees"], ["rates"])
        spec = int(window) if ok else None
    if isinstance(spec, bool) or not isinstance(spec, int) or spec < 0 or (
            (rest or any(flags.values())) and spec == 0):
        raise ValueError(f"choose_context_refit: a candidate is an integer window W >= 0, "
                         f"'W+degrees', 'W+rates' or any of these with W > 0 and '+cn', "
                         f"'+pc', '+lw' and / or '+ar' appended (in that order), got "
                         f"{candidate!r}")
    return {"context_refit": spec, "context_refit_degrees": bool(rest),
            "context_refit_degree_form": "rate" if rest == ["rates"] else "cumulative",
            "context_refit_neighbours": flags.get("cn", False),
            "context_refit_counts": flags.get("pc", False),
            "context_refit_latent": flags.get("lw", False),
            "context_refit_level": "ar1" if flags.get("ar", False) else "iid",
            "context_refit_prior": prior}


def _positive_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def refined(candidate: int | str, step: str) -> int | str:
    """A greedy step on a refit candidate: ``"+x"`` appends the suffix (``"10+rates"``,
    ``"+pc"`` → ``"10+rates+pc"``); ``"@V"`` replaces the window (``"10+rates+pc"``, ``"@20"`` →
    ``"20+rates+pc"``); ``"~σ"`` sets the prior scale (``"20+rates+pc"``, ``"~0.3"`` →
    ``"20+rates+pc~0.3"``). A prior scale stays last."""
    body, _, sigma = str(candidate).partition("~")
    tail = body.partition("+")[2]
    if step.startswith("+"):
        body = f"{body}{step}"
    elif step.startswith("@") and step[1:].isdigit() and int(step[1:]) > 0:
        body = step[1:] + (f"+{tail}" if tail else "")
    elif step.startswith("~") and _positive_float(step[1:]) is not None:
        sigma = step[1:]
    else:
        raise ValueError(f"choose_context_refit: a refinement is a suffix '+x', a window '@V' "
                         f"with V > 0 or a prior scale '~σ' with σ > 0, got {step!r}")
    out = f"{body}~{sigma}" if sigma else body
    refit_settings(out)  # validates the result
    return int(out) if out.isdigit() else out


def _same_rows(window: int, new: int, origins: Sequence[int], horizon: int) -> bool:
    """Whether windows ``window`` and ``new`` read the same snapshots at every origin and lead
    (:func:`~dyngraphvae.models.refit.window_steps`)."""
    return all(window_steps(o, k, window) == window_steps(o, k, new)
               for o in origins for k in range(1, int(horizon) + 1))


def candidate_rows(model: Any, graph: TemporalGraph, origins: Sequence[int], horizon: int, *,
                   num_samples: int = 20, seed: int = 0
                   ) -> Callable[[int | str], list[list[float | None]]]:
    """``rows(candidate)``: the :func:`pair_log_scores` of ``model``'s forecasts from
    ``origins`` with a refit candidate's settings (:func:`refit_settings`), on pairs shared by
    every candidate, each candidate scored once. ``model.config`` is as it was after each call."""
    c = model.config
    pairs = _score_pairs(graph, origins, horizon, model, refit_negatives(c), seed)
    memo: dict[int | str, list[list[float | None]]] = {}

    def rows(w: int | str) -> list[list[float | None]]:
        if w not in memo:
            settings = refit_settings(w)
            was = {k: getattr(c, k) for k in settings}
            try:
                for k, v in settings.items():
                    setattr(c, k, v)
                memo[w] = pair_log_scores(model, graph, origins, horizon,
                                          num_samples=num_samples, seed=seed, pairs=pairs)
            finally:
                for k, v in was.items():
                    setattr(c, k, v)
        return memo[w]

    return rows


def greedy_refit_choice(rows: Callable[[int | str], list[list[float | None]]],
                        windows: Sequence[int | str], refinements: Sequence[str] = (), *,
                        origins: Sequence[int] = (), horizon: int = 1, step_margin: float = 0.0
                        ) -> tuple[int | str, dict[int | str, float]]:
    """The choice among refit candidates, given ``rows(candidate)``, their
    :func:`pair_log_scores` on shared pairs. The best of ``windows`` (ties: the earlier), then
    each of ``refinements`` greedily (:func:`refined`): a suffix ``"+x"`` or a window ``"@V"`` on
    the best so far (neither when ``W = 0`` is best; a window step that reads the same
    snapshots as the window it replaces at every origin and lead is skipped), a prior scale
    ``"~σ"`` on the best *refit* scored so far, also where ``W = 0`` is best overall. A step is
    kept if it beats the best so far by more than ``step_margin`` standard errors of the gain
    (:func:`gain_standard_error`; ``0``: by anything). Returns ``(best, {candidate: score})``."""
    if not windows:
        raise ValueError("choose_context_refit: no candidate windows")
    settings = {w: refit_settings(w) for w in windows}
    scores: dict[int | str, float] = {}
    table: dict[int | str, list[list[float | None]]] = {}

    def score(w: int | str) -> float:
        table[w] = rows(w)
        scores[w] = mean_score(table[w])
        return scores[w]

    for w in windows:
        score(w)
    best = max(scores, key=lambda w: (scores[w], -list(windows).index(w)))
    for step in refinements:
        base = best
        if step.startswith("~"):  # the best refit, whatever is best overall
            refits = [w for w in scores if settings[w]["context_refit"] > 0]
            if not refits:
                continue
            base = max(refits, key=scores.__getitem__)
        elif settings[best]["context_refit"] == 0:
            continue
        w = refined(base, step)
        if w in scores or (step.startswith("@") and _same_rows(
                settings[base]["context_refit"], int(step[1:]), origins, horizon)):
            continue
        settings[w] = refit_settings(w)
        gain = score(w) - scores[best]
        if gain > (step_margin * gain_standard_error(table[best], table[w]) if step_margin
                   else 0.0):
            best = w
    return best, scores


def choose_context_refit(model: Any, graph: TemporalGraph, origins: Sequence[int],
                         horizon: int, windows: Sequence[int | str] = (0, 10), *,
                         num_samples: int = 20, seed: int = 0,
                         refinements: Sequence[str] = (), step_margin: float = 0.0
                         ) -> tuple[int | str, dict[int | str, float]]:
    """Score ``model``'s forecasts from the validation ``origins`` with each refit candidate in
    ``windows`` (:func:`refit_settings`: a window ``W``, ``"W+degrees"``, ``"W+rates"``, each
    with optional suffixes; :func:`pair_log_scores`, the same pairs for all), then with each of
    ``refinements`` greedily, and set the pick's settings on ``model.config``
    (:func:`greedy_refit_choice`: a step is kept if it beats the best so far by more than
    ``step_margin`` standard errors of the gain). A candidate's score does not depend on the
    others, so the greedy pick is a function of the scores of those visited.
    Returns ``(best, {candidate: score})``. A model without an edge context keeps its settings
    and returns ``(context_refit, {})``."""
    c = model.config
    if getattr(model, "edge_context", None) is None or not origins:
        return int(c.context_refit), {}
    rows = candidate_rows(model, graph, origins, horizon, num_samples=num_samples, seed=seed)
    best, scores = greedy_refit_choice(rows, windows, refinements, origins=origins,
                                       horizon=horizon, step_margin=step_margin)
    for k, v in refit_settings(best).items():
        setattr(c, k, v)
    return best, scores

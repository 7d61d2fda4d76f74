"""Multi-origin link forecasting (``link_forecast_protocol`` with many origins).

Peer checks: every ``(origin, h)`` score of a multi-origin run equals the single-origin run and
the metric functions applied by hand to ``model.filter`` + ``model.forecast`` and to the baselines
on ``graph[:origin]``; the baselines never see the target; empty targets are skipped and counted;
the pair-only autoregressive rollout equals the full rollout of ``rolling_forecast``.
"""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.baselines import EdgeFrequencyLinks, PersistenceLinks
from dyngraphvae.evaluation.calibration import expected_calibration_error, pair_weights
from dyngraphvae.evaluation.links import link_metrics, mean_reciprocal_rank
from dyngraphvae.experiments import link_forecast_protocol
from dyngraphvae.experiments.links import _score_link_origins, _target_pairs
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.forecaster import TemporalGraphVAE
from dyngraphvae.models.rolling import _autoregressive_pair_probs, rolling_forecast

torch.set_num_threads(1)
TINY = dict(latent_dim=3, hidden_dim=8, node_embedding_dim=4)
K = 7  # MRR negatives per query


def _model(graph, **kw):
    torch.manual_seed(0)
    return TemporalGraphVAE(ForecasterConfig.for_graph(graph, **TINY, **kw)).eval()


def _by_hand(scores, tp):
    """AUC, AP, MRR (%) straight from the metric functions."""
    p, q = tp.pos.size(1), tp.queries.size(1)
    m = link_metrics(scores[:p], scores[p:2 * p])
    mrr = mean_reciprocal_rank(scores[2 * p:2 * p + q], scores[2 * p + q:].reshape(q, K))
    return 100 * m.auc, 100 * m.ap, 100 * float(mrr)


def _shifted_graph(num_nodes=12, num_snapshots=10, empty=()):
    """Directed; snapshot t holds the edges (i, i + t + 1 mod N): no pair ever repeats, so any
    baseline that read the target snapshot would score it perfectly."""
    edges = []
    for t in range(num_snapshots):
        i = torch.arange(num_nodes)
        e = torch.stack([i, (i + t + 1) % num_nodes])
        edges.append(e[:, :0] if t in empty else e)
    return TemporalGraph(edges, num_nodes, directed=True)


def test_multi_origin_scores_equal_single_origin_and_hand_computation():
    g = dynamic_sbm(num_nodes=16, num_snapshots=12, num_communities=2, num_features=0, seed=1)
    model = _model(g, deterministic=True)  # forecasts exact: equalities hold bit for bit
    origins, H = [5, 7, 9], 3
    kw = dict(seed=4, num_samples=1, num_mrr_negatives=K, max_queries=5, generator=None)
    multi = _score_link_origins(model, g, origins, H, **kw)
    assert multi["skipped"] == []
    for i, o in enumerate(origins):
        single = _score_link_origins(model, g, [o], H, **kw)
        with torch.no_grad():
            fc = model.forecast(model.filter(g[:o], 1), H, 1)
        for k in range(H):
            tp = _target_pairs(g, o + k, 4, K, 5)
            pairs = tp.all_pairs()
            hand = {
                "model": _by_hand(fc.edge_prob(pairs)[0, k].double(), tp),
                "persistence": _by_hand(PersistenceLinks().score_pairs(g[:o], pairs), tp),
                "frequency": _by_hand(EdgeFrequencyLinks().score_pairs(g[:o], pairs), tp),
            }
            for name, vals in hand.items():
                for m, v in zip(("auc", "ap", "mrr"), vals, strict=True):
                    got = multi["scores"][name][m][i][k]
                    assert got == single["scores"][name][m][0][k]
                    assert got == pytest.approx(v, abs=1e-9), (name, m, o, k)
            assert multi["num_positives"][i][k] == g.num_edges(o + k)
            # calibration over all pairs of the target: edges weight 1, each sampled non-edge
            # standing for M / Q non-edges; the model's probabilities only
            p = tp.pos.size(1)
            w = pair_weights(p, p, 16 * 15 // 2 - g.num_edges(o + k))
            y = torch.cat([torch.ones(p), torch.zeros(p)]).bool()
            want = 100 * expected_calibration_error(fc.edge_prob(pairs)[0, k, :2 * p].double(),
                                                    y, weights=w)
            assert multi["scores"]["model"]["ece"][i][k] == pytest.approx(want, abs=1e-9)
            assert multi["scores"]["frequency"]["ece"][i][k] is None


def test_baselines_use_only_snapshots_before_the_origin():
    g = _shifted_graph()
    model = _model(g)
    res = _score_link_origins(model, g, [4, 6], 2, seed=0, num_samples=2, num_mrr_negatives=K,
                              max_queries=50, generator=torch.Generator().manual_seed(0))
    for i, o in enumerate([4, 6]):
        tp = _target_pairs(g, o, 0, K, 50)
        # a leak of the target into the history would make both baselines perfect
        leak = _by_hand(PersistenceLinks().score_pairs(g[:o + 1], tp.all_pairs()), tp)
        assert leak[0] == 100.0
        for name in ("persistence", "frequency"):
            auc = res["scores"][name]["auc"][i][0]
            assert auc <= 50.0, (name, o, auc)  # the target's pairs were never seen before
        b = EdgeFrequencyLinks().score_pairs(g[:o], tp.all_pairs())
        assert res["scores"]["frequency"]["auc"][i][0] == pytest.approx(_by_hand(b, tp)[0])


def test_empty_targets_are_skipped_and_counted():
    g = _shifted_graph(empty=(7,))
    model = _model(g)
    res = _score_link_origins(model, g, [5, 6, 7], 3, seed=0, num_samples=2, num_mrr_negatives=K,
                              max_queries=50, generator=torch.Generator().manual_seed(0))
    assert sorted((s["origin"], s["h"]) for s in res["skipped"]) == [(5, 3), (6, 2), (7, 1)]
    assert all(s["target"] == 7 for s in res["skipped"])
    for name in ("model", "persistence", "frequency"):
        auc = res["scores"][name]["auc"]
        assert [auc[0][2], auc[1][1], auc[2][0]] == [None, None, None]
        assert sum(v is None for row in auc for v in row) == 3
    assert res["num_positives"][2] == [0, 12, 12]


def test_pairwise_autoregressive_rollout_equals_the_full_rollout():
    g = _shifted_graph(num_nodes=10, num_snapshots=9)
    model = _model(g, decoder_context="history", deterministic=True)
    with torch.no_grad():  # context weights away from their zero start, so the context matters
        model.edge_context.previous_weight.fill_(2.5)
        model.edge_context.history_weight.fill_(-1.5)
    gen = torch.Generator().manual_seed(3)
    origins, H = [3, 5, 6], 3
    all_pairs = torch.cartesian_prod(torch.arange(10), torch.arange(10)).T
    all_pairs = all_pairs[:, all_pairs[0] != all_pairs[1]]
    reqs = [[all_pairs[:, torch.randint(0, all_pairs.size(1), (40,), generator=gen)]
             for _ in range(H)] for _ in origins]
    reqs[1][1] = None
    got = _autoregressive_pair_probs(model, g, origins, H, 1, reqs, None, max_pairs=16)
    full = rolling_forecast(model, g, origins, H, 1)
    frozen_differs = False
    for i in range(len(origins)):
        for k in range(H):
            if reqs[i][k] is None:
                assert got[i][k] is None
                continue
            ref = full.edge_prob(i, k, reqs[i][k]).double()
            torch.testing.assert_close(got[i][k], ref)
            if k > 0:  # scoring with the observed context only would be a different answer
                observed = model.decoder_contexts(g, origins[i])[origins[i]]
                stale = model.edge_scorer(observed).logits(
                    full.z[:, i, k], reqs[i][k]).sigmoid().mean(0).double()
                frozen_differs |= not torch.allclose(stale, ref)
    assert frozen_differs


def test_pairwise_autoregressive_rollout_matches_the_full_rollout_in_law():
    g = _shifted_graph(num_nodes=8, num_snapshots=7)
    model = _model(g, decoder_context="history")
    with torch.no_grad():
        model.edge_context.previous_weight.fill_(3.0)
        model.edge_context.history_weight.fill_(1.0)
    S, H, origins = 3000, 3, [4]
    pairs = torch.cartesian_prod(torch.arange(8), torch.arange(8)).T
    pairs = pairs[:, pairs[0] != pairs[1]]
    got = _autoregressive_pair_probs(model, g, origins, H, S, [[pairs] * H],
                                     torch.Generator().manual_seed(0))[0]
    full = rolling_forecast(model, g, origins, H, S, generator=torch.Generator().manual_seed(1))
    for k in range(H):
        ref = full.edge_prob(0, k, pairs).double()
        # two independent means of S values in [0, 1]: sd <= 0.5·sqrt(2/S) = 0.013
        assert (got[k] - ref).abs().max() < 0.06, k


def test_protocol_many_origins_with_validation_origins():
    g = _shifted_graph(num_nodes=20, num_snapshots=16, empty=(14,))
    cfg = ForecasterConfig.for_graph(g, **TINY)
    res = link_forecast_protocol(g, cfg, horizon=2, num_val=4, seeds=[0, 1], num_samples=3,
                                 num_mrr_negatives=K, num_origins=4,
                                 train_kwargs=dict(epochs=2, patience=None))
    assert res["origins"] == [11, 12, 13, 14] and res["origin"] == 11 and res["train_end"] == 11
    assert res["num_skipped"] == 2 and res["num_scored"] == [3, 3]
    assert res["validation"]["origins"] == [7, 8, 9]
    for name in ("model", "persistence", "frequency"):
        for m in ("auc", "ap", "mrr"):
            cells = res["summary"][name][m]
            assert len(cells) == 2 and all(c["n"] == 2 and 0 <= c["mean"] <= 100 for c in cells)
            per_h = [r[m] for r in res["per_seed"][name]]
            po = res["per_origin"][name]
            for s in range(2):  # per-seed value = mean over the scored origins
                vals = [row[0] for row in po[s][m] if row[0] is not None]
                assert per_h[s][0] == pytest.approx(sum(vals) / len(vals))
    with pytest.raises(ValueError, match="train_end"):
        link_forecast_protocol(g, cfg, num_origins=2, train_end=14, seeds=[0])
    with pytest.raises(ValueError, match="origins must lie"):
        link_forecast_protocol(g, cfg, origins=[15], seeds=[0])


def test_sampled_future_statistics_by_hand():
    """Edge-count interval coverage, count ratio and degree MMD of sampled futures against the
    truth and persistence, on hand-made samples."""
    from dyngraphvae.evaluation.futures import future_stats as _future_stats
    from dyngraphvae.evaluation.graph_stats import graph_mmd

    g = _shifted_graph(num_nodes=12, num_snapshots=6)  # 12 edges per snapshot
    rows = []
    for s, m in enumerate([10, 11, 12, 13, 30]):  # sample s has m edges at step 1
        u = torch.arange(m) % 12
        v = (u + 1 + torch.arange(m) // 12) % 12
        rows.append(torch.stack([torch.full((m,), s), torch.ones(m, dtype=torch.long), u, v]))
    sampled = torch.cat(rows, 1)
    st = _future_stats(sampled, 1, g, 3, 5)
    # quantiles 5 % / 95 % of (10, 11, 12, 13, 30) by linear interpolation: 10.2 and 26.6
    assert st["count_cover"] == (100.0, None)
    assert st["count_ratio"][0] == pytest.approx((10 + 11 + 12 + 13 + 30) / 5 / 12)
    assert st["count_ratio"][1] == pytest.approx(g.edges(2).size(1) / 12)
    truth = (g.edges(4), 12)
    want = graph_mmd([truth], [(r[2:], 12) for r in rows]).value
    assert st["mmd_degree"][0] == pytest.approx(want)
    assert st["mmd_degree"][1] == pytest.approx(graph_mmd([truth], [(g.edges(2), 12)]).value)
    narrow = sampled[:, sampled[0] == 4]
    narrow[0] = 0
    assert _future_stats(narrow, 1, g, 3, 1)["count_cover"][0] == 0.0


def test_protocol_reports_sampled_futures_of_full_rollouts():
    g = dynamic_sbm(num_nodes=16, num_snapshots=12, num_communities=2, num_features=0, seed=1)
    model = _model(g, decoder_context="pair_history")
    out = _score_link_origins(model, g, [6, 8], 2, seed=0, num_samples=4, num_mrr_negatives=K,
                              max_queries=5, generator=torch.Generator().manual_seed(0))
    for m in ("count_cover", "count_ratio", "mmd_degree"):
        for i in range(2):
            for k in range(2):
                assert out["scores"]["model"][m][i][k] is not None
    assert out["scores"]["persistence"]["mmd_degree"][0][0] is not None
    assert out["scores"]["frequency"]["mmd_degree"][0][0] is None


def test_protocol_chooses_the_refit_on_validation_origins_per_seed():
    g = _shifted_graph(num_nodes=20, num_snapshots=16)
    cfg = ForecasterConfig.for_graph(g, **dict(TINY, decoder_context="pair_history"))
    res = link_forecast_protocol(g, cfg, horizon=2, num_val=4, seeds=[0, 1], num_samples=3,
                                 num_mrr_negatives=K, num_origins=2, refit_windows=(0, 3),
                                 train_kwargs=dict(epochs=2, patience=None))
    for info in res["training"]:
        assert set(info["refit_scores"]) == {"0", "3"}
        best = max((0, 3), key=lambda w: (info["refit_scores"][str(w)], -w))
        assert info["context_refit"] == best
    assert cfg.context_refit == 0  # the choice is each model's own, the shared config is untouched
    with pytest.raises(ValueError, match="validation origins"):
        link_forecast_protocol(g, cfg, horizon=2, num_val=4, seeds=[0], num_origins=2,
                               refit_windows=(0, 3), score_validation=False,
                               train_kwargs=dict(epochs=1, patience=None))

"""Drift curves, growth fits, linear-Gaussian oracles, Lipschitz estimates, mode fractions."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dyngraphvae.data.synthetic import linear_gaussian
from dyngraphvae.evaluation.drift import (
    drift_curve,
    evaluate_model,
    fit_growth,
    kalman_feature_predictive,
    oracle_drift,
)
from dyngraphvae.evaluation.multimodality import mode_fractions
from dyngraphvae.evaluation.stationarity import jacobian_spectral_norms, transition_lipschitz
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.forecaster import TemporalGraphVAE

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- growth fits
def test_growth_fit_recovers_linear_curve():
    h = torch.arange(1, 9, dtype=torch.float64)
    fit = fit_growth(h, 0.2 + 0.05 * h)
    assert fit.linear["a"] == pytest.approx(0.2, abs=1e-10)
    assert fit.linear["b"] == pytest.approx(0.05, abs=1e-10)
    assert fit.linear["r2"] == pytest.approx(1.0, abs=1e-12)
    assert fit.best == "linear"


def test_growth_fit_recovers_exponential_curve():
    h = torch.arange(1, 9, dtype=torch.float64)
    fit = fit_growth(h, 0.1 * torch.exp(0.3 * h))
    assert fit.exponential["a"] == pytest.approx(0.1, rel=1e-6)
    assert fit.exponential["r"] == pytest.approx(0.3, rel=1e-6)
    assert fit.best == "exponential"
    assert fit.linear["rss"] > 1e-3


def test_growth_fit_noisy_curves_pick_the_generating_family():
    g = torch.Generator().manual_seed(0)
    h = torch.arange(1, 11, dtype=torch.float64)
    noise = 0.01 * torch.randn(10, generator=g, dtype=torch.float64)
    assert fit_growth(h, 0.5 + 0.1 * h + noise).best == "linear"
    assert fit_growth(h, 0.05 * torch.exp(0.4 * h) + noise).best == "exponential"


def test_growth_fit_drops_nan_and_needs_three_points():
    h = torch.arange(1, 6, dtype=torch.float64)
    y = 1 + 2 * h
    y[2] = float("nan")
    assert fit_growth(h, y).num_points == 4
    with pytest.raises(ValueError, match="at least 3"):
        fit_growth([1, 2], [1.0, 2.0])
    # non-positive curves have no exponential fit
    assert fit_growth(h, h - 3).exponential is None


# ----------------------------------------------------------------------------- oracles
def _brute_force_predictive(data, start, h):
    """Joint Gaussian of (X_0..X_{start-1}, X_{start+h-1}) per node, conditioned exactly."""
    A, Q, C, R = (t.double() for t in (data.A, data.Q, data.C, data.R))
    d, F = A.size(0), C.size(0)
    K = start + h  # latents Z_0..Z_{K-1}
    # u = (Z_0, w_0..w_{K-2}) with covariance blockdiag(I, Q, ..., Q)
    dim_u = d * K
    cov_u = torch.block_diag(torch.eye(d, dtype=torch.float64), *[Q] * (K - 1))
    Zmap = []  # Z_s = A^s Z_0 + sum_{j<s} A^{s-1-j} w_j
    for s in range(K):
        row = torch.zeros(d, dim_u, dtype=torch.float64)
        row[:, :d] = torch.linalg.matrix_power(A, s)
        for j in range(s):
            row[:, d * (1 + j):d * (2 + j)] = torch.linalg.matrix_power(A, s - 1 - j)
        Zmap.append(row)
    obs = list(range(start)) + [start + h - 1]
    M = torch.cat([C @ Zmap[s] for s in obs])  # (F * len(obs), dim_u)
    cov = M @ cov_u @ M.T + torch.block_diag(*[R] * len(obs))
    n_o = F * start
    S11, S12, S22 = cov[:n_o, :n_o], cov[:n_o, n_o:], cov[n_o:, n_o:]
    if start == 0:
        return torch.zeros(data.graph.num_nodes, F, dtype=torch.float64), S22
    x = torch.stack([data.graph.features(s).double() for s in range(start)], 1)  # (N, start, F)
    x = x.reshape(x.size(0), -1)
    gain = torch.linalg.solve(S11, S12).T  # (F, n_o)
    return x @ gain.T, S22 - gain @ S12


@pytest.mark.parametrize("start,h", [(0, 1), (1, 1), (3, 1), (3, 3), (5, 2)])
def test_kalman_predictive_matches_joint_gaussian_conditioning(start, h):
    data = linear_gaussian(num_nodes=4, num_snapshots=8, latent_dim=2, num_features=2, seed=3)
    law = kalman_feature_predictive(data, start, h)
    mean, cov = _brute_force_predictive(data, start, h)
    torch.testing.assert_close(law.mean, mean, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(law.covariance_matrix[0], cov, atol=1e-9, rtol=1e-9)


def test_oracle_coverage_is_nominal():
    """Exact laws cover at the nominal rate: both oracles, every h (index conventions)."""
    data = linear_gaussian(num_nodes=300, num_snapshots=12, latent_dim=2, num_features=3, seed=1)
    res = oracle_drift(data, [4, 6, 8], 3, level=0.8, edge_samples=20)
    n = 300 * 3 * 3  # nodes x features x origins, per h
    sd = math.sqrt(0.8 * 0.2 / n)
    for kind in ("oracle_kalman", "oracle_state"):
        cov = res.mean(f"{kind}/coverage")
        assert torch.all((cov - 0.8).abs() < 5 * sd), (kind, cov)
    # the state oracle knows more than the feature-only Kalman filter
    assert torch.all(res.mean("oracle_state/crps") <= res.mean("oracle_kalman/crps") + 1e-3)
    assert res.mean("oracle_state/auc")[0] > 0.6


# ----------------------------------------------------------------------------- model drift
def _tiny_model(graph, **kw):
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4, **kw)
    return TemporalGraphVAE(cfg).eval()


def test_drift_curve_matches_direct_scores_for_a_deterministic_model():
    from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs

    data = linear_gaussian(num_nodes=12, num_snapshots=10, seed=0)
    g = data.graph
    model = _tiny_model(g, deterministic=True)
    res = drift_curve(model, g, [5, 7], 3, num_samples=2, seed=4)
    with torch.no_grad():
        fc = model.forecast(g[:5], 3, 1)
    for k in range(3):
        y = g.features(5 + k).double()
        mse = (fc.feature_mean[0, k].double() - y).pow(2).mean()
        assert res.values["feature/mse"][0, k].item() == pytest.approx(float(mse), rel=1e-5)
        pos, neg = link_prediction_pairs(g, 5 + k, generator=torch.Generator().manual_seed(
            4 * 1_000_003 + 5 + k + 7))
        p = torch.sigmoid(model.edge_decoder.logits(fc.z[0, k], torch.cat([pos, neg], 1)))
        m = link_metrics(p[: pos.size(1)].double(), p[pos.size(1):].double())
        assert res.values["link/auc"][0, k].item() == pytest.approx(m.auc, abs=1e-9)
    # origin 7 has truth for h = 1..3 (snapshots 7, 8, 9); an origin at 8 would lose h = 3
    assert torch.isfinite(res.values["feature/mse"][1]).all()
    res2 = drift_curve(model, g, [8], 3, num_samples=2)
    assert math.isnan(res2.values["feature/mse"][0, 2].item())


def test_drift_log_score_is_the_marginal_mixture_log_score():
    data = linear_gaussian(num_nodes=10, num_snapshots=8, seed=2)
    g = data.graph
    model = _tiny_model(g)
    res = drift_curve(model, g, [4], 1, num_samples=64, seed=0, baselines=False)
    # a 64-sample mixture of Gaussians has log score below the worst component and within
    # log 64 of the best component (per element) -> check the bound on the mean
    assert torch.isfinite(res.values["feature/log_score"]).all()
    assert 0.0 <= res.values["feature/coverage"][0, 0].item() <= 1.0


def test_evaluate_model_writes_metrics_and_plot(tmp_path):
    data = linear_gaussian(num_nodes=10, num_snapshots=9, seed=0)
    model = _tiny_model(data.graph)
    out = evaluate_model(model, data.graph, 3, tmp_path, start=5, num_samples=4)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["origins"] == [5, 6, 7, 8]
    assert (tmp_path / "drift.png").stat().st_size > 1000
    assert len(out["table"]) == 3 and "link/auc" in saved["mean"]


# ----------------------------------------------------------------------------- Lipschitz
def test_lipschitz_of_linear_map_is_its_spectral_norm():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(4, 4, generator=g)
    states = torch.randn(5, 6, 4, generator=g)
    norms = jacobian_spectral_norms(lambda z: z @ W.T, states)
    expected = torch.linalg.matrix_norm(W.double(), ord=2)
    torch.testing.assert_close(norms, expected.expand(5, 6))
    full = jacobian_spectral_norms(lambda z: z @ W.T, states[:, :3], node_wise=False)
    torch.testing.assert_close(full, expected.expand(5))


def test_lipschitz_of_nonlinear_node_wise_map_matches_autograd_jacobian():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(3, 3, generator=g)
    z = torch.randn(2, 4, 3, generator=g)
    norms = jacobian_spectral_norms(lambda x: torch.tanh(x @ W.T), z)
    for b in range(2):
        for v in range(4):
            J = torch.autograd.functional.jacobian(lambda r: torch.tanh(W @ r), z[b, v])
            assert norms[b, v].item() == pytest.approx(
                torch.linalg.matrix_norm(J.double(), ord=2).item(), rel=1e-5)


def test_transition_lipschitz_of_a_model_runs_and_is_consistent():
    data = linear_gaussian(num_nodes=6, num_snapshots=4, seed=0)
    model = _tiny_model(data.graph)
    est = transition_lipschitz(model, torch.randn(3, 6, 3))
    assert est.max >= est.quantiles["q50"] > 0 and est.num_states == 3
    assert est.contracts == (est.max < 1)


# ----------------------------------------------------------------------------- mode fractions
def test_mode_fractions_counts_and_binomial_test():
    from scipy.stats import binomtest

    labels = torch.tensor([0] * 30 + [1] * 10 + [-1] * 10)
    mf = mode_fractions(labels)
    assert (mf.count_0, mf.count_1, mf.count_neither) == (30, 10, 10)
    assert mf.fraction_0 == pytest.approx(0.6) and mf.fraction_neither == pytest.approx(0.2)
    assert mf.fraction_0_among_modal == pytest.approx(0.75)
    assert mf.binomial_p_value == pytest.approx(binomtest(30, 40, 0.5).pvalue)
    assert mf.total_variation == pytest.approx(0.5 * (0.1 + 0.3 + 0.2))
    even = mode_fractions(torch.tensor([0, 1] * 50))
    assert even.total_variation == 0 and even.binomial_p_value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="0, 1 or -1"):
        mode_fractions(torch.tensor([0, 2]))


# ----------------------------------------------------------------------------- baselines, negatives
def test_drift_and_report_show_edgebank_and_take_historical_negatives():
    """Every link report carries EdgeBank next to the model; with historical negatives EdgeBank∞
    scores every negative 1, so its AUC is exactly half its recall of the target's edges."""
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.baselines import EdgeBankLinks
    from dyngraphvae.evaluation.negatives import candidate_negatives
    from dyngraphvae.report import evaluate_forecast

    g = dynamic_sbm(num_nodes=30, num_snapshots=10, seed=1)
    model = _tiny_model(g)
    res = drift_curve(model, g, [6, 7], 2, num_samples=2, seed=0, negatives="historical")
    rep = evaluate_forecast(model, g, 6, 3, num_samples=2, negatives="historical")
    assert rep["negatives"] == "historical" and res.meta["negatives"] == "historical"
    for i, o in enumerate([6, 7]):
        for k in range(2):
            t = o + k
            assert candidate_negatives(g, t, "historical", history_end=o).numel() >= g.num_edges(t)
            recall = float(EdgeBankLinks().score_pairs(g[:o], g.edges(t)).mean())
            assert res.values["link/edgebank_auc"][i, k].item() == pytest.approx(0.5 * recall)
            if i == 0:
                assert rep["links/edgebank_auc"][k] == pytest.approx(0.5 * recall)
    for name in ("model", "persistence", "frequency", "edgebank", "edgebank_tw"):
        for m in ("auc", "ap", "mrr", "hits10"):
            vals = rep[f"links/{name}_{m}"]
            assert len(vals) == 3 and all(0.0 <= v <= 1.0 for v in vals)
    with pytest.raises(ValueError, match="negatives must be one of"):
        evaluate_forecast(model, g, 6, 1, num_samples=2, negatives="hist")


def test_report_random_negatives_keep_their_draws():
    """Adding baselines and MRR after the AUC pairs leaves the model/persistence AUC of a seed as
    before: the random pairs are the first draws of the generator."""
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.baselines import PersistenceLinks
    from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs
    from dyngraphvae.report import evaluate_forecast

    g = dynamic_sbm(num_nodes=25, num_snapshots=8, seed=2)
    model = _tiny_model(g)
    rep = evaluate_forecast(model, g, 5, 2, num_samples=3, seed=7)
    gen = torch.Generator().manual_seed(8)
    for k in range(2):
        pos, neg = link_prediction_pairs(g, 5 + k, generator=gen)
        s = PersistenceLinks().score_pairs(g[:5], torch.cat([pos, neg], 1))
        p = pos.size(1)
        assert rep["links/persistence_auc"][k] == pytest.approx(link_metrics(s[:p], s[p:]).auc)


def test_a_link_oracle_is_scored_on_the_model_pairs():
    """An oracle that knows the target graph ranks every positive above every negative of the
    same pairs (AUC = AP = 1); the SBM oracle of the demo gives p_in within a community."""
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.sbm_oracles import sbm_oracle
    from dyngraphvae.report import evaluate_forecast

    g, comm = dynamic_sbm(num_nodes=25, num_snapshots=8, seed=2, return_communities=True)
    model = _tiny_model(g)

    def truth(t, pairs):
        return g.dense_adjacency(t)[pairs[0], pairs[1]].double()

    rep = evaluate_forecast(model, g, 5, 2, num_samples=2, seed=7, link_oracle=truth)
    assert rep["links/oracle_auc"] == [1.0, 1.0] and rep["links/oracle_ap"] == [1.0, 1.0]
    plain = evaluate_forecast(model, g, 5, 2, num_samples=2, seed=7)
    assert plain["links/model_auc"] == rep["links/model_auc"] and "links/oracle_auc" not in plain
    oracle = sbm_oracle(comm, {"p_in": 0.3})
    pairs = torch.tensor([[0, 1], [2, 3]])
    same = comm[4, pairs[0]] == comm[4, pairs[1]]
    torch.testing.assert_close(oracle(4, pairs), torch.where(same, 0.3, 0.01).double())


def test_several_oracles_are_scored_and_tabled_by_name():
    """A mapping of oracles scores each under its name on the same pairs, and the console
    table prints a row for each; a name that does not start with 'oracle' is refused."""
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.sbm_oracles import probability_oracle, sbm_state_probs
    from dyngraphvae.report import evaluate_forecast, link_table

    g, comm = dynamic_sbm(num_nodes=25, num_snapshots=8, seed=2, return_communities=True)
    model = _tiny_model(g)

    def truth(t, pairs):
        return g.dense_adjacency(t)[pairs[0], pairs[1]].double()

    def anti(t, pairs):
        return 1.0 - truth(t, pairs)

    rep = evaluate_forecast(model, g, 5, 2, num_samples=2, seed=7,
                            link_oracle={"oracle": truth, "oracle_anti": anti})
    assert rep["links/oracle_auc"] == [1.0, 1.0] and rep["links/oracle_anti_auc"] == [0.0, 0.0]
    one = evaluate_forecast(model, g, 5, 2, num_samples=2, seed=7, link_oracle=truth)
    assert one["links/model_auc"] == rep["links/model_auc"]
    table, _ = link_table(rep, "random")
    rows = [line.split() for line in table.splitlines()]
    assert ["oracle_anti", "0.0", "0.0"] in rows and ["oracle", "100.0", "100.0"] in rows
    with pytest.raises(ValueError, match="start with 'oracle'.*truth"):
        evaluate_forecast(model, g, 5, 2, num_samples=2, seed=7, link_oracle={"truth": truth})
    # the state oracle forecasts from the origin's labels: p_in or p_out with no label change
    static = comm[:1].expand(8, -1)
    probs = sbm_state_probs(static, {"p_in": 0.3, "switch_prob": 0.0, "event_prob": 0.0},
                            origin=4, horizon=2, seed=0)
    state = probability_oracle(probs, 5)
    pairs = torch.tensor([[0, 1, 5], [2, 3, 7]])
    same = static[0, pairs[0]] == static[0, pairs[1]]
    for t in (5, 6):
        torch.testing.assert_close(state(t, pairs), torch.where(same, 0.3, 0.01).double())


def test_evaluate_reports_the_model_ece_over_all_pairs():
    """With random negatives the model's ECE per h is that of its probabilities on the step's
    edges and non-edges, the non-edges weighted to stand for all of them; the console table
    prints it; with historical negatives it is not reported."""
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.calibration import expected_calibration_error, pair_weights
    from dyngraphvae.evaluation.negatives import link_pairs
    from dyngraphvae.report import evaluate_forecast, link_table

    g = dynamic_sbm(num_nodes=25, num_snapshots=8, seed=2)
    model = _tiny_model(g)
    rep = evaluate_forecast(model, g, 5, 2, num_samples=3, seed=7)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        fc = model.forecast(g[:5], 2, 3, generator=gen)
    pairs_gen = torch.Generator().manual_seed(8)
    for k in range(2):
        pos, neg = link_pairs(g, 5 + k, "random", train_end=5, history_end=5,
                              generator=pairs_gen)
        probs = fc.edge_prob(torch.cat([pos, neg], 1))[:, k].mean(0).double()
        y = torch.cat([torch.ones(pos.size(1)), torch.zeros(neg.size(1))]).bool()
        w = pair_weights(pos.size(1), neg.size(1), 25 * 24 // 2 - g.num_edges(5 + k))
        assert rep["links/model_ece"][k] == pytest.approx(
            expected_calibration_error(probs, y, weights=w), abs=1e-9)
    table, _ = link_table(rep, "random")
    assert "ECE" in table
    hist = evaluate_forecast(model, g, 5, 2, num_samples=3, seed=7, negatives="historical")
    assert "links/model_ece" not in hist


def test_drift_scores_the_sampled_graphs_against_persistence():
    """With an autoregressive decoder the drift evaluation scores each origin's sampled graphs
    (edge-count coverage, count ratio, degree MMD, persistence beside), exactly as
    ``future_stats`` does on the same rollout; the table warns where persistence is closer."""
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.futures import future_stats
    from dyngraphvae.models.rolling import rolling_forecast
    from dyngraphvae.report import drift_future_table

    g = dynamic_sbm(num_nodes=20, num_snapshots=10, num_features=0, seed=2)
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history")
    model = TemporalGraphVAE(cfg).eval()
    res = drift_curve(model, g, [6, 7], 2, num_samples=4, seed=3)
    fc = rolling_forecast(model, g, [6, 7], 2, 4, generator=torch.Generator().manual_seed(3))
    for i, o in enumerate([6, 7]):
        for k in range(2):
            want = future_stats(fc.sampled_edges[i], k, g, o, 4)
            for m, (ours, last) in want.items():
                assert res.values[f"future/{m}"][i, k].item() == pytest.approx(ours)
                if last is not None:
                    got = res.values[f"future/persistence_{m}"][i, k].item()
                    assert got == pytest.approx(last)
    d = res.to_dict()
    table, warns = drift_future_table(d)
    assert "degree MMD" in table and "persistence" in table
    mean = d["mean"]
    worse = [h for h in (1, 2) if mean["future/mmd_degree"][h - 1]
             > mean["future/persistence_mmd_degree"][h - 1]]
    assert bool(warns) == bool(worse)
    # a plain decoder samples no graphs during the rollout: no table
    assert drift_future_table(drift_curve(_tiny_model(g), g, [6], 1, num_samples=2).to_dict()
                              ) == ("", [])

"""Graph statistics vs networkx/numpy, exact 1-D EMD vs scipy, and MMD properties."""

import networkx as nx
import numpy as np
import pytest
import torch
from scipy.linalg import eigvalsh
from scipy.stats import wasserstein_distance

from dyngraphvae.data import TemporalGraph
from dyngraphvae.evaluation.graph_stats import (
    MMDResult,
    clustering_coefficients,
    clustering_histogram,
    degree_histogram,
    density,
    graph_mmd,
    graph_statistic,
    laplacian_spectrum,
    mmd_squared,
    spectral_histogram,
)


def _graphs():
    gs = [nx.gnp_random_graph(25, p, seed=s) for s, p in enumerate([0.05, 0.15, 0.3])]
    gs.append(nx.complete_bipartite_graph(4, 6))  # eigenvalue 2 exactly; zero clustering
    gs.append(nx.karate_club_graph())
    g = nx.path_graph(6)
    g.add_node(6)  # isolated node: normalized Laplacian row of zeros
    gs.append(g)
    return gs


def _dense(g):
    return torch.from_numpy(nx.to_numpy_array(g, nodelist=sorted(g), weight=None))


@pytest.mark.parametrize("gi", range(6))
def test_statistics_match_networkx(gi):
    g = _graphs()[gi]
    a = _dense(g)
    ref_deg = np.array(nx.degree_histogram(g))
    deg = degree_histogram(a).numpy()
    assert (deg[: len(ref_deg)] == ref_deg).all() and deg[len(ref_deg) :].sum() == 0
    cc = np.array([nx.clustering(g)[v] for v in sorted(g)])
    np.testing.assert_allclose(clustering_coefficients(a).numpy(), cc, rtol=0, atol=1e-15)
    ref_ch, _ = np.histogram(cc, bins=100, range=(0.0, 1.0))
    assert (clustering_histogram(a).numpy() == ref_ch).all()
    eig = eigvalsh(nx.normalized_laplacian_matrix(g, nodelist=sorted(g), weight=None).toarray())
    np.testing.assert_allclose(laplacian_spectrum(a).numpy(), eig, atol=1e-10)
    ref_sh, _ = np.histogram(np.clip(eig, 0, 2), bins=200, range=(-1e-5, 2))
    assert (spectral_histogram(a).numpy() == ref_sh).all()
    assert float(density(a)) == pytest.approx(nx.density(g))
    # the sparse edge-list path gives the same histograms
    ei = torch.tensor(list(g.edges()), dtype=torch.long).reshape(-1, 2).T
    for stat, dense_hist in [("degree", deg), ("clustering", ref_ch), ("spectral", ref_sh)]:
        h = graph_statistic((ei, g.number_of_nodes()), stat)[0].numpy()
        np.testing.assert_array_equal(h[: len(dense_hist)], dense_hist)


def test_batched_equals_loop_and_input_checks():
    gen = torch.Generator().manual_seed(0)
    a = (torch.rand(2, 3, 12, 12, generator=gen) < 0.3).float().triu(1)
    a = a + a.mT
    for f in (degree_histogram, clustering_histogram, spectral_histogram):
        batched = f(a)
        assert torch.equal(batched[1, 2], f(a[1, 2]))
    with pytest.raises(ValueError, match="symmetric"):
        degree_histogram(torch.triu(torch.ones(4, 4), 1))
    with pytest.raises(ValueError, match="0/1"):
        degree_histogram(torch.full((3, 3), 0.5))


def test_emd_kernel_is_exact_1d_wasserstein():
    rng = np.random.default_rng(0)
    p, q = rng.random(30), rng.random(25)
    p, q = p / p.sum(), q / q.sum()
    emd = wasserstein_distance(np.arange(30), np.arange(25), p, q)
    sigma, scale = 0.7, 3.0
    expected = 2 - 2 * np.exp(-((emd / scale) ** 2) / (2 * sigma**2))  # MMD^2 for one vs one
    val = mmd_squared(
        torch.from_numpy(p)[None],
        torch.from_numpy(q)[None],
        kernel="gaussian_emd",
        sigma=sigma,
        distance_scaling=scale,
    )
    assert float(val) == pytest.approx(expected, rel=1e-10)
    tv = 0.5 * np.abs(np.pad(q, (0, 5)) - p).sum()
    val_tv = mmd_squared(torch.from_numpy(p)[None], torch.from_numpy(q)[None], sigma=sigma)
    assert float(val_tv) == pytest.approx(2 - 2 * np.exp(-(tv**2) / (2 * sigma**2)), rel=1e-10)


def test_mmd_v_statistic_by_loops():
    """Biased V-statistic, diagonal included, not square-rooted: GRAN's compute_mmd."""
    rng = np.random.default_rng(1)
    xs, ys = rng.random((4, 10)), rng.random((3, 8))

    def k(a, b, sigma=0.5):
        a, b = a / a.sum(), b / b.sum()
        L = max(len(a), len(b))
        a, b = np.pad(a, (0, L - len(a))), np.pad(b, (0, L - len(b)))
        return np.exp(-((0.5 * np.abs(a - b).sum()) ** 2) / (2 * sigma**2))

    ref = (
        np.mean([k(a, b) for a in xs for b in xs])
        + np.mean([k(a, b) for a in ys for b in ys])
        - 2 * np.mean([k(a, b) for a in xs for b in ys])
    )
    val = mmd_squared(torch.from_numpy(xs), torch.from_numpy(ys), sigma=0.5)
    assert float(val) == pytest.approx(ref, rel=1e-12)


def _er(b, n, p, gen):
    a = (torch.rand(b, n, n, generator=gen) < p).float().triu(1)
    return a + a.mT


def _sbm(b, n, p_in, p_out, gen):
    c = torch.arange(n) % 2
    prob = torch.where(c[:, None] == c[None, :], p_in, p_out)
    a = (torch.rand(b, n, n, generator=gen) < prob).float().triu(1)
    return a + a.mT


@pytest.mark.parametrize("kernel", ["gaussian_tv", "gaussian_emd"])
@pytest.mark.parametrize("statistic", ["degree", "clustering", "spectral"])
def test_mmd_properties(statistic, kernel):
    gen = torch.Generator().manual_seed(0)
    er1, er2 = _er(16, 40, 0.1, gen), _er(16, 40, 0.1, gen)
    sbm = _sbm(16, 40, 0.5, 0.02, gen)  # mean degree ~ 10 vs ~ 4, strong clustering
    same = graph_mmd(er1, er1, statistic, kernel=kernel)
    assert same.value == pytest.approx(0.0, abs=1e-12)
    ab = graph_mmd(er1, sbm, statistic, kernel=kernel)
    ba = graph_mmd(sbm, er1, statistic, kernel=kernel)
    assert ab.value == pytest.approx(ba.value, rel=1e-12)
    within = graph_mmd(er1, er2, statistic, kernel=kernel)
    # GRAN's TV kernel with sigma = 0.1 saturates on noisy 100-bin clustering histograms of
    # 40-node graphs (every pair of graphs is "far"), so it separates the families less
    factor = 1.5 if (statistic, kernel) == ("clustering", "gaussian_tv") else 3.0
    assert ab.value > 0 and ab.value > factor * within.value
    assert isinstance(ab, MMDResult) and ab.kernel == kernel and ab.statistic == statistic
    assert ab.sigma == {"degree": 1.0, "clustering": 0.1, "spectral": 1.0}[statistic]
    assert (ab.distance_scaling is None) == (kernel == "gaussian_tv")
    assert ab.to_dict()["num_reference"] == 16


def test_graph_statistic_inputs_agree():
    gen = torch.Generator().manual_seed(2)
    a = _er(3, 15, 0.25, gen)
    edges = [torch.nonzero(torch.triu(a[t], 1)).T for t in range(3)]
    tg = TemporalGraph(edges, num_nodes=15)
    for stat in ("degree", "clustering", "spectral"):
        h_dense = graph_statistic(a, stat)
        h_tg = graph_statistic(tg, stat)
        h_list = graph_statistic([tg[t] for t in range(3)], stat)  # PyG Data, both directions
        assert torch.equal(h_dense, h_tg) and torch.equal(h_dense, h_list)
    with pytest.raises(TypeError, match="dense adjacency"):
        graph_statistic("graph", "degree")
    with pytest.raises(ValueError, match="statistic"):
        graph_statistic(a, "orbit")


def test_block_density_ratios_by_hand():
    """Truth: two blocks {0,1,2} / {3,4,5} with 2 inside edges and 1 across; samples by hand."""
    from dyngraphvae.evaluation.graph_stats import block_density_ratios

    def adj(edges):
        a = torch.zeros(6, 6, dtype=torch.bool)
        for u, v in edges:
            a[u, v] = a[v, u] = True
        return a

    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    truth = adj([(0, 1), (3, 4), (2, 5)])
    same = adj([(0, 1), (3, 4), (2, 5)])
    noisy = adj([(0, 1), (0, 3), (1, 4), (2, 5)])  # 1 inside, 3 across
    r = block_density_ratios(torch.stack([same, noisy]), truth, labels)
    assert r["overall"] == pytest.approx((3 + 4) / 2 / 3)
    assert r["within"] == pytest.approx((2 + 1) / 2 / 2)
    assert r["between"] == pytest.approx((1 + 3) / 2 / 1)
    empty = block_density_ratios(same.unsqueeze(0), adj([(0, 1)]), labels)
    assert empty["within"] == pytest.approx(2.0) and np.isnan(empty["between"])
    with pytest.raises(ValueError, match="labels"):
        block_density_ratios(same.unsqueeze(0), truth, labels[:5])

"""Adjacency log-likelihood: exact dense evaluator and the unbiased sparse estimator."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chisquare

from dyngraphvae.nn import EdgeDecoder, adjacency_log_likelihood, num_valid_pairs, valid_pairs
from dyngraphvae.nn.adjacency import _index_to_ordered_pair, sample_pairs


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Hundreds of tiny autograd calls: intra-op threads only add contention on a shared box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _brute_force(decoder, z, edges, n, directed, node_mask=None):
    """Double loop over node pairs with the textbook Bernoulli log-likelihood."""
    present = [True] * n if node_mask is None else node_mask.tolist()
    edge_set = {tuple(e) for e in edges.t().tolist()}
    if not directed:
        edge_set |= {(v, u) for u, v in edge_set}
    total = torch.zeros(z.shape[:-2], dtype=torch.float64)
    for u in range(n):
        for v in range(n):
            if u == v or (not directed and u > v) or not (present[u] and present[v]):
                continue
            s = decoder.logits(z, torch.tensor([[u], [v]])).squeeze(-1).double()
            p = torch.sigmoid(s)
            a = 1.0 if (u, v) in edge_set else 0.0
            total = total + a * torch.log(p) + (1 - a) * torch.log1p(-p)
    return total


def _random_edges(n, e, directed, gen):
    pairs = valid_pairs(n, directed)
    pick = torch.randperm(pairs.size(1), generator=gen)[:e]
    return pairs[:, pick]


# ---------------------------------------------------------------- pair sets


@pytest.mark.parametrize("n", [2, 3, 7])
def test_valid_pairs_match_definition(n):
    und = {tuple(p) for p in valid_pairs(n, False).t().tolist()}
    assert und == {(u, v) for u in range(n) for v in range(n) if u < v}
    assert len(und) == num_valid_pairs(n, False) == n * (n - 1) // 2
    dire = valid_pairs(n, True).t().tolist()
    assert len(dire) == len(set(map(tuple, dire))) == num_valid_pairs(n, True) == n * (n - 1)
    assert set(map(tuple, dire)) == set(itertools.permutations(range(n), 2))


def test_valid_pairs_degenerate():
    assert valid_pairs(1, True).shape == (2, 0) and num_valid_pairs(1, False) == 0


def test_index_to_pair_is_a_bijection():
    n = 9
    pairs = _index_to_ordered_pair(torch.arange(n * (n - 1)), n)
    assert (pairs[0] != pairs[1]).all()
    assert len({tuple(p) for p in pairs.t().tolist()}) == n * (n - 1)


@pytest.mark.parametrize("directed", [False, True])
def test_sample_pairs_uniform(directed):
    n, k = 6, 60_000
    gen = torch.Generator().manual_seed(1)
    pairs = sample_pairs(n, k, directed, generator=gen)
    assert pairs.shape == (2, k)
    assert (pairs[0] != pairs[1]).all()
    if not directed:
        assert (pairs[0] < pairs[1]).all()
    m = num_valid_pairs(n, directed)
    counts = torch.bincount(pairs[0] * n + pairs[1], minlength=n * n)
    valid = valid_pairs(n, directed)
    observed = counts[valid[0] * n + valid[1]]
    assert observed.sum() == k  # nothing outside the valid set
    # Chi-square goodness of fit to the uniform law on the M valid pairs.
    assert chisquare(observed.numpy(), [k / m] * m).pvalue > 1e-3


def test_sample_pairs_huge_n_is_o_k():
    gen = torch.Generator().manual_seed(0)
    n = 3_000_000  # n(n-1) ~ 9e12 pair indices (> 2^31); a dense enumeration could not exist
    pairs = sample_pairs(n, 1000, True, generator=gen)
    assert pairs.min() >= 0 and pairs.max() < n and (pairs[0] != pairs[1]).all()


# ---------------------------------------------------------------- dense evaluator


@pytest.mark.parametrize("kind", ["inner", "bilinear", "mlp"])
@pytest.mark.parametrize("directed", [False, True])
def test_dense_matches_double_loop(kind, directed):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(3)
    n, d = 7, 3
    dec = EdgeDecoder(d, kind=kind, directed=directed, hidden_dim=8)
    if dec.bias is not None:
        with torch.no_grad():
            dec.bias.fill_(-0.7)
    z = torch.randn(2, n, d)
    edges = _random_edges(n, 9, directed, gen)
    got = adjacency_log_likelihood(dec, z, edges, n, directed, method="dense")
    want = _brute_force(dec, z, edges, n, directed)
    assert got.shape == (2,)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-4)


def test_dense_undirected_either_orientation_and_self_loops_ignored():
    torch.manual_seed(1)
    n, d = 6, 2
    dec = EdgeDecoder(d)
    z = torch.randn(n, d)
    e1 = torch.tensor([[0, 1, 2], [3, 4, 5]])
    e2 = torch.tensor([[3, 4, 5, 2], [0, 1, 2, 2]])  # reversed + a self-loop
    a = adjacency_log_likelihood(dec, z, e1, n, False, method="dense")
    b = adjacency_log_likelihood(dec, z, e2, n, False, method="dense")
    c = adjacency_log_likelihood(dec, z, e2, n, False, method="sparse", num_negatives=10)
    torch.testing.assert_close(a, b)
    assert torch.isfinite(c)


def test_dense_with_node_mask_matches_double_loop():
    torch.manual_seed(2)
    n, d = 7, 3
    dec = EdgeDecoder(d, kind="bilinear", directed=True)
    z = torch.randn(n, d)
    mask = torch.tensor([True, False, True, True, True, False, True])
    edges = torch.tensor([[0, 2, 6, 3], [2, 0, 4, 6]])
    got = adjacency_log_likelihood(dec, z, edges, n, True, method="dense", node_mask=mask)
    torch.testing.assert_close(got.double(), _brute_force(dec, z, edges, n, True, mask))


def test_dense_is_stable_for_extreme_logits():
    n = 5
    z = torch.full((n, 2), 30.0)  # scores 1800: sigmoid saturates in float32
    dec = EdgeDecoder(2, bias=False)
    edges = torch.tensor([[0], [1]])
    ll = adjacency_log_likelihood(dec, z, edges, n, False, method="dense")
    # 9 non-edges with log sigmoid(-1800) = -1800 each; the edge contributes ~0.
    assert torch.isfinite(ll)
    torch.testing.assert_close(ll, torch.tensor(-9 * 1800.0))


# ---------------------------------------------------------------- sparse estimator


def _sparse_stats(dec, z, edges, n, directed, k, reps, node_mask=None):
    values, grads = [], []
    params = [z, *dec.parameters()]
    for seed in range(reps):
        gen = torch.Generator().manual_seed(seed)
        ll = adjacency_log_likelihood(
            dec, z, edges, n, directed, method="sparse", num_negatives=k, generator=gen,
            node_mask=node_mask, validate=False,
        )
        g = torch.autograd.grad(ll.sum(), params)
        values.append(ll.detach())
        grads.append(torch.cat([x.reshape(-1) for x in g]))
    return torch.stack(values).double(), torch.stack(grads).double()


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("kind", ["inner", "mlp"])
def test_sparse_is_unbiased_value_and_gradient(directed, kind):
    torch.manual_seed(4)
    gen = torch.Generator().manual_seed(5)
    n, d, k, reps = 12, 3, 8, 600
    dec = EdgeDecoder(d, kind=kind, directed=directed, hidden_dim=8)
    z = torch.randn(n, d, requires_grad=True)
    edges = _random_edges(n, 15, directed, gen)
    dense = adjacency_log_likelihood(dec, z, edges, n, directed, method="dense")
    dense_grad = torch.cat(
        [g.reshape(-1) for g in torch.autograd.grad(dense, [z, *dec.parameters()])]
    ).double()
    values, grads = _sparse_stats(dec, z, edges, n, directed, k, reps)
    se = values.std() / math.sqrt(reps)
    assert values.std() > 0.1  # the estimator is genuinely random at this K
    assert abs(values.mean() - dense.double()) / se < 4.0
    gse = grads.std(0) / math.sqrt(reps)
    zscore = (grads.mean(0) - dense_grad).abs() / (gse + 1e-6)
    # Up to ~100 coordinates: a 5-sigma bound is exceeded by chance with probability < 1e-4.
    assert zscore.max() < 5.0, zscore.max()


def test_sparse_unbiased_with_node_mask():
    torch.manual_seed(6)
    n, d, k, reps = 10, 2, 6, 500
    dec = EdgeDecoder(d, directed=False)
    z = torch.randn(n, d, requires_grad=True)
    mask = torch.ones(n, dtype=torch.bool)
    mask[[1, 4, 7]] = False
    edges = torch.tensor([[0, 2, 3, 5], [2, 3, 9, 8]])
    dense = adjacency_log_likelihood(dec, z, edges, n, False, method="dense", node_mask=mask)
    values, _ = _sparse_stats(dec, z, edges, n, False, k, reps, node_mask=mask)
    assert abs(values.mean() - dense.double()) / (values.std() / math.sqrt(reps)) < 4.0


def test_sparse_with_all_pairs_sampled_many_times_converges():
    torch.manual_seed(7)
    n, d = 8, 2
    dec = EdgeDecoder(d, kind="bilinear")
    z = torch.randn(n, d)
    edges = torch.tensor([[0, 1, 2], [5, 6, 7]])
    gen = torch.Generator().manual_seed(0)
    dense = adjacency_log_likelihood(dec, z, edges, n, False, method="dense")
    sparse = adjacency_log_likelihood(
        dec, z, edges, n, False, method="sparse", num_negatives=400_000, generator=gen
    )
    torch.testing.assert_close(sparse, dense, rtol=5e-3, atol=0.05)


def test_sparse_sample_dims_share_pairs_and_match_loop():
    torch.manual_seed(8)
    n, d = 30, 4
    dec = EdgeDecoder(d, kind="mlp", hidden_dim=8)
    z = torch.randn(5, n, d)
    edges = _random_edges(n, 20, False, torch.Generator().manual_seed(1))
    out = adjacency_log_likelihood(
        dec, z, edges, n, False, method="sparse", num_negatives=50,
        generator=torch.Generator().manual_seed(9),
    )
    assert out.shape == (5,)
    loop = torch.stack([
        adjacency_log_likelihood(
            dec, z[s], edges, n, False, method="sparse", num_negatives=50,
            generator=torch.Generator().manual_seed(9),
        )
        for s in range(5)
    ])
    torch.testing.assert_close(out, loop)
    dense = adjacency_log_likelihood(dec, z, edges, n, False, method="dense")
    dense_loop = torch.stack(
        [adjacency_log_likelihood(dec, z[s], edges, n, False, method="dense") for s in range(5)]
    )
    torch.testing.assert_close(dense, dense_loop)


class _NoDense(EdgeDecoder):
    def dense_logits(self, z, chunk_size=256):
        raise AssertionError("the sparse path must never build N x N scores")


def test_sparse_path_on_a_large_graph_never_goes_dense():
    n, d = 200_000, 4  # N^2 = 4e10 scores would not fit in memory
    gen = torch.Generator().manual_seed(0)
    dec = _NoDense(d)
    z = 0.1 * torch.randn(n, d, generator=gen)
    edges = torch.stack([torch.arange(0, n - 1, 2), torch.arange(1, n, 2)])
    ll = adjacency_log_likelihood(dec, z, edges, n, False, generator=gen)  # auto -> sparse
    assert torch.isfinite(ll)
    # Near z = 0 every score is ~0, so log p ~ M log(1/2).
    m = num_valid_pairs(n, False)
    assert abs(ll.item() / (m * math.log(0.5)) - 1.0) < 1e-2


def test_auto_switches_on_dense_max_nodes():
    torch.manual_seed(10)
    n, d = 9, 2
    dec = EdgeDecoder(d)
    z = torch.randn(n, d)
    edges = torch.tensor([[0, 1], [2, 3]])
    dense = adjacency_log_likelihood(dec, z, edges, n, False, method="dense")
    auto_dense = adjacency_log_likelihood(dec, z, edges, n, False, dense_max_nodes=9)
    torch.testing.assert_close(auto_dense, dense)
    a = adjacency_log_likelihood(
        dec, z, edges, n, False, dense_max_nodes=8, num_negatives=3,
        generator=torch.Generator().manual_seed(0),
    )
    b = adjacency_log_likelihood(
        dec, z, edges, n, False, dense_max_nodes=8, num_negatives=3,
        generator=torch.Generator().manual_seed(1),
    )
    assert a != b  # random, hence the sparse path


def test_positive_term_identity():
    s = torch.linspace(-40, 40, 101)
    torch.testing.assert_close(F.logsigmoid(s) - F.logsigmoid(-s), s, atol=1e-4, rtol=1e-5)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "edges, directed, match",
    [
        (torch.tensor([[0, 1], [1, 0]]), False, "stored twice"),
        (torch.tensor([[0, 0], [1, 1]]), False, "stored twice"),
        (torch.tensor([[0, 0], [1, 1]]), True, "repeated directed edge"),
        (torch.tensor([[0], [7]]), False, r"\[0, 5\)"),
        (torch.tensor([[-1], [2]]), True, r"\[0, 5\)"),
        (torch.tensor([[0.0], [1.0]]), False, "integer"),
        (torch.tensor([0, 1]), False, r"\(2, E\)"),
    ],
)
def test_bad_edges_raise(edges, directed, match):
    dec = EdgeDecoder(2)
    with pytest.raises(ValueError, match=match):
        adjacency_log_likelihood(dec, torch.zeros(5, 2), edges, 5, directed)


def test_directed_both_directions_are_two_edges():
    dec = EdgeDecoder(2, directed=True)
    ll = adjacency_log_likelihood(dec, torch.zeros(5, 2), torch.tensor([[0, 1], [1, 0]]), 5, True)
    assert torch.isfinite(ll)


def test_bad_arguments_raise():
    dec = EdgeDecoder(2)
    z = torch.zeros(5, 2)
    e = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="method"):
        adjacency_log_likelihood(dec, z, e, 5, False, method="exact")
    with pytest.raises(ValueError, match="z: expected"):
        adjacency_log_likelihood(dec, z, e, 6, False)
    with pytest.raises(ValueError, match="node_mask"):
        adjacency_log_likelihood(dec, z, e, 5, False, node_mask=torch.ones(5))
    with pytest.raises(ValueError, match="absent"):
        mask = torch.tensor([True, False, True, True, True])
        adjacency_log_likelihood(dec, z, e, 5, False, node_mask=mask)
    with pytest.raises(ValueError, match="num_negatives"):
        adjacency_log_likelihood(dec, z, e, 5, False, method="sparse", num_negatives=0)


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("budget", [None, 5])
def test_sparse_with_a_stratum_is_unbiased_and_less_noisy(directed, budget):
    """The stratified estimator (the stratum summed exactly, or sub-sampled under a budget;
    uniform draws inside it zeroed) has the dense log-likelihood as its mean, with a node
    mask; with large logits on the stratum its spread is far below the plain estimator's."""
    torch.manual_seed(9)
    gen = torch.Generator().manual_seed(10)
    n, d, k, reps = 12, 3, 8, 600
    dec = EdgeDecoder(d, directed=directed)
    z = torch.randn(n, d)
    mask = torch.ones(n, dtype=torch.bool)
    mask[3] = False
    pairs = valid_pairs(n, directed)
    pairs = pairs[:, mask[pairs[0]] & mask[pairs[1]]]
    edges = pairs[:, torch.randperm(pairs.size(1), generator=gen)[:10]]
    stratum = pairs[:, torch.randperm(pairs.size(1), generator=gen)[:14]]
    stratum = torch.cat([stratum, torch.tensor([[3], [5]])], 1)  # absent node 3: dropped
    with torch.no_grad():
        dec.bias.fill_(-1.0)
        dense = adjacency_log_likelihood(dec, z, edges, n, directed, method="dense",
                                         node_mask=mask).double()
        vals, plain = [], []
        for _ in range(reps):
            vals.append(adjacency_log_likelihood(
                dec, z, edges, n, directed, method="sparse", num_negatives=k, generator=gen,
                node_mask=mask, stratum=stratum, stratum_budget=budget))
            plain.append(adjacency_log_likelihood(
                dec, z, edges, n, directed, method="sparse", num_negatives=k, generator=gen,
                node_mask=mask))
    v, p = torch.stack(vals).double(), torch.stack(plain).double()
    assert abs(v.mean() - dense) / (v.std() / math.sqrt(reps)) < 4.0
    assert abs(p.mean() - dense) / (p.std() / math.sqrt(reps)) < 4.0
    if budget is None:
        assert v.std() < p.std()
    # the whole pair set as the stratum: exact, no randomness left
    with torch.no_grad():
        full = adjacency_log_likelihood(dec, z, edges, n, directed, method="sparse",
                                        num_negatives=k, generator=gen, node_mask=mask,
                                        stratum=pairs, stratum_budget=10_000)
    torch.testing.assert_close(full.double(), dense)

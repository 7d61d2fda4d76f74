"""Edge-list checks and pair sampling at their edges (written against surviving mutants of
``mutmut``, docs/benchmarks.md): the repeated pair named exactly, ids equal to N refused, two
nodes enough to sample, zero samples allowed, the documented auto threshold, a graph with one
present node scoring zero."""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.nn.adjacency import adjacency_log_likelihood, resolve_method, sample_pairs
from dyngraphvae.nn.decoders import EdgeDecoder


@pytest.mark.parametrize("directed", [True, False])
def test_a_repeated_pair_is_named(directed):
    dec = EdgeDecoder(2, "inner", directed)
    z = torch.zeros(7, 2)
    # directed: (4, 6) twice; undirected: (6, 4) and (4, 6), the same pair
    ei = torch.tensor([[1, 4, 4], [2, 6, 6]]) if directed else torch.tensor([[1, 6, 4],
                                                                             [2, 4, 6]])
    with pytest.raises(ValueError) as err:
        adjacency_log_likelihood(dec, z, ei, 7, directed, method="dense")
    assert "(4, 6)" in str(err.value)
    assert ("repeated directed edge" if directed else "stored twice") in str(err.value)


def test_node_ids_must_be_below_n():
    dec = EdgeDecoder(2, "inner", False)
    with pytest.raises(ValueError, match=r"node ids must lie in \[0, 5\), found \[0, 5\]"):
        adjacency_log_likelihood(dec, torch.zeros(5, 2), torch.tensor([[0], [5]]), 5, False)
    ok = adjacency_log_likelihood(dec, torch.zeros(5, 2), torch.tensor([[0], [4]]), 5, False)
    assert torch.isfinite(ok)


def test_an_edge_to_an_absent_node_is_named():
    dec = EdgeDecoder(2, "inner", False)
    mask = torch.tensor([True, True, False, True])
    with pytest.raises(ValueError, match=r"edge \(1, 2\) touches a node"):
        adjacency_log_likelihood(dec, torch.zeros(4, 2), torch.tensor([[0, 1], [3, 2]]), 4,
                                 False, node_mask=mask)


def test_sample_pairs_edges():
    two = sample_pairs(2, 50, True, generator=torch.Generator().manual_seed(0))
    assert set(map(tuple, two.t().tolist())) == {(0, 1), (1, 0)}
    assert sample_pairs(2, 20, False).unique(dim=1).tolist() == [[0], [1]]
    assert sample_pairs(5, 0, False).shape == (2, 0)
    with pytest.raises(ValueError, match="need at least 2 nodes"):
        sample_pairs(1, 3, False)
    with pytest.raises(ValueError, match="num_samples: must be >= 0"):
        sample_pairs(5, -1, False)


def test_auto_is_dense_up_to_2000_nodes():
    assert resolve_method("auto", 2000) == "dense"
    assert resolve_method("auto", 2001) == "sparse"


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_one_present_node_has_no_pair_to_score(method):
    dec = EdgeDecoder(2, "inner", False)
    mask = torch.tensor([False, True, False])
    ll = adjacency_log_likelihood(dec, torch.randn(3, 2), torch.zeros(2, 0, dtype=torch.long),
                                  3, False, method=method, node_mask=mask, num_negatives=1)
    assert float(ll) == 0.0
    with pytest.raises(ValueError, match="num_negatives: must be >= 1"):
        adjacency_log_likelihood(dec, torch.randn(3, 2), torch.zeros(2, 0, dtype=torch.long), 3,
                                 False, method="sparse", num_negatives=0)

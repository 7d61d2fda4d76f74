"""Bad container input: each raises TemporalGraphError naming what and where."""

import math

import pytest
import torch

from dyngraphvae.data import TemporalGraph, TemporalGraphError, from_data_list

E = torch.tensor([[0, 1], [1, 2]])


def build(**kw):
    args = {"edge_indices": [E, E], "num_nodes": 4}
    args.update(kw)
    return TemporalGraph(args.pop("edge_indices"), args.pop("num_nodes"), **args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"edge_indices": [E, torch.tensor([[0], [4]])]},
            r"snapshot 1, edge_index: node id 4 out of range",
        ),
        (
            {"edge_indices": [torch.tensor([[-1], [2]]), E]},
            r"snapshot 0, edge_index: negative node id -1",
        ),
        ({"edge_indices": [E.float(), E]}, r"snapshot 0, edge_index: expected an integer tensor"),
        (
            {"edge_indices": [E, torch.tensor([0, 1, 2])]},
            r"snapshot 1, edge_index: expected shape \(2, E\)",
        ),
        ({"edge_indices": [E, torch.zeros(3, 2, dtype=torch.long)]}, r"expected shape \(2, E\)"),
        ({"num_nodes": 0}, r"num_nodes must be a positive integer"),
        ({"num_nodes": 2.5}, r"num_nodes must be a positive integer"),
        ({"edge_indices": []}, r"need at least 1 snapshots, got 0"),
        ({"min_snapshots": 3}, r"need at least 3 snapshots, got 2"),
        (
            {"edge_indices": [torch.tensor([[0, 0], [1, 1]]), E]},
            r"snapshot 0, edge_index: 1 duplicate edge",
        ),
        (
            {"edge_indices": [E, torch.tensor([[2], [2]])]},
            r"snapshot 1, edge_index: 1 self-loop\(s\), first at node 2",
        ),
        (
            {"edge_weights": [torch.ones(2)]},
            r"edge_weights: expected one tensor per snapshot \(2\), got 1",
        ),
        (
            {"edge_weights": [torch.ones(2), torch.ones(3)]},
            r"snapshot 1, edge_weight: expected shape \(2,\)",
        ),
        (
            {"edge_weights": [torch.ones(2), torch.tensor([1.0, math.nan])]},
            r"snapshot 1, edge_weight: non-finite",
        ),
        (
            {"edge_weights": [torch.ones(2), torch.tensor([1.0, math.inf])]},
            r"snapshot 1, edge_weight: non-finite",
        ),
        ({"x": [torch.ones(4, 3), torch.ones(4, 2)]}, r"snapshot 1, x: feature width 2 differs"),
        ({"x": [torch.ones(4, 3), torch.ones(5, 3)]}, r"snapshot 1, x: expected shape \(4, F\)"),
        ({"x": torch.ones(3, 4, 2)}, r"x: per-step features must have shape \(2, 4, F\)"),
        ({"x": torch.ones(5, 2)}, r"x: static features must have shape \(4, F\)"),
        ({"x": torch.ones(4)}, r"x: expected 2 or 3 dimensions"),
        ({"x": torch.tensor([[[0.0]] * 4, [[math.nan]] * 4])}, r"snapshot 1, x: non-finite"),
        ({"x": torch.full((4, 2), math.inf)}, r"x: non-finite"),
        ({"node_mask": torch.ones(2, 4)}, r"node_mask: expected a bool tensor"),
        ({"node_mask": torch.ones(2, 5, dtype=torch.bool)}, r"node_mask: expected shape \(2, 4\)"),
        (
            {"node_mask": torch.tensor([[True] * 4, [True, True, False, True]])},
            r"snapshot 1, node_mask: edge \[1, 2\] touches a node that the mask marks absent",
        ),
        ({"y": torch.ones(3, 4)}, r"y: expected shape \(2, 4\)"),
        ({"y": torch.tensor([[0.0] * 4, [math.nan] * 4])}, r"snapshot 1, y: non-finite"),
        ({"time": torch.arange(3)}, r"time: expected shape \(2,\)"),
        ({"duplicates": "sum"}, r"duplicates must be 'error' or 'merge'"),
        ({"self_loops": "drop"}, r"self_loops must be 'error', 'remove' or 'keep'"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(TemporalGraphError, match=message):
        build(**kwargs)


def test_undirected_weights_must_agree_in_both_directions():
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(
        TemporalGraphError, match=r"snapshot 0, edge_weight: undirected edge \(0, 1\)"
    ):
        TemporalGraph([ei], 2, edge_weights=[torch.tensor([1.0, 2.0])])
    g = TemporalGraph([ei], 2, edge_weights=[torch.tensor([3.0, 3.0])])
    assert g.edges(0).tolist() == [[0], [1]] and g.weights(0).tolist() == [3.0]


def test_policies_merge_and_remove_are_explicit():
    ei = torch.tensor([[0, 0, 2], [1, 1, 2]])
    g = TemporalGraph(
        [ei],
        3,
        directed=True,
        duplicates="merge",
        self_loops="remove",
        edge_weights=[torch.tensor([1.0, 2.0, 5.0])],
    )
    assert g.edges(0).tolist() == [[0], [1]] and g.weights(0).tolist() == [3.0]


def test_interop_rejects_inconsistent_snapshots():
    from torch_geometric.data import Data

    d0 = Data(edge_index=E, num_nodes=4, x=torch.ones(4, 2))
    d1 = Data(edge_index=E, num_nodes=4)
    with pytest.raises(TemporalGraphError, match=r"snapshot 1, x: missing while other snapshots"):
        from_data_list([d0, d1])
    d2 = Data(edge_index=E, num_nodes=5)
    with pytest.raises(TemporalGraphError, match=r"snapshot 1, num_nodes: 5 differs from 4"):
        from_data_list([Data(edge_index=E, num_nodes=4), d2])
    with pytest.raises(TemporalGraphError, match=r"snapshot 0, edge_index: expected integer"):
        from_data_list([Data(edge_index=E.float(), num_nodes=4)])


def test_undirected_kept_self_loop_listed_once_in_both_directions():
    g = TemporalGraph(
        [torch.tensor([[0, 1, 2], [0, 2, 2]])],
        3,
        edge_weights=[torch.tensor([5.0, 2.0, 7.0])],
        self_loops="keep",
    )
    data = g[0]
    src, dst = data.edge_index.tolist()
    pairs = sorted(zip(src, dst, data.edge_weight.tolist(), strict=True))
    assert pairs == [(0, 0, 5.0), (1, 2, 2.0), (2, 1, 2.0), (2, 2, 7.0)]

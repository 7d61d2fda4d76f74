"""Round trips: TemporalGraph, PyG Data lists, PyG Temporal signals, TemporalData, networkx."""

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data, TemporalData

from dyngraphvae.data import (
    TemporalGraph,
    TemporalGraphError,
    bin_events,
    dynamic_sbm,
    from_data_list,
    from_networkx,
    from_pygt_signal,
    from_temporal_data,
    load_dataset,
    to_data_list,
    to_networkx,
)


def data_root() -> Path | None:
    env = os.environ.get("DYNGRAPHVAE_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
    return root if (root / "README.md").is_file() else None


needs_data = pytest.mark.skipif(
    data_root() is None, reason="data root ../shared/datasets (or $DYNGRAPHVAE_DATA) not found"
)


def full_roundtrip(g: TemporalGraph) -> TemporalGraph:
    """container -> PyG Data list -> container -> networkx -> container."""
    g1 = from_data_list(to_data_list(g), g.num_nodes)
    assert g1 == g
    return from_networkx(to_networkx(g1), nodes=range(g.num_nodes))


@needs_data
@pytest.mark.parametrize("name", ["vgrnn_enron10", "dysat_enron", "bitcoin_alpha"])
def test_npz_roundtrip_through_pyg_and_networkx(name):
    g = load_dataset(name, root=data_root())
    if name == "bitcoin_alpha":
        g = g[:10]  # directed, signed weights, window times; 10 steps keep networkx fast
    back = full_roundtrip(g)
    assert back == g
    assert back.directed == g.directed and back.num_nodes == g.num_nodes
    if g.node_mask is not None:
        assert torch.equal(back.node_mask, g.node_mask)
    if g.time is not None:
        assert torch.equal(from_data_list(to_data_list(g)).time, g.time)


def test_synthetic_roundtrip_keeps_features_and_targets():
    s = dynamic_sbm(num_nodes=15, num_snapshots=4, num_features=3, seed=1)
    y = torch.randn(4, 15)
    g = TemporalGraph([s.edges(t) for t in range(4)], 15, x=s.x, y=y)
    back = full_roundtrip(g)
    assert back == g and torch.equal(back.x, g.x) and torch.equal(back.y, y)


def test_directed_flag_inferred_from_symmetry():
    sym = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3)
    asym = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    g = from_data_list([sym, sym])
    assert not g.directed and g.num_edges() == [2, 2]
    assert from_data_list([sym, asym]).directed
    # one-direction undirected input is accepted when the caller says so
    g1 = from_data_list([asym], directed=False)
    assert not g1.directed and g1.edges(0).tolist() == [[0, 1], [1, 2]]
    # equal structure but unequal weights in the two directions: directed
    w = Data(edge_index=sym.edge_index, edge_weight=torch.tensor([1.0, 2.0, 3.0, 3.0]), num_nodes=3)
    assert from_data_list([w]).directed


def test_edge_attr_column_is_read_as_weight():
    d = Data(edge_index=torch.tensor([[0], [1]]), edge_attr=torch.tensor([[2.5]]), num_nodes=2)
    g = from_data_list([d], directed=True)
    assert g.weights(0).tolist() == [2.5]


class StaticGraphTemporalSignal:  # attribute layout of torch_geometric_temporal's class
    def __init__(self, edge_index, edge_weight, features, targets):
        self.edge_index, self.edge_weight = edge_index, edge_weight
        self.features, self.targets = features, targets


class DynamicGraphTemporalSignal:
    def __init__(self, edge_indices, edge_weights, features, targets):
        self.edge_indices, self.edge_weights = edge_indices, edge_weights
        self.features, self.targets = features, targets


class DynamicGraphStaticSignal:
    def __init__(self, edge_indices, edge_weights, feature, targets):
        self.edge_indices, self.edge_weights = edge_indices, edge_weights
        self.feature, self.targets = feature, targets


def test_pygt_static_signal_repeats_the_graph():
    rng = np.random.default_rng(0)
    ei = np.array([[0, 1, 2], [1, 2, 0]])
    feats = [rng.normal(size=(3, 4)) for _ in range(5)]
    targets = [rng.normal(size=3) for _ in range(5)]
    g = from_pygt_signal(StaticGraphTemporalSignal(ei, np.array([1.0, 2.0, 3.0]), feats, targets))
    assert len(g) == 5 and g.directed and g.num_nodes == 3
    assert all(g.edges(t).tolist() == [[0, 1, 2], [1, 2, 0]] for t in range(5))
    assert g.weights(4).tolist() == [1.0, 2.0, 3.0]
    assert torch.allclose(g.x, torch.tensor(np.stack(feats), dtype=torch.float32))
    assert torch.allclose(g.y, torch.tensor(np.stack(targets), dtype=torch.float32))


def test_pygt_dynamic_signals():
    eis = [np.array([[0, 1], [1, 0]]), np.array([[1, 2], [2, 1]])]
    ws = [np.array([1.0, 1.0]), np.array([2.0, 2.0])]
    feats = [np.ones((3, 2)), 2 * np.ones((3, 2))]
    g = from_pygt_signal(DynamicGraphTemporalSignal(eis, ws, feats, [np.zeros(3)] * 2))
    assert not g.directed  # symmetric lists with equal weights
    assert g.edges(1).tolist() == [[1], [2]] and g.weights(1).tolist() == [2.0]
    assert g.x.shape == (2, 3, 2) and float(g.x[1].mean()) == 2.0
    s = from_pygt_signal(DynamicGraphStaticSignal(eis, ws, np.eye(3), [np.zeros(3)] * 2))
    assert s.static_features and torch.equal(s.x, torch.eye(3))
    bad = DynamicGraphTemporalSignal(eis, ws[:1], feats, [np.zeros(3)] * 2)
    with pytest.raises(TemporalGraphError, match=r"edge_weights: expected 2 entries"):
        from_pygt_signal(bad)
    loops = DynamicGraphTemporalSignal(
        [np.array([[0], [0]])], [np.ones(1)], [np.ones((3, 1))], [np.zeros(3)]
    )
    with pytest.raises(TemporalGraphError, match=r"self-loop"):
        from_pygt_signal(loops)
    assert from_pygt_signal(loops, self_loops="remove").num_edges() == [0]


def test_temporal_data_binning_by_window_and_count():
    ev = TemporalData(
        src=torch.tensor([0, 1, 0, 2, 0, 3]),
        dst=torch.tensor([1, 0, 1, 3, 1, 2]),
        t=torch.tensor([0, 1, 2, 5, 9, 9]),
    )
    g = from_temporal_data(ev, window=3)  # windows [0,3) [3,6) [6,9) [9,12)
    assert len(g) == 4 and g.directed
    assert g.edges(0).tolist() == [[0, 1], [1, 0]] and g.weights(0).tolist() == [2.0, 1.0]
    assert g.edges(1).tolist() == [[2], [3]] and g.num_edges(2) == 0
    assert g.time.tolist() == [0, 3, 6, 9]
    u = from_temporal_data(ev, window=3, directed=False)  # 0->1 twice and 1->0 once: weight 3
    assert u.edges(0).tolist() == [[0], [1]] and u.weights(0).tolist() == [3.0]
    assert u.edges(3).tolist() == [[0, 2], [1, 3]]
    k = from_temporal_data(ev, num_snapshots=3)  # window 3, last event clamped into step 2
    assert len(k) == 3 and k.num_edges() == [2, 1, 2]
    with pytest.raises(TemporalGraphError, match=r"exactly one of window= or num_snapshots="):
        from_temporal_data(ev)


def test_bin_events_sums_event_weights_and_reports_bad_streams():
    g = bin_events([0, 0, 1], [1, 1, 2], [0.0, 1.0, 2.5], 3, window=2.0, weight=[2.0, -1.0, 4.0])
    assert g.weights(0).tolist() == [1.0] and g.weights(1).tolist() == [4.0]
    with pytest.raises(TemporalGraphError, match=r"equal length"):
        bin_events([0], [1, 2], [0, 1], window=1)
    with pytest.raises(TemporalGraphError, match=r"non-finite"):
        bin_events([0], [1], [float("nan")], window=1)


def test_networkx_labels_masks_and_weights():
    g0, g1 = nx.Graph(), nx.Graph()
    g0.add_edge("a", "b", weight=2.0)
    g0.add_node("c")
    g1.add_edge("b", "c", weight=1.5)
    g, nodes = from_networkx([g0, g1], return_nodes=True)
    assert nodes == ["a", "b", "c"]
    assert g.node_mask.tolist() == [[True, True, True], [False, True, True]]
    assert g.weights(0).tolist() == [2.0] and g.edges(1).tolist() == [[1], [2]]
    back = to_networkx(g, nodes)
    assert set(back[1].nodes) == {"b", "c"} and back[0]["a"]["b"]["weight"] == 2.0
    g1.add_edge("a", "c")  # no weight while others have one
    with pytest.raises(TemporalGraphError, match=r"snapshot 1, edge_weight: some edges lack"):
        from_networkx([g0, g1])
    with pytest.raises(TemporalGraphError, match=r"multigraphs"):
        from_networkx([nx.MultiGraph()])
    with pytest.raises(TemporalGraphError, match=r"mix directed and undirected"):
        from_networkx([nx.Graph(), nx.DiGraph()])


def test_classmethods_delegate():
    g = dynamic_sbm(num_nodes=12, num_snapshots=3, num_features=2)
    assert TemporalGraph.from_data_list(g.to_data_list()) == g
    assert TemporalGraph.from_networkx(g.to_networkx()) == g

"""The first mistakes of a new user fail with a message that says what to do.

Each test makes one mistake (wrong data root, features where there are none, directed data in an
undirected model and vice versa, another number of nodes, a model folder of another model) and
checks that the error names the problem *and* the fix; each would fail if the message lost its
advice or if the mistake were accepted silently.
"""

from __future__ import annotations

import json

import pytest
import torch

import dyngraphvae as dgv
from dyngraphvae.data.io import DatasetNotFoundError
from dyngraphvae.models.cvae import CVAE
from dyngraphvae.training import CheckpointMismatchError


@pytest.fixture(scope="module")
def sbm() -> dgv.TemporalGraph:
    return dgv.dynamic_sbm(num_nodes=12, num_snapshots=4, num_communities=2, num_features=3,
                           seed=0)


@pytest.fixture(scope="module")
def featureless(sbm) -> dgv.TemporalGraph:
    return sbm.with_features(None)


def _model(graph: dgv.TemporalGraph, **kw) -> dgv.TemporalGraphVAE:
    torch.manual_seed(0)
    return dgv.TemporalGraphVAE(dgv.ForecasterConfig.for_graph(graph, latent_dim=2,
                                                               hidden_dim=8, **kw))


# ---------------------------------------------------------------------------- data root
def test_missing_data_root_says_it_does_not_exist_and_how_to_point_to_it(tmp_path):
    root = tmp_path / "no-such-folder"
    with pytest.raises(DatasetNotFoundError) as err:
        dgv.load_dataset("vgrnn_enron10", root)
    msg = str(err.value)
    assert str(root) in msg and "does not exist" in msg
    assert "pass root=DIR" in msg and "$DYNGRAPHVAE_DATA" in msg
    assert "vgrnn_enron10/data.npz" in msg


def test_root_without_the_dataset_says_what_file_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("DYNGRAPHVAE_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError) as err:
        dgv.load_dataset("vgrnn_enron10", tmp_path)
    msg = str(err.value)
    assert "exists but lacks this file" in msg and "vgrnn_enron10/data.npz" in msg
    # an unknown name lists the registered ones
    with pytest.raises(DatasetNotFoundError, match="registered datasets: .*vgrnn_enron10"):
        dgv.load_dataset("enron", tmp_path)


def test_environment_variable_is_named_as_the_origin(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNGRAPHVAE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError, match=r"data root from \$DYNGRAPHVAE_DATA"):
        dgv.load_dataset("vgrnn_colab")


# ---------------------------------------------------------------------------- features
def test_feature_model_on_featureless_graph_says_how_to_fix(sbm, featureless):
    model = _model(sbm)  # 3 features, feature decoder
    assert model.feature_decoder is not None
    with pytest.raises(ValueError) as err:
        model.elbo(featureless)
    msg = str(err.value)
    assert "graph has 0 node features, config.num_features=3" in msg
    assert "graph.with_features(x)" in msg and "ForecasterConfig.for_graph(graph)" in msg


def test_featureless_model_on_graph_with_features_says_how_to_fix(sbm, featureless):
    model = _model(featureless)
    with pytest.raises(ValueError) as err:
        model.forecast(sbm, horizon=1, num_samples=2)
    msg = str(err.value)
    assert "graph has 3 node features, config.num_features=0" in msg
    assert "graph.with_features(None)" in msg


def test_decode_features_without_features_is_refused_with_advice():
    with pytest.raises(ValueError) as err:
        dgv.ForecasterConfig(num_nodes=5, decode_features=True)
    msg = str(err.value)
    assert "needs num_features > 0" in msg and "decode_features=None" in msg


def test_the_advice_for_features_works(sbm, featureless):
    """Following the advice (for_graph / with_features) gives a model that accepts the graph."""
    assert torch.isfinite(_model(featureless).elbo(featureless).elbo)
    assert torch.isfinite(_model(sbm).elbo(featureless.with_features(sbm.x)).elbo)


# ---------------------------------------------------------------------------- direction
def _directed(g: dgv.TemporalGraph) -> dgv.TemporalGraph:
    return dgv.TemporalGraph([g.edges(t, both_directions=True) for t in range(len(g))],
                             g.num_nodes, directed=True)


def test_directed_graph_into_undirected_model(featureless):
    model = _model(featureless)
    directed = _directed(featureless)
    with pytest.raises(ValueError) as err:
        model.elbo(directed)
    msg = str(err.value)
    assert "graph.directed=True but config.directed=False" in msg
    assert "symmetrise" in msg and "duplicates='merge'" in msg
    # the advice, followed, gives back the undirected graph the model accepts
    sym = dgv.TemporalGraph([directed.edges(t) for t in range(len(directed))],
                            directed.num_nodes, directed=False, duplicates="merge")
    assert sym == dgv.TemporalGraph([featureless.edges(t) for t in range(len(featureless))],
                                    featureless.num_nodes)
    assert torch.isfinite(model.elbo(sym).elbo)


def test_undirected_graph_into_directed_model(featureless):
    model = _model(_directed(featureless))
    with pytest.raises(ValueError) as err:
        model.filter(featureless, num_samples=2)
    msg = str(err.value)
    assert "graph.directed=False but config.directed=True" in msg
    assert "both_directions=True" in msg


# ---------------------------------------------------------------------------- node count
def test_other_number_of_nodes_says_the_universe_is_fixed(featureless):
    model = _model(featureless)
    small = dgv.TemporalGraph([torch.tensor([[0], [1]])] * 3, 5)
    with pytest.raises(ValueError) as err:
        model.predictive_log_likelihood(small, start=1, horizon=1, num_samples=2)
    msg = str(err.value)
    assert "graph has 5 nodes, the model 12" in msg
    assert "fixed node universe" in msg and "node_mask" in msg


# ---------------------------------------------------------------------------- model folders
def test_folder_of_another_model_class(tmp_path, featureless):
    dgv.save_model(_model(featureless), tmp_path / "m")
    with pytest.raises(CheckpointMismatchError) as err:
        dgv.load_model(tmp_path / "m", model_class=CVAE)
    msg = str(err.value)
    assert "was made by dyngraphvae.models.forecaster:TemporalGraphVAE" in msg
    assert "expected dyngraphvae.models.cvae:CVAE" in msg
    assert "without model_class=" in msg
    # the advice works: without model_class the manifest's class is used
    assert isinstance(dgv.load_model(tmp_path / "m"), dgv.TemporalGraphVAE)


def test_folder_whose_config_does_not_match_its_weights(tmp_path, featureless):
    folder = dgv.save_model(_model(featureless), tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["latent_dim"] = 5  # weights of latent_dim=2 with a config of another model
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointMismatchError) as err:
        dgv.load_model(folder)
    msg = str(err.value)
    assert "shape mismatch" in msg and "saved (12, 2), config implies (12, 5)" in msg
    assert "must come from the same save_model/fit call" in msg


def test_missing_model_folder_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one first, e.g. `dyngraphvae train"):
        dgv.load_model(tmp_path / "nothing-here")


# ---------------------------------------------------------------------------- first-hour API errors
def test_pygt_json_missing_a_key_names_it(tmp_path):
    from dyngraphvae.data.io import DATASETS, DatasetFormatError

    info = DATASETS["chickenpox"]
    path = tmp_path / info.relpath
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"edges": [[0, 1]]}))
    with pytest.raises(DatasetFormatError, match="lacks the key 'FX'"):
        dgv.load_dataset("chickenpox", root=tmp_path, verify=False)


def test_non_zip_npz_is_not_called_pickled(tmp_path):
    from dyngraphvae.data.io import DatasetFormatError

    bad = tmp_path / "g" / "data.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"this is a text file, not an archive\n")
    with pytest.raises(DatasetFormatError, match="not an npz file") as err:
        dgv.load_dataset("g", root=tmp_path)
    assert "pickle" not in str(err.value)


def test_npz_dataset_options_are_checked(tmp_path, featureless):
    dgv.save_npz(featureless, tmp_path / "g" / "data.npz")
    with pytest.raises(TypeError, match=r"\['lags'\] do not apply to an npz dataset"):
        dgv.load_dataset("g", root=tmp_path, lags=4)


def test_snapshot_index_out_of_range_names_the_length(featureless):
    with pytest.raises(IndexError, match="snapshot 50 out of range: this graph has 4 snapshots"):
        featureless.dense_adjacency(50)


def test_forecast_needs_at_least_one_sample(featureless):
    model = _model(featureless)
    with pytest.raises(ValueError, match="num_samples must be a positive integer, got 0"):
        model.forecast(featureless, 2, num_samples=0)


def test_fit_on_an_empty_graph_says_there_is_nothing_to_learn(tmp_path, caplog):
    empty = dgv.TemporalGraph([torch.empty(2, 0, dtype=torch.long)] * 5, 6)
    cfg = dgv.ForecasterConfig.for_graph(empty, latent_dim=2, hidden_dim=4)
    with caplog.at_level("WARNING", logger="dyngraphvae"):
        dgv.fit(cfg, dgv.TrainConfig(epochs=1, progress_bar=False), empty, tmp_path / "e")
    assert "nothing to learn" in caplog.text

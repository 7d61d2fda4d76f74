"""Dataset loading: registry hashes, statistics stated in the dataset READMEs, error paths."""

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import dyngraphvae.data.io as dio
from dyngraphvae.data import (
    DATASETS,
    DatasetChecksumError,
    DatasetFormatError,
    DatasetNotFoundError,
    TemporalGraph,
    data_root,
    dynamic_sbm,
    list_datasets,
    load_dataset,
    load_npz,
    read_npz,
    save_npz,
    sha256_file,
)


def shared_root() -> Path | None:
    env = os.environ.get("DYNGRAPHVAE_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
    return root if (root / "README.md").is_file() else None


ROOT = shared_root()
needs_data = pytest.mark.skipif(
    ROOT is None, reason="data root ../shared/datasets (or $DYNGRAPHVAE_DATA) not found"
)


def stats(g: TemporalGraph) -> tuple[int, float, int]:
    e = g.num_edges()
    return min(e), round(sum(e) / len(e), 1), max(e)


# --------------------------------------------------------------------------- registry
@needs_data
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_registry_hash_and_size_match_the_files(name):
    info = DATASETS[name]
    path = ROOT / info.relpath
    if name == "twitter_tennis_uo17" and not path.is_file():
        pytest.skip("twitter_tennis_uo17 is not in the shared data root (download=True fetches it)")
    assert path.stat().st_size == info.num_bytes
    assert sha256_file(path) == info.sha256


# --------------------------------------------------------------------------- npz datasets
NPZ_PER_SNAPSHOT = {
    "vgrnn_enron10": (184, [115, 156, 212, 223, 179, 265, 240, 253, 245, 238, 266]),
    "vgrnn_colab": (315, [165, 230, 233, 260, 253, 297, 270, 287, 249, 308]),
    "dysat_enron": (
        143,
        [24, 21, 19, 57, 68, 83, 132, 184, 194, 197, 200, 235, 159, 112, 226, 208],
    ),
}
NEW_LINK_FRACTIONS = {
    "vgrnn_enron10": [
        0.5064,
        0.5519,
        0.5202,
        0.4134,
        0.5811,
        0.5083,
        0.4901,
        0.4367,
        0.458,
        0.4925,
    ],
    "vgrnn_colab": [0.5043, 0.4292, 0.3731, 0.419, 0.4983, 0.4519, 0.5017, 0.5221, 0.6104],
}


@needs_data
@pytest.mark.parametrize("name", sorted(NPZ_PER_SNAPSHOT))
def test_undirected_npz_statistics(name):
    g = load_dataset(name, root=ROOT)
    n, per_step = NPZ_PER_SNAPSHOT[name]
    assert g.num_nodes == n and len(g) == len(per_step) and not g.directed
    assert g.num_edges() == per_step
    if name in NEW_LINK_FRACTIONS:
        frac = []
        for t in range(1, len(g)):
            prev = set(map(tuple, g.edges(t - 1).t().tolist()))
            cur = g.edges(t).t().tolist()
            frac.append(round(sum(tuple(e) not in prev for e in cur) / len(cur), 4))
        assert frac == NEW_LINK_FRACTIONS[name]
        active = [int((g.dense_adjacency(t).sum(1) > 0).sum()) for t in range(len(g))]
        density = float(np.mean([2 * e / n**2 for e in per_step]))
        expected = {"vgrnn_enron10": 0.01285, "vgrnn_colab": 0.00514}[name]
        assert round(density, 5) == expected
        assert min(active) > 0


@needs_data
def test_dysat_enron_keeps_mask_and_multiplicities():
    g = load_dataset("dysat_enron", root=ROOT)
    assert g.node_mask.sum(1).tolist() == [
        18,
        23,
        24,
        50,
        66,
        79,
        98,
        110,
        117,
        125,
        131,
        135,
        137,
        138,
        141,
        143,
    ]
    assert int(sum(float(w.sum()) for w in g.edge_weights)) == 21200
    assert sum(g.num_edges()) == 2119 and stats(g) == (19, 132.4, 235)


@needs_data
def test_event_datasets_statistics_weights_and_times():
    uci = load_dataset("uci_collegemsg", root=ROOT)
    assert (uci.num_nodes, len(uci), uci.directed) == (1899, 89, True)
    assert stats(uci) == (1, 343.7, 2023) and sum(uci.num_edges()) == 30589
    deg = [int(torch.unique(uci.edges(t)).numel()) for t in range(len(uci))]
    assert (min(deg), max(deg)) == (2, 656)
    assert torch.equal(uci.time[1:] - uci.time[:-1], torch.full((88,), 190080))
    assert uci.time[0] == 1082040961
    btc = load_dataset("bitcoin_alpha", root=ROOT)
    assert (btc.num_nodes, len(btc), btc.directed) == (3783, 137, True)
    assert stats(btc) == (2, 176.5, 1431) and sum(btc.num_edges()) == 24186
    w = torch.cat(btc.edge_weights)  # signed ratings kept as weights
    assert w.min() == -10 and w.max() == 10 and (w != 0).all() and (w < 0).any()
    assert torch.equal(w, w.round())


@needs_data
def test_rewindowing_the_event_stream_reproduces_the_stored_snapshots():
    g = load_dataset("uci_collegemsg", root=ROOT)
    r = load_dataset("uci_collegemsg", root=ROOT, window=190080)
    assert r == g and torch.equal(r.time, g.time)
    coarse = load_dataset("uci_collegemsg", root=ROOT, num_snapshots=10)
    assert len(coarse) == 10 and sum(float(w.sum()) for w in coarse.edge_weights) == 59835
    with pytest.raises(DatasetFormatError, match="no raw event stream"):
        load_dataset("vgrnn_enron10", root=ROOT, window=1.0)


# --------------------------------------------------------------------------- PyG Temporal
PYGT_SHAPES = {  # name: (snapshots, nodes, x width, edges per step (min, max), self-loops)
    "chickenpox": (517, 20, 4, (102, 102), 20),
    "pedalme_london": (31, 15, 4, (225, 225), 15),
    "england_covid": (53, 129, 8, (836, 2158), 129),
    "montevideo_bus": (740, 675, 4, (690, 690), 0),
    "twitter_tennis_rg17": (120, 1000, 16, (41, 936), None),
}


@needs_data
@pytest.mark.parametrize("name", sorted(PYGT_SHAPES))
def test_pygt_shapes_match_the_readme(name):
    T, N, F, (lo, hi), loops = PYGT_SHAPES[name]
    g = load_dataset(name, root=ROOT)
    assert (len(g), g.num_nodes, g.num_features, g.directed) == (T, N, F, True)
    assert g.x.shape == (T, N, F) and g.y.shape == (T, N)
    e = g.num_edges()
    if name == "england_covid":  # 836..2158 is over all 61 days; the 53 used days lie within
        assert lo <= min(e) and max(e) <= hi
    else:
        assert (min(e), max(e)) == (lo, hi)
    if loops is not None:
        assert int((g.edges(0)[0] == g.edges(0)[1]).sum()) == loops
    removed = load_dataset(name, root=ROOT, self_loops="remove")
    assert all((removed.edges(t)[0] != removed.edges(t)[1]).all() for t in range(len(removed)))


@needs_data
def test_pygt_lag_windows_reproduce_the_upstream_loaders():
    raw = json.loads((ROOT / "pygt/chickenpox.json").read_text())
    fx = torch.tensor(raw["FX"], dtype=torch.float64)
    g = load_dataset("chickenpox", root=ROOT, lags=6)
    assert len(g) == 521 - 6
    for t in (0, 100, len(g) - 1):  # x[t][:, j] = s_{t+j}, y[t] = s_{t+lags}
        assert torch.allclose(g.x[t], fx[t : t + 6].T.float())
        assert torch.allclose(g.y[t], fx[t + 6].float())
    assert (torch.cat(g.edge_weights) == 1).all()  # upstream sets unit weights

    cov = json.loads((ROOT / "pygt/england_covid.json").read_text())
    s = np.asarray(cov["y"], dtype=np.float64)
    z = (s - s.mean(0)) / (s.std(0) + 1e-10)
    ge = load_dataset("england_covid", root=ROOT)
    assert np.allclose(ge.x[3].numpy(), z[3:11].T, atol=1e-6)
    assert np.allclose(ge.y[3].numpy(), z[11], atol=1e-6)
    day3 = np.asarray(cov["edge_mapping"]["edge_index"]["3"])
    assert ge.num_edges(3) == len(day3)  # day t's own mobility graph

    tw = json.loads((ROOT / "pygt/twitter_tennis_rg17.json").read_text())
    enc = load_dataset("twitter_tennis_rg17", root=ROOT)
    assert torch.equal(enc.x.sum(-1), torch.full((120, 1000), 2.0))  # two one-hot blocks
    assert torch.allclose(enc.y[0], torch.log1p(torch.tensor(tw["1"]["y"], dtype=torch.float)))
    assert torch.allclose(enc.y[-1], torch.log1p(torch.tensor(tw["119"]["y"], dtype=torch.float)))
    deg = torch.tensor(tw["5"]["X"])[:, 0]
    assert torch.equal(
        enc.x[5, :, :5].argmax(-1), torch.clamp(torch.ceil(torch.log(deg + 1)), max=4).long()
    )
    rawx = load_dataset("twitter_tennis_rg17", root=ROOT, feature_mode="raw")
    assert rawx.num_features == 2 and torch.allclose(rawx.x[5], torch.tensor(tw["5"]["X"]).float())
    diag = load_dataset("twitter_tennis_rg17", root=ROOT, feature_mode="diagonal")
    assert diag.static_features and torch.equal(diag.x, torch.eye(1000))
    top = load_dataset("twitter_tennis_rg17", root=ROOT, top_nodes=100)
    assert top.num_nodes == 100 and all(int(top.edges(t).max()) < 100 for t in range(120))


@needs_data
def test_pygt_options_are_checked():
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['lag'\]"):
        load_dataset("pedalme_london", root=ROOT, lag=3)
    with pytest.raises(ValueError, match=r"lags must be an integer in \[1, 34\]"):
        load_dataset("pedalme_london", root=ROOT, lags=35)
    with pytest.raises(ValueError, match=r"unknown feature variable 'speed'; available: \['y'\]"):
        load_dataset("montevideo_bus", root=ROOT, feature_vars=["speed"])
    with pytest.raises(ValueError, match="feature_mode must be"):
        load_dataset("twitter_tennis_rg17", root=ROOT, feature_mode="onehot")


# --------------------------------------------------------------------------- root and errors
def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("DYNGRAPHVAE_DATA", raising=False)
    assert data_root() == Path("datasets")
    monkeypatch.setenv("DYNGRAPHVAE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("elsewhere") == Path("elsewhere")


def test_missing_file_names_the_expected_path(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("vgrnn_enron10", root=tmp_path)
    assert str(tmp_path / "vgrnn_enron10" / "data.npz") in str(err.value)
    with pytest.raises(DatasetNotFoundError, match="pass download=True"):
        load_dataset("chickenpox", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "mygraph" / "data.npz")):
        load_dataset("mygraph", root=tmp_path)


@needs_data
def test_corrupted_file_reports_found_and_expected_hash(tmp_path):
    target = tmp_path / "vgrnn_colab" / "data.npz"
    target.parent.mkdir()
    data = bytearray((ROOT / "vgrnn_colab" / "data.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    found = sha256_file(target)
    with pytest.raises(DatasetChecksumError) as err:
        load_dataset("vgrnn_colab", root=tmp_path)
    msg = str(err.value)
    assert str(target) in msg and found in msg and DATASETS["vgrnn_colab"].sha256 in msg
    js = tmp_path / "pygt" / "pedalme_london.json"
    js.parent.mkdir()
    js.write_text((ROOT / "pygt" / "pedalme_london.json").read_text()[:-10])
    with pytest.raises(DatasetChecksumError, match="sha256 mismatch"):
        load_dataset("pedalme_london", root=tmp_path)


# --------------------------------------------------------------------------- any npz
def test_any_npz_in_the_layout_loads_and_round_trips(tmp_path):
    g = dynamic_sbm(num_nodes=20, num_snapshots=5, num_features=3, seed=3)
    path = save_npz(g, tmp_path / "mysbm" / "data.npz")
    back = load_dataset("mysbm", root=tmp_path)
    assert back == g and back.name == "mysbm"
    assert load_dataset(str(path)) == g  # direct path
    assert load_dataset("mysbm", root=tmp_path, sha256=sha256_file(path)) == g
    with pytest.raises(DatasetChecksumError):
        load_dataset("mysbm", root=tmp_path, sha256="0" * 64)
    a = read_npz(path)
    assert a["edge_index"].dtype == np.int64 and bool(a["undirected"])


def test_weighted_masked_directed_graph_round_trips_through_npz(tmp_path):
    g = TemporalGraph(
        [torch.tensor([[0, 2], [1, 0]]), torch.tensor([[1], [0]])],
        3,
        directed=True,
        edge_weights=[torch.tensor([0.5, -2.0]), torch.tensor([3.0])],
        node_mask=torch.tensor([[True, True, True], [True, True, False]]),
        time=torch.tensor([100, 200]),
        y=torch.randn(2, 3),
    )
    back = load_npz(save_npz(g, tmp_path / "g.npz"))
    assert back == g and torch.equal(back.time, g.time)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_bad_npz_layouts_are_reported(tmp_path):
    ok = {
        "num_nodes": np.int64(3),
        "num_snapshots": np.int64(1),
        "undirected": np.bool_(True),
        "edge_index": np.array([[0], [1]]),
        "snapshot_ptr": np.array([0, 1]),
    }
    assert len(load_npz(_write(tmp_path / "ok.npz", **ok))) == 1
    with pytest.raises(DatasetFormatError, match=r"missing required key\(s\) \['snapshot_ptr'\]"):
        load_npz(_write(tmp_path / "a.npz", **{k: v for k, v in ok.items() if k != "snapshot_ptr"}))
    with pytest.raises(DatasetFormatError, match=r"snapshot_ptr: must start at 0, end at E=1"):
        load_npz(_write(tmp_path / "b.npz", **{**ok, "snapshot_ptr": np.array([0, 2])}))
    with pytest.raises(DatasetFormatError, match=r"edge_index: expected an integer array"):
        load_npz(_write(tmp_path / "c.npz", **{**ok, "edge_index": np.array([[0.0], [1.0]])}))
    with pytest.raises(DatasetFormatError, match=r"snapshot 0, edge_index: node id 5 out of range"):
        load_npz(_write(tmp_path / "d.npz", **{**ok, "edge_index": np.array([[0], [5]])}))
    with pytest.raises(
        DatasetFormatError, match="without pickles"
    ):  # object arrays: never unpickled
        load_npz(_write(tmp_path / "e.npz", **ok, extra=np.array([{"a": 1}], dtype=object)))
    (tmp_path / "f.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetFormatError, match="not an npz file .an npz is a zip archive"):
        load_npz(tmp_path / "f.npz")


# --------------------------------------------------------------------------- download (mocked)
@needs_data
def test_download_verifies_before_installing(monkeypatch, tmp_path):
    payload = (ROOT / "pygt" / "pedalme_london.json").read_bytes()
    urls = []

    def fake_urlopen(url, timeout=None):
        urls.append(url)
        return io.BytesIO(fake_urlopen.body)

    fake_urlopen.body = payload[:-1] + b" "
    monkeypatch.setattr(dio.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DatasetChecksumError, match="downloaded from https://raw.githubusercontent"):
        load_dataset("pedalme_london", root=tmp_path, download=True)
    assert not (tmp_path / "pygt" / "pedalme_london.json").exists()
    assert list((tmp_path / "pygt").iterdir()) == []  # no partial file left
    fake_urlopen.body = payload
    g = load_dataset("pedalme_london", root=tmp_path, download=True)
    assert len(g) == 31 and urls[-1] == DATASETS["pedalme_london"].url
    with pytest.raises(DatasetNotFoundError, match="only fetches PyG Temporal files"):
        load_dataset("vgrnn_enron10", root=tmp_path, download=True)
    shutil.rmtree(tmp_path / "pygt")


def test_list_datasets():
    assert list_datasets() == sorted(DATASETS) and len(DATASETS) == 11


def test_twitter_tennis_uo17_is_read_like_rg17(tmp_path):
    """uo17 is registered with its upstream hash and read by the rg17 reader (PyG Temporal's
    TwitterTennisDatasetLoader serves both); a missing file points to download=True."""
    from dyngraphvae.data.io import _PYGT_READERS

    info = DATASETS["twitter_tennis_uo17"]
    assert info.url.endswith("twitter_tennis_uo17.json") and info.num_snapshots == 112
    assert _PYGT_READERS["twitter_tennis_uo17"] is _PYGT_READERS["twitter_tennis_rg17"]
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        load_dataset("twitter_tennis_uo17", root=tmp_path)

"""load_events: every option, every bad input, and a peer check against the shared uci npz."""

from __future__ import annotations

import gzip
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

from dyngraphvae.data.events import EventsError, load_events, parse_window
from dyngraphvae.data.temporal_graph import TemporalGraph


def _root() -> Path | None:
    env = os.environ.get("DYNGRAPHVAE_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
    return root if (root / "uci_collegemsg" / "data.npz").is_file() else None


ROOT = _root()

# three days of events between string ids; day 1 has no event
CSV = """who,whom,at,amount
alice,bob,2024-01-01T00:10:00Z,1.5
bob,alice,2024-01-01T05:00:00Z,2
alice,bob,2024-01-01T23:59:59Z,1
carol,alice,2024-01-03T12:00:00Z,4
bob,carol,2024-01-04T01:00:00Z,1
"""


def _write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _pairs(g: TemporalGraph, t: int) -> list[tuple]:
    ids = g.node_ids
    return sorted((ids[u], ids[v]) for u, v in g.edges(t).t().tolist())


# ---------------------------------------------------------------------------- windows
@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("15min", 900), ("1.5h", 5400), ("1d", 86400), ("2w", 1_209_600),
    ("3600", 3600), (" 2 days ", 172_800), (7.5, 7.5),
])
def test_parse_window_units(text, seconds):
    assert parse_window(text) == seconds


@pytest.mark.parametrize("bad", ["1m", "1 month", "2y", "fortnight", "-1d", "0h", "", True, "1e3s"])
def test_parse_window_refuses_bad_windows(bad):
    with pytest.raises(EventsError, match="window"):
        parse_window(bad)


# ---------------------------------------------------------------------------- the main path
def test_csv_with_string_ids_datetimes_and_weights(tmp_path, caplog):
    path = _write(tmp_path, CSV)
    with caplog.at_level(logging.INFO, logger="dyngraphvae"):
        g = load_events(path, src="who", dst="whom", time="at", weight="amount", window="1d")
    assert g.node_ids == ["alice", "bob", "carol"] and g.num_nodes == 3 and g.directed
    assert len(g) == 4  # Jan 1, 2 (empty, kept), 3, 4
    assert [g.num_edges(t) for t in range(4)] == [2, 0, 1, 1]
    assert _pairs(g, 0) == [("alice", "bob"), ("bob", "alice")]
    # the two alice->bob events of day 0 merge: weight 1.5 + 1
    w = dict(zip(map(tuple, g.edges(0).t().tolist()), g.weights(0).tolist(), strict=True))
    assert w[(0, 1)] == pytest.approx(2.5) and w[(1, 0)] == pytest.approx(2.0)
    t0 = datetime(2024, 1, 1, 0, 10, tzinfo=timezone.utc).timestamp()
    assert g.time.tolist() == [int(t0 + 86400 * k) for k in range(4)]
    assert g.name == "events"
    msg = caplog.text
    assert "5 events" in msg and "1 empty window" in msg and "1 repeated pair-window" in msg


def test_without_weight_column_an_edge_counts_its_events(tmp_path):
    g = load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d")
    w = dict(zip(map(tuple, g.edges(0).t().tolist()), g.weights(0).tolist(), strict=True))
    assert w == {(0, 1): 2.0, (1, 0): 1.0}


def test_undirected_merges_both_directions(tmp_path):
    g = load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                    directed=False)
    assert not g.directed and g.edges(0).tolist() == [[0], [1]]
    assert g.weights(0).tolist() == [3.0]


def test_num_snapshots_equal_width_and_last_event_in_last_window(tmp_path):
    g = load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", num_snapshots=3)
    assert len(g) == 3
    assert sum(g.num_edges()) == 4  # 5 events, one repeated pair in window 0
    assert g.num_edges(2) >= 1  # the last event


def test_integer_ids_map_in_numeric_order_and_ghost_free(tmp_path):
    # 1-based ids up to 10^9: no ghost node 0, no N = 10^9 + 1
    text = "u,v,t\n1,1000000000,0\n2,1,10\n1000000000,2,20\n7,1,30\n"
    g = load_events(_write(tmp_path, text), src="u", dst="v", time="t", window=10)
    assert g.node_ids == [1, 2, 7, 1_000_000_000] and g.num_nodes == 4
    assert len(g) == 4 and _pairs(g, 0) == [(1, 1_000_000_000)]


def test_tsv_and_gzip_and_positions(tmp_path):
    text = "a\tb\tts\n" + "".join(f"{i}\t{i + 1}\t{i * 10}\n" for i in range(6))
    p = tmp_path / "ev.tsv.gz"
    with gzip.open(p, "wt") as f:
        f.write(text)
    g = load_events(p, src=0, dst=1, time=2, window=20)
    assert g.node_ids == list(range(7)) and len(g) == 3 and g.name == "ev"
    assert sum(g.num_edges()) == 6


def test_explicit_delimiter_and_start(tmp_path):
    text = "u;v;t\nx;y;100\ny;z;150\nz;x;260\n"
    g = load_events(_write(tmp_path, text), src="u", dst="v", time="t", window=100,
                    delimiter=";", start=0)
    assert len(g) == 3 and g.time.tolist() == [0, 100, 200]
    assert [g.num_edges(t) for t in range(3)] == [0, 2, 1]


def test_start_after_first_event_refused(tmp_path):
    with pytest.raises(EventsError, match="start"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                    start="2024-01-02")


def test_arrays_mapping_and_structured_array_agree(tmp_path):
    s, d, t = np.array(["a", "b", "c", "a"]), np.array(["b", "c", "a", "c"]), np.arange(4.0)
    g1 = load_events(src=s, dst=d, time=t, window=1.5)
    g2 = load_events({"s": s, "d": d, "t": t}, src="s", dst="d", time="t", window=1.5)
    rec = np.array(list(zip(s, d, t, strict=True)), dtype=[("s", "U1"), ("d", "U1"), ("t", "f8")])
    g3 = load_events(rec, src="s", dst="d", time="t", window=1.5)
    assert g1 == g2 == g3 and g1.node_ids == g2.node_ids == g3.node_ids == ["a", "b", "c"]


def test_datetime64_and_python_datetimes():
    t = np.array(["2020-01-01T00:00", "2020-01-02T00:00", "2020-01-03T06:00"],
                 dtype="datetime64[s]")
    g = load_events(src=[1, 2, 3], dst=[2, 3, 1], time=t, window="1d")
    assert len(g) == 3 and g.time[0] == int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp())
    dts = [datetime(2020, 1, 1), datetime(2020, 1, 2), datetime(2020, 1, 3, 6)]
    g2 = load_events(src=[1, 2, 3], dst=[2, 3, 1], time=np.array(dts, dtype=object), window="1d")
    assert g2 == g


def test_pandas_dataframe_and_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"from": ["x", "y", "x", "z"], "to": ["y", "z", "z", "x"],
                       "when": pd.to_datetime(["2021-03-01", "2021-03-02", "2021-03-03",
                                               "2021-03-04"])})
    g = load_events(df, src="from", dst="to", time="when", window="1d")
    assert g.node_ids == ["x", "y", "z"] and len(g) == 4
    p = tmp_path / "ev.parquet"
    df.to_parquet(p)
    assert load_events(p, src="from", dst="to", time="when", window="1d") == g


def test_static_node_features_mapping_and_table(tmp_path):
    feats = {"alice": [1.0, 0.0], "bob": [0.0, 1.0], "carol": [1.0, 1.0], "dave": [2.0, 2.0]}
    g = load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                    features=feats)
    assert g.node_ids == ["alice", "bob", "carol", "dave"]  # dave: features only, isolated
    assert g.x.tolist() == [feats[i] for i in g.node_ids]
    table = _write(tmp_path, "node,f1,f2\n" + "".join(
        f"{k},{v[0]},{v[1]}\n" for k, v in feats.items()), "feats.csv")
    g2 = load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                     features=table)
    assert g2 == g


def test_features_missing_node_named(tmp_path):
    with pytest.raises(EventsError, match="no features.*carol"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                    features={"alice": [1.0], "bob": [2.0]})


def test_dyglib_layout(tmp_path):
    text = ",u,i,ts,label,idx\n0,1,101,0.0,0,1\n1,2,101,5.0,0,2\n2,1,102,12.0,0,3\n"
    g = load_events(_write(tmp_path, text, "ml_toy.csv"), format="dyglib", window=5)
    assert g.node_ids == [1, 2, 101, 102] and len(g) == 3
    assert _pairs(g, 2) == [(1, 102)]


def test_tgb_layout(tmp_path):
    text = "ts,src,dst,w\n0,a,b,1\n50,b,c,1\n99,c,a,2\n"
    g = load_events(_write(tmp_path, text), format="tgb", window=40)
    assert g.node_ids == ["a", "b", "c"] and len(g) == 3 and _pairs(g, 2) == [("c", "a")]


# ---------------------------------------------------------------------------- self-loops, repeats
LOOPS = "u,v,t\na,a,0\na,b,1\nb,b,2\nb,a,15\nc,a,25\n"


def test_self_loops_error_names_count_and_row(tmp_path):
    with pytest.raises(EventsError, match=r"2 event\(s\) are self-loops, the first at row 1 "
                                          r"\(node 'a'\)"):
        load_events(_write(tmp_path, LOOPS), src="u", dst="v", time="t", window=10)


def test_self_loops_remove_and_keep(tmp_path, caplog):
    p = _write(tmp_path, LOOPS)
    with caplog.at_level(logging.INFO, logger="dyngraphvae"):
        g = load_events(p, src="u", dst="v", time="t", window=10, self_loops="remove")
    assert "2 self-loop event(s) removed" in caplog.text
    assert sum(g.num_edges()) == 3
    k = load_events(p, src="u", dst="v", time="t", window=10, self_loops="keep")
    assert sum(k.num_edges()) == 5 and (k.edges(0)[0] == k.edges(0)[1]).sum() == 2


def test_duplicates_error_names_pair_and_snapshot(tmp_path):
    with pytest.raises(EventsError, match="'alice' -> 'bob' in snapshot 0"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                    duplicates="error")


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(src="sender", dst="whom", time="at"), "src column 'sender' not found.*'who'"),
    (dict(src="who", dst="whom", time="date"), "time column 'date' not found"),
    (dict(src="who", dst="whom", time="at", weight="w"), "weight column 'w' not found"),
    (dict(src="who", dst="whom"), "name the time column"),
])
def test_missing_columns_are_named(tmp_path, kwargs, match):
    with pytest.raises(EventsError, match=match):
        load_events(_write(tmp_path, CSV), window="1d", **kwargs)


def test_non_numeric_times_name_row_and_value(tmp_path):
    text = "u,v,t\na,b,2024-01-01\nb,c,yesterday\n"
    with pytest.raises(EventsError, match="row 2 value 'yesterday' is neither a number"):
        load_events(_write(tmp_path, text), src="u", dst="v", time="t", window="1d")


def test_nan_weights_refused(tmp_path):
    text = "u,v,t,w\na,b,0,1\nb,c,5,nan\nc,a,9,\n"
    with pytest.raises(EventsError, match=r"weight column 'w': row 3 value '' is not a number"):
        load_events(_write(tmp_path, text), src="u", dst="v", time="t", weight="w", window=3)
    text = "u,v,t,w\na,b,0,1\nb,c,5,nan\nc,a,9,2\n"
    with pytest.raises(EventsError, match=r"1 row\(s\) are NaN or infinite, the first at row 2"):
        load_events(_write(tmp_path, text), src="u", dst="v", time="t", weight="w", window=3)


def test_unparseable_window(tmp_path):
    with pytest.raises(EventsError, match="cannot parse 'weekly'"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="weekly")


def test_window_larger_than_span(tmp_path):
    with pytest.raises(EventsError, match=r"window '1w' \(1w\) over a span of .* gives 1 "
                                          r"snapshot\(s\); need at least 3"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1w")


def test_fewer_than_three_snapshots(tmp_path):
    with pytest.raises(EventsError, match="num_snapshots=2: need at least 3"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", num_snapshots=2)
    g = load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", num_snapshots=2,
                    min_snapshots=2)
    assert len(g) == 2


def test_window_and_num_snapshots_exclusive(tmp_path):
    with pytest.raises(EventsError, match="exactly one of window"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at")
    with pytest.raises(EventsError, match="exactly one of window"):
        load_events(_write(tmp_path, CSV), src="who", dst="whom", time="at", window="1d",
                    num_snapshots=4)


def test_bad_ids_and_missing_file(tmp_path):
    with pytest.raises(EventsError, match="row 2 has id 1.5"):
        load_events(src=np.array([1.0, 1.5]), dst=np.array([2.0, 3.0]), time=[0, 9],
                    window=3)
    with pytest.raises(EventsError, match="row 1 has no node id"):
        load_events(src=np.array([np.nan, 1.0]), dst=np.array([2.0, 3.0]), time=[0, 9],
                    window=3)
    with pytest.raises(EventsError, match="not found"):
        load_events(tmp_path / "nope.csv", src="u", dst="v", time="t", window=1)
    with pytest.raises(EventsError, match="data row 2 has 2 fields"):
        load_events(_write(tmp_path, "u,v,t\na,b,1\nc,d\n"), src="u", dst="v", time="t",
                    window=1)


def test_unknown_format_and_policies(tmp_path):
    p = _write(tmp_path, CSV)
    with pytest.raises(EventsError, match="unknown layout 'jodie'"):
        load_events(p, format="jodie", window=1)
    with pytest.raises(EventsError, match="self_loops must be"):
        load_events(p, src="who", dst="whom", time="at", window="1d", self_loops="drop")
    with pytest.raises(EventsError, match="duplicates must be"):
        load_events(p, src="who", dst="whom", time="at", window="1d", duplicates="sum")


# ---------------------------------------------------------------------------- peer check
@pytest.mark.skipif(ROOT is None, reason="shared datasets not found")
def test_reproduces_the_shared_uci_snapshots(tmp_path):
    """The events of uci_collegemsg, written as a CSV with the original 1-based ids, binned with
    its 190080 s window, give exactly the stored snapshots (ids remapped in the same order)."""
    from dyngraphvae.data.io import load_dataset

    z = np.load(ROOT / "uci_collegemsg" / "data.npz", allow_pickle=False)
    orig = z["node_ids_original"]
    src, dst, t = orig[z["events_src"]], orig[z["events_dst"]], z["events_time"]
    p = tmp_path / "CollegeMsg.csv"
    p.write_text("src,dst,ts\n" + "".join(
        f"{a},{b},{c}\n" for a, b, c in zip(src.tolist(), dst.tolist(), t.tolist(), strict=True)))
    g = load_events(p, src="src", dst="dst", time="ts", window=190080)
    ref = load_dataset("uci_collegemsg", root=ROOT)
    assert g.node_ids == orig.tolist()
    assert len(g) == len(ref) == 89
    for k in range(len(ref)):
        assert torch.equal(g.edges(k), ref.edges(k))
        assert torch.equal(g.weights(k), ref.weights(k))

"""The memory estimate said before a run starts: against the peaks benchmarks/speed.py measured,
and the warning (with what to change) when a run would not fit."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dyngraphvae.training.memory import (
    available_memory,
    check_training_memory,
    estimate_training_memory,
)

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _measured():
    for name in ("speed_threads1.json", "speed_summaries_after.json"):
        for r in json.loads((RESULTS / name).read_text())["results"]:
            if r.get("peak_bytes") and r["num_nodes"] >= 1000 and not r["num_features"]:
                yield r["case"]["label"], r["case"]["method"], r["num_nodes"], \
                    r["num_snapshots"], r["peak_bytes"]


def test_estimate_is_safe_and_close_to_the_measured_peaks():
    rows = list(_measured())
    assert len(rows) >= 6
    for label, method, n, t, peak in rows:
        est = estimate_training_memory(n, t, dense=method == "dense")
        # never below the measured peak, at most 1.6x above (mostly inactive nodes cost less)
        assert peak <= est <= 1.6 * peak, (label, method, est / 1e6, peak / 1e6)


def test_warning_names_the_remedies_when_a_run_would_not_fit(caplog):
    with caplog.at_level(logging.WARNING, logger="dyngraphvae"):
        assert not check_training_memory(100_000, 137, dense=False, available=8 * 10**9)
    msg = caplog.text
    assert "needs about 109.6 GB" in msg and "8.0 GB are available" in msg
    assert "--window" in msg and "truncated" in msg
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dyngraphvae"):
        assert not check_training_memory(1899, 89, dense=True, available=2 * 10**9)
    assert "--adjacency sparse" in caplog.text and "about 1.4 GB" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dyngraphvae"):
        assert check_training_memory(184, 11, dense=True, available=2 * 10**9)
    assert caplog.text == ""


def test_available_memory_reads_the_os_or_says_it_does_not_know():
    avail = available_memory()
    assert avail is None or avail > 0
    with pytest.raises(ValueError):
        estimate_training_memory("many", 3, dense=False)

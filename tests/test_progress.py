"""Progress bars only on a terminal (or when forced), never in logs written to files."""

from __future__ import annotations

import io

from dyngraphvae import progress as P


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("DYNGRAPHVAE_PROGRESS", raising=False)
    monkeypatch.setattr(P.sys, "stderr", io.StringIO())
    items = [1, 2, 3]
    assert P.progress(items, "x") is items and not P.progress_enabled()


def test_forced_bar_reports_steps(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setenv("DYNGRAPHVAE_PROGRESS", "1")
    monkeypatch.setattr(P.sys, "stderr", buf)
    wrapped = P.progress(range(5), "scoring", total=5)
    assert list(wrapped) == list(range(5))
    assert wrapped is not None and not isinstance(wrapped, range)
    monkeypatch.setenv("DYNGRAPHVAE_PROGRESS", "0")
    assert P.progress(range(2), "x") == range(2)

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


def test_fit_uses_one_thread_by_default_and_restores_the_setting(tmp_path, monkeypatch):
    import torch

    import dyngraphvae as dgv

    seen = []
    from lightning.pytorch import Trainer

    real_fit = Trainer.fit

    def spy(self, *a, **k):
        seen.append(torch.get_num_threads())
        return real_fit(self, *a, **k)

    monkeypatch.setattr(Trainer, "fit", spy)
    g = dgv.dynamic_sbm(num_nodes=10, num_snapshots=5, seed=0)
    cfg = dgv.ForecasterConfig.for_graph(g, latent_dim=2, hidden_dim=4)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        dgv.fit(cfg, dgv.TrainConfig(epochs=1, progress_bar=False), g, tmp_path / "a")
        assert seen[-1] == 1 and torch.get_num_threads() == 2
        dgv.fit(cfg, dgv.TrainConfig(epochs=1, progress_bar=False, threads=None), g,
                tmp_path / "b")
        assert seen[-1] == 2
    finally:
        torch.set_num_threads(before)

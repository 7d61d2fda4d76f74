"""CollapseMonitor: works on (B, d) and (T, N, d) posteriors, logs, warns; package imports
without Lightning.
"""

import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn


class TinyVAE(nn.Module):
    """Stands in for any model: an encoder whose informativeness we control."""

    def __init__(self, d_in=4, d=3, informative=True):
        super().__init__()
        self.lin = nn.Linear(d_in, 2 * d)
        if not informative:
            nn.init.zeros_(self.lin.weight)
            nn.init.zeros_(self.lin.bias)


def cvae_posterior(model, batch):
    mu, log_sd = model.lin(batch).chunk(2, -1)
    return mu, torch.exp(log_sd)


def graph_posterior(model, batch):  # batch (T, N, F) -> posteriors (T, N, d) plus a node mask
    mu, log_sd = model.lin(batch).chunk(2, -1)
    mask = torch.ones(batch.shape[:2], dtype=torch.bool)
    mask[:, -1] = False
    return mu, torch.exp(log_sd), mask


def test_evaluate_without_trainer_cvae_and_graph():
    from dyngraphvae.collapse import CollapseMonitor

    torch.manual_seed(0)
    data = [torch.randn(32, 4) for _ in range(3)]
    mon = CollapseMonitor(cvae_posterior)
    d = mon.evaluate(TinyVAE(), data)
    assert d.num_datapoints == 96 and d.active_units >= 1 and not d.collapsed
    graphs = [torch.randn(5, 7, 4) for _ in range(2)]
    mon_g = CollapseMonitor(graph_posterior)
    dg = mon_g.evaluate(TinyVAE(), graphs)
    assert dg.num_datapoints == 2 * 5 * 6  # (t, v) pairs of present nodes
    collapsed = mon.evaluate(TinyVAE(informative=False), data)
    assert collapsed.collapsed and collapsed.active_units == 0
    with pytest.warns(UserWarning, match="posterior collapse"):
        mon.check(collapsed, epoch=3)
    assert mon.history[-1][0] == 3


def test_lightning_fit_logs_and_warns():
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from dyngraphvae.collapse import CollapseMonitor

    class LitCollapsing(pl.LightningModule):
        """A VAE whose encoder output is forced to the prior: collapse from the start."""

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 6)
            nn.init.zeros_(self.lin.weight)
            nn.init.zeros_(self.lin.bias)
            self.lin.requires_grad_(False)
            self.dec = nn.Linear(1, 4)

        def training_step(self, batch, _):
            (x,) = batch
            return ((self.dec(torch.ones(len(x), 1)) - x) ** 2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.dec.parameters(), lr=0.01)

    ds = TensorDataset(torch.randn(64, 4))
    loader = DataLoader(ds, batch_size=16)
    val = [torch.randn(16, 4) for _ in range(2)]
    mon = CollapseMonitor(cvae_posterior, data=val, every_n_epochs=2)
    trainer = pl.Trainer(
        max_epochs=4,
        callbacks=[mon],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        trainer.fit(LitCollapsing(), loader)
    msgs = [str(w.message) for w in rec if issubclass(w.category, UserWarning)]
    assert sum("posterior collapse" in m for m in msgs) == 2  # epochs 1 and 3
    assert [e for e, _ in mon.history] == [1, 3]
    assert trainer.callback_metrics["collapse/collapsed"].item() == 1.0
    assert trainer.callback_metrics["collapse/active_units"].item() == 0.0
    assert "collapse/kl_dim_2" in trainer.callback_metrics
    state = mon.state_dict()
    mon2 = CollapseMonitor(cvae_posterior)
    mon2.load_state_dict(state)
    assert mon2.history[0][1].collapsed


def test_package_imports_without_lightning():
    code = (
        "import sys; sys.modules['lightning'] = None; sys.modules['pytorch_lightning'] = None\n"
        "import torch\n"
        "import dyngraphvae.collapse as c\n"
        "print(c.free_bits(torch.ones(2, 3), 0.5).item())\n"
        "try:\n    c.CollapseMonitor\nexcept ImportError as e:\n    print('lazy', 'Lightning' "
        "in str(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3.0", "lazy", "True"]

"""Training with Lightning: exact resume, early stopping + best restore, clipping, schedules,
model folders (save/load round trip, mismatch errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from dyngraphvae.data import TemporalGraph
from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.forecaster import TemporalGraphVAE
from dyngraphvae.training import (
    CheckpointMismatchError,
    TrainConfig,
    fit,
    load_model,
    load_saved,
    save_model,
)

torch.set_num_threads(1)


def small_graph(T: int = 8) -> TemporalGraph:
    return dynamic_sbm(num_nodes=16, num_snapshots=T, num_communities=2, num_features=2, seed=3)


def small_config(g: TemporalGraph, **kw) -> ForecasterConfig:
    return ForecasterConfig.for_graph(
        g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, **kw
    )


def quiet(**kw) -> TrainConfig:
    base = dict(progress_bar=False, val_snapshots=2, lr=2e-2)
    base.update(kw)
    return TrainConfig(**base)


def state_of(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


# ---------------------------------------------------------------------------- config
def test_train_config_json_round_trip_and_validation(tmp_path):
    c = TrainConfig(
        epochs=7, kl_schedule={"kind": "linear", "num_steps": 10},
        teacher_forcing={"kind": "inverse_sigmoid", "k": 5.0}, devices=2, strategy="ddp",
    )
    c.save(tmp_path / "t.json")
    assert TrainConfig.load(tmp_path / "t.json") == c
    assert c.kl_weight_schedule()(5) == pytest.approx(0.5)
    assert c.teacher_forcing_schedule()(0) == pytest.approx(5.0 / (5.0 + 1.0))
    assert TrainConfig().teacher_forcing_schedule()(10_000) == 1.0
    with pytest.raises(ValueError, match="unknown field"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ValueError, match="kl_schedule"):
        TrainConfig(kl_schedule={"kind": "nope"})
    with pytest.raises(ValueError, match="teacher_forcing"):
        TrainConfig(teacher_forcing={"kind": "exponential", "k": 2.0})
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0.0)


def test_import_does_not_load_lightning():
    code = "import sys, dyngraphvae.training; print('lightning' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- resume
def test_resume_is_exact(tmp_path):
    """N epochs in one go == N/2 epochs + resume for N/2 (weights, optimizer, schedules, noise)."""
    g = small_graph()
    mc = small_config(g)
    kw = dict(
        kl_schedule={"kind": "linear", "num_steps": 4},
        teacher_forcing={"kind": "linear", "c": 0.2, "floor": 0.1},
        num_samples=2, patience=None,
    )
    full = fit(mc, quiet(epochs=6, **kw), g, tmp_path / "full")
    half = fit(mc, quiet(epochs=3, **kw), g, tmp_path / "half")
    h = state_of(half.last_checkpoint)  # read now: the resumed run overwrites last.ckpt
    resumed = fit(mc, quiet(epochs=6, **kw), g, tmp_path / "half", resume="last")
    assert full.epochs_completed == resumed.epochs_completed == 6
    a, b = state_of(full.last_checkpoint), state_of(resumed.last_checkpoint)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the resumed run did train further (the test would pass trivially otherwise)
    assert any(not torch.equal(a[k], h[k]) for k in a)
    # best-model selection also agrees
    for (k, v), v2 in zip(full.model.state_dict().items(), resumed.model.state_dict().values(),
                          strict=True):
        assert torch.equal(v, v2), k
    assert full.best_score == resumed.best_score
    # the schedules followed the global step across the resume
    hist = resumed.history
    assert [round(r["train/kl_weight"], 6) for r in hist] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert [round(r["train/teacher_forcing"], 6) for r in hist] == [1.0, 0.8, 0.6, 0.4, 0.2, 0.1]


# ---------------------------------------------------------------------------- early stopping
def _drifting_graph() -> TemporalGraph:
    """Dense snapshots to train on, then near-empty validation snapshots: validation ELBO peaks
    and then worsens as the model fits the training density."""
    gen = torch.Generator().manual_seed(0)
    n, edges = 16, []
    for t in range(10):
        a = torch.triu(torch.rand(n, n, generator=gen) < (0.6 if t < 7 else 0.02), 1)
        edges.append(a.nonzero().t())
    return TemporalGraph(edges, n)


def test_early_stopping_stops_and_restores_best(tmp_path):
    from dyngraphvae.training.lightning_module import mc_seed, seeded

    g = _drifting_graph()
    mc = ForecasterConfig.for_graph(g, latent_dim=4, hidden_dim=8, node_embedding_dim=8)
    cfg = quiet(epochs=40, lr=3e-2, val_snapshots=3, patience=3)
    res = fit(mc, cfg, g, tmp_path / "es")
    vals = [r["val/elbo_per_step"] for r in res.history]
    best_epoch = max(range(len(vals)), key=vals.__getitem__)
    assert res.stopped_early and res.epochs_completed < cfg.epochs
    # stopped exactly `patience` validations after the best one
    assert len(vals) - 1 - best_epoch == cfg.patience
    assert res.best_score == pytest.approx(vals[best_epoch], abs=0, rel=1e-6)
    assert res.best_checkpoint.name == f"best-{best_epoch}.ckpt"
    # the returned model holds the best weights, not the last ones
    best, last = state_of(res.best_checkpoint), state_of(res.last_checkpoint)
    for k, v in res.model.state_dict().items():
        assert torch.equal(v, best["model." + k])
    assert any(not torch.equal(best[k], last[k]) for k in best)
    # ... and recomputing the validation metric with it gives the best score
    # (the training prefix filtered, then the ELBO of the 3 validation steps from its state)
    with torch.no_grad(), seeded(mc_seed(cfg.seed, 2, 0), torch.device("cpu")) as gen:
        st = res.model.filter_states(g, [7], cfg.val_samples, generator=gen)[7]
        out = res.model.elbo(g[7:], num_samples=cfg.val_samples, start=st, generator=gen)
    assert out.per_step_elbo.mean().item() == pytest.approx(res.best_score, rel=1e-5)
    # the saved model folder holds the best weights too
    loaded = load_model(res.out_dir)
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, res.model.state_dict()[k])


# ---------------------------------------------------------------------------- clipping
def test_gradient_clipping_happens_before_the_step(tmp_path):
    """SGD with lr=1: the parameter update is minus the clipped gradient, so its global norm is
    exactly the clip value when the raw gradient is larger."""
    g = small_graph()
    mc = small_config(g)
    torch.manual_seed(0)
    clip = 1e-3
    cfg = quiet(epochs=1, optimizer="sgd", lr=1.0, grad_clip=clip, val_snapshots=0,
                reduction="sum", patience=None)
    res = fit(mc, cfg, g, tmp_path / "clip")
    import lightning as L

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    init = TemporalGraphVAE(mc)  # fit seeds then builds: the same initial weights
    delta = torch.sqrt(sum(
        (a - b).pow(2).sum() for a, b in zip(res.model.parameters(), init.parameters(), strict=True)
    ))
    assert delta.item() == pytest.approx(clip, rel=1e-4)


# ---------------------------------------------------------------------------- sequences
def test_fit_on_a_list_of_sequences(tmp_path):
    from dyngraphvae.data.synthetic import fork

    data = fork(num_sequences=6, num_nodes=8, history=3, horizon=2, num_features=2, seed=0)
    mc = ForecasterConfig.for_graph(data.graphs[0], latent_dim=2, hidden_dim=8,
                                    node_embedding_dim=4)
    res = fit(mc, quiet(epochs=2, batch_size=2, val_fraction=0.34, val_snapshots=None),
              data.graphs, tmp_path / "fork")
    hist = res.history
    assert len(hist) == 2 and all("val/elbo_per_step" in r for r in hist)
    # 4 training sequences, batches of 2: two optimizer steps per epoch
    assert [int(r["step"]) for r in hist] == [1, 3]


# ---------------------------------------------------------------------------- model folders
def test_save_load_round_trip_gives_identical_forecasts(tmp_path):
    g = small_graph()
    torch.manual_seed(1)
    model = TemporalGraphVAE(small_config(g)).eval()
    save_model(model, tmp_path / "m", train_config=quiet(), metadata={"dataset": "x"})
    saved = load_saved(tmp_path / "m", model_class=TemporalGraphVAE)
    assert saved.train_config == quiet() and saved.metadata == {"dataset": "x"}
    assert json.loads((tmp_path / "m" / "config.json").read_text()) == model.config.to_dict()
    loaded = saved.model.eval()

    def run(m):
        return m.forecast(g, horizon=3, num_samples=5, generator=torch.Generator().manual_seed(7))

    a, b = run(model), run(loaded)
    assert torch.equal(a.z, b.z) and torch.equal(a.x, b.x)
    assert torch.equal(a.edge_prob(), b.edge_prob())


def test_loading_mismatched_weights_fails_clearly(tmp_path):
    g = small_graph()
    model = TemporalGraphVAE(small_config(g))
    folder = save_model(model, tmp_path / "m")
    # config.json edited (or weights copied from another run): shapes no longer match
    cfg = json.loads((folder / "config.json").read_text())
    cfg["latent_dim"] = 5
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointMismatchError, match=r"latent_dim.*shape mismatch|shape mismatch"):
        load_model(folder)
    # the folder was made by another class than the one asked for
    folder2 = save_model(model, tmp_path / "m2")

    class OtherModel(torch.nn.Module):
        pass

    with pytest.raises(CheckpointMismatchError, match="was made by .*TemporalGraphVAE with config"):
        load_model(folder2, model_class=OtherModel)
    # missing pieces say what is expected
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (folder2 / "model.pt").unlink()
    with pytest.raises(FileNotFoundError, match="model.pt is missing"):
        load_model(folder2)


def test_cosine_lr_schedule_decays_to_zero_over_the_run(tmp_path):
    """``lr_schedule="cosine"``: the lr used at optimizer step i is lr·(1 + cos(π i / I))/2 with
    I = epochs × steps per epoch, read from the optimizer before every step."""
    import math

    import lightning as L

    from dyngraphvae.data.synthetic import fork

    seen: list[float] = []

    class Spy(L.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen.append(optimizer.param_groups[0]["lr"])

    data = fork(num_sequences=8, num_nodes=8, history=2, horizon=2, num_features=2, seed=0)
    mc = ForecasterConfig.for_graph(data.graphs[0], latent_dim=2, hidden_dim=8,
                                    node_embedding_dim=4)
    cfg = quiet(epochs=3, batch_size=2, val_fraction=0.0, val_snapshots=None, patience=None,
                lr=0.05, lr_schedule="cosine")
    fit(mc, cfg, data.graphs, tmp_path / "cos", callbacks=[Spy()])
    total = 3 * 4  # 8 sequences in batches of 2, 3 epochs
    want = [0.05 * (1 + math.cos(math.pi * i / total)) / 2 for i in range(total)]
    assert seen == pytest.approx(want, rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="lr_schedule must be None or 'cosine'"):
        TrainConfig(lr_schedule="step")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg

"""A trained forecaster samples both futures of the fork process; the deterministic ablation
produces the blur (``dyngraphvae.data.synthetic.fork``, ``recipes.fork_recipe``,
``evaluation.multimodality``).

Futures are classified on the steps ``h >= 2``: with the filtering posterior
``q(Z_{t+1} | Z_t, G_{1:t+1})`` and ``Z_t`` generating ``G_{t+1}`` (``docs/model.md``), the latent
``Z_T`` that decodes the first post-fork snapshot has seen only the shared history, so ``h = 1``
is the blur of the two modes by construction; the modes split in the graph-level mixture
transition ``p(Z_{T+1} | Z_T)``.

Measured with ``benchmarks/results_synthetic.py --part fork`` (the same data and recipe, seeds
0, 1, 2: table in ``docs/results.md``). The slow test trains seed 0 with ``fit`` (about 2 min of
one core per model when the machine is idle).
"""

from __future__ import annotations

import tempfile

import pytest
import torch

from dyngraphvae.data.synthetic import fork
from dyngraphvae.evaluation.multimodality import fork_multimodality
from dyngraphvae.models import ForecasterConfig
from dyngraphvae.recipes import fork_recipe
from dyngraphvae.training import TrainConfig, fit

KW = dict(num_nodes=12, history=2, horizon=4)


def test_fork_recipe_settings_and_errors():
    data = fork(num_sequences=4, **KW)
    rec = fork_recipe(data.graphs[0], 3200, steps=800, batch_size=8)
    m, t = rec.model, rec.train
    assert (m.transition_components, m.transition_mixture, m.transition_tied_scale) == \
        (2, "graph", False)
    assert m.decode_features and not m.decode_edges and m.node_input == "features"
    # 3200 sequences in batches of 8 = 400 steps per epoch: 2 epochs = 800 steps, β rises over
    # the first 400 of them, then the ELBO itself; lr decays to 0 over the run
    assert t.epochs == 2 and t.batch_size == 8 and t.lr_schedule == "cosine"
    beta = t.kl_weight_schedule()
    assert beta(0) == 0.0 and beta(200) == pytest.approx(0.5) and beta(400) == beta(799) == 1.0
    assert t.val_fraction == 0.0 and t.patience is None
    assert TrainConfig.from_dict(t.to_dict()) == t
    assert ForecasterConfig.from_dict(m.to_dict()) == m
    # fewer sequences than one step's batch still give the requested number of steps
    assert fork_recipe(data.graphs[0], 4, steps=10, batch_size=8).train.epochs == 10
    with pytest.raises(ValueError, match="num_sequences must be >= 1"):
        fork_recipe(data.graphs[0], 0)
    with pytest.raises(ValueError, match="has no node features"):
        fork_recipe(fork(num_sequences=2, num_features=0, **KW).graphs[0], 100)


def _train(seed: int, deterministic: bool):
    train = fork(num_sequences=3200, seed=seed, **KW)
    rec = fork_recipe(train.graphs[0], len(train.graphs), seed=seed)
    cfg = ForecasterConfig.from_dict({**rec.model.to_dict(), "deterministic": deterministic})
    tc = TrainConfig.from_dict({**rec.train.to_dict(), "progress_bar": False,
                                "tensorboard": False, "save_checkpoints": False})
    with tempfile.TemporaryDirectory() as tmp:
        return fit(cfg, tc, train.graphs, tmp).model


@pytest.mark.slow
def test_trained_forecaster_samples_both_fork_modes_deterministic_ablation_blurs():
    torch.set_num_threads(1)
    test = fork(num_sequences=16, seed=1000, **KW)
    oracle = fork(num_sequences=100, seed=2000, **KW)

    model = _train(0, deterministic=False)
    res = fork_multimodality(model, test, num_samples=25, seed=0, oracle_samples=oracle,
                             first_step=2)
    p = res["pooled"]
    assert p["num_samples"] == 400
    # the claim: each mode 50 % +- 15 %; and (almost) no future is neither
    assert 0.35 <= p["fraction_0"] <= 0.65 and 0.35 <= p["fraction_1"] <= 0.65, p
    assert p["fraction_neither"] <= 0.05, p
    assert res["both_modes_fraction"] >= 0.9, res  # from (almost) every held-out history

    det = _train(0, deterministic=True)
    res_d = fork_multimodality(det, test, num_samples=25, seed=0, oracle_samples=oracle,
                               first_step=2)
    # one future per history, and it is the blur of the two modes, not either mode
    assert res_d["both_modes_fraction"] == 0.0, res_d
    assert res_d["pooled"]["fraction_neither"] >= 0.9, res_d
    # the sampled mixture scores closer to the true law's energy score than the blur does
    assert res["energy_score"] < res_d["energy_score"], (res, res_d)

"""Choice of the decoder context on validation snapshots: the score is the mean one-step link AUC
recomputed here by hand, the better candidate becomes the model folder, the scores go into the
manifest, ties keep the earlier candidate, and without validation snapshots there is no choice."""

from __future__ import annotations

import json

import pytest
import torch

import dyngraphvae.selection as selection
from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.rolling import rolling_forecast
from dyngraphvae.training import TrainConfig, load_saved

torch.set_num_threads(1)


def _graph():
    return dynamic_sbm(num_nodes=16, num_snapshots=9, num_features=0, seed=5)


def test_validation_auc_equals_the_hand_computation_for_the_deterministic_model():
    g = _graph()
    torch.manual_seed(0)
    model = TemporalGraphVAE(ForecasterConfig.for_graph(
        g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, deterministic=True)).eval()
    got = selection.validation_link_auc(model, g, 3, num_samples=2, seed=0)
    aucs = []
    for t in range(6, 9):
        pos, neg = link_prediction_pairs(g, t, generator=torch.Generator().manual_seed(
            1_000_003 + t))
        fc = rolling_forecast(model, g, [t], 1, 2)
        aucs.append(100 * link_metrics(fc.edge_prob(0, 0, pos).double(),
                                       fc.edge_prob(0, 0, neg).double()).auc)
    assert got == pytest.approx(sum(aucs) / 3, abs=1e-9)


def _fit_two(tmp_path, monkeypatch, scores):
    g = _graph()
    calls = iter(scores)
    monkeypatch.setattr(selection, "validation_link_auc", lambda *a, **k: next(calls))
    cands = {c: ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                           decoder_context=c) for c in ("none", "pair_history")}
    tc = TrainConfig(epochs=1, val_snapshots=2, progress_bar=False, tensorboard=False)
    return selection.fit_and_select(cands, tc, g, tmp_path / "run")


@pytest.mark.parametrize("scores, chosen", [((60.0, 70.0), "pair_history"),
                                            ((70.0, 60.0), "none"), ((65.0, 65.0), "none")])
def test_the_better_candidate_becomes_the_model_folder(tmp_path, monkeypatch, scores, chosen):
    res, record = _fit_two(tmp_path, monkeypatch, scores)
    assert record["chosen"] == chosen
    saved = load_saved(tmp_path / "run")
    assert saved.model.config.decoder_context == chosen
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["metadata"]["selection"]["candidates"]["none"]["validation_link_auc"] == \
        scores[0]
    assert (tmp_path / "run" / "selection" / "none" / "model.pt").is_file()


def test_no_validation_no_choice(tmp_path):
    g = _graph()
    cands = {"none": ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8)}
    with pytest.raises(ValueError, match="made on validation snapshots"):
        selection.fit_and_select(cands, TrainConfig(epochs=1, val_fraction=0.0), g, tmp_path)


def test_the_refit_window_chosen_on_validation_goes_into_the_model_folder(tmp_path):
    from dyngraphvae.training import fit

    g = _graph()
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history")
    tc = TrainConfig(epochs=1, val_snapshots=3, progress_bar=False, tensorboard=False)
    res = fit(cfg, tc, g, tmp_path / "run")
    with torch.no_grad():  # a level ~100x too low: the refit re-estimates it
        res.model.edge_decoder.bias.fill_(-8.0)
    record = selection.select_context_refit(res.model, g, tc, tmp_path / "run", windows=(0, 4),
                                            refinements=(), num_samples=2)
    assert record["origins"] == [6] and record["horizon"] == 3  # targets 6..8, the val block
    assert record["scores"]["4"] > record["scores"]["0"] and record["chosen"] == 4
    assert load_saved(tmp_path / "run").model.config.context_refit == 4
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["metadata"]["refit_selection"]["chosen"] == 4
    plain = fit(ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4),
                tc, g, tmp_path / "plain")
    assert selection.select_context_refit(plain.model, g, tc, tmp_path / "plain") is None

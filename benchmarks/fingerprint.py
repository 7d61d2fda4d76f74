"""Fingerprint of seeded quantities of the core, to check that a restructuring preserves
behaviour: ELBO terms (teacher forcing, free bits, mixtures, decoder contexts, input dropout), the
importance-weighted bound, forecasts, rolling forecasts, predictive log-likelihoods, amortization
gaps, and the loss traces of the graph CVAE and both collapse studies.

    python benchmarks/fingerprint.py /tmp/after.json          # on this commit
    python benchmarks/fingerprint.py /tmp/before.json         # in a worktree of the old one
    python benchmarks/fingerprint.py --compare /tmp/before.json /tmp/after.json

Imports fall back to the layout before the restructuring (issue 12), so both sides run it. The
result of that comparison is in docs/architecture.md.
"""

from __future__ import annotations

import json
import sys

import torch


def _imports() -> dict:
    """The functions under test, from the new layout or the one before it."""
    import importlib

    def first(*places: str):
        for place in places:
            mod, name = place.rsplit(".", 1)
            try:
                return getattr(importlib.import_module(mod), name)
            except (ImportError, AttributeError):
                continue
        raise ImportError(places[0])

    return {
        "rolling_forecast": first("dyngraphvae.models.rolling.rolling_forecast",
                                  "dyngraphvae.evaluation.protocols.rolling_forecast"),
        "amortization_gap": first("dyngraphvae.amortization.amortization_gap",
                                  "dyngraphvae.models.forecaster.amortization_gap"),
        "sbm_condition_dataset": first(
            "dyngraphvae.data.graph_conditions.sbm_condition_dataset",
            "dyngraphvae.models.graph_cvae.sbm_condition_dataset"),
        "fit_graph_cvae": first("dyngraphvae.training.fit_graph_cvae",
                                "dyngraphvae.models.graph_cvae.fit_graph_cvae"),
        "DemoConfig": first("dyngraphvae.experiments.collapse_demo.DemoConfig",
                            "dyngraphvae.collapse.demo.DemoConfig"),
        "train_sequence_vae": first("dyngraphvae.experiments.collapse_demo.train_sequence_vae",
                                    "dyngraphvae.collapse.demo.train_sequence_vae"),
        "TemporalCollapseConfig": first(
            "dyngraphvae.experiments.temporal_collapse.TemporalCollapseConfig",
            "dyngraphvae.collapse.temporal_demo.TemporalCollapseConfig"),
        "train_temporal": first("dyngraphvae.experiments.temporal_collapse.train_temporal",
                                "dyngraphvae.collapse.temporal_demo.train_temporal"),
    }


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fingerprint() -> dict:
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
    from dyngraphvae.models.graph_cvae import GraphCVAE, GraphCVAEConfig

    f = _imports()
    out: dict = {}
    g = dynamic_sbm(num_nodes=30, num_snapshots=8, num_features=2, seed=1)
    for ctx in ("none", "history"):
        for mix in (1, 3):
            torch.manual_seed(0)
            kw: dict = dict(transition_components=mix)
            if mix == 3:
                kw["transition_mixture"] = "graph" if ctx == "none" else "node"
            cfg = ForecasterConfig.for_graph(
                g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, decoder_context=ctx,
                decoder_input_dropout=0.3 if ctx != "none" else 0.0, **kw)
            m = TemporalGraphVAE(cfg)
            m.train()
            key = f"{ctx}-{mix}"
            e = m.elbo(g, num_samples=4, teacher_forcing=0.7, generator=_gen(1),
                       adjacency="sparse")
            out[key + "-elbo"] = [float(e.loss), float(e.elbo), float(e.posterior_scale.sum())]
            if mix == 1:
                e = m.elbo(g, num_samples=3, free_bits=0.2, reduction="mean_edge",
                           generator=_gen(2))
                out[key + "-fb"] = [float(e.loss), float(e.regulariser)]
            m.eval()
            out[key + "-iw"] = float(m.iw_bound(g, 8, generator=_gen(3)))
            fc = m.forecast(g, 3, 4, generator=_gen(4))
            out[key + "-fc"] = [float(fc.z.sum()), float(fc.feature_mean.sum())] + (
                [int(fc.sampled_edges.size(1))] if fc.sampled_edges is not None else [])
            rf = f["rolling_forecast"](m, g, [2, 5, 7], 2, 3, generator=_gen(5))
            out[key + "-roll"] = float(rf.z.sum())
            pll = m.predictive_log_likelihood(g, 5, 2, 10, generator=_gen(6))
            out[key + "-pll"] = [float(v) for v in pll.joint]
            if mix == 1:
                for fam in ("residual", "mean_field"):
                    a = f["amortization_gap"](m, g, family=fam, steps=5, eval_samples=8,
                                              init_samples=8, generator=_gen(7))
                    out[key + "-am-" + fam] = [float(a.elbo_encoder), float(a.elbo_refined)]
    torch.manual_seed(0)
    data = f["sbm_condition_dataset"](20, 40, seed=1)
    gc = GraphCVAE(GraphCVAEConfig(num_nodes=40, latent_dim=3, hidden_dim=8))
    out["gcvae"] = f["fit_graph_cvae"](gc, data.graphs, data.condition, steps=8, batch_size=4,
                                       lr=1e-2, kl_warmup=4)
    _, r = f["train_sequence_vae"](f["DemoConfig"](steps=12, num_test=64, batch_size=16,
                                                   cure="free_bits"))
    out["seqvae"] = [r.active_units, r.mutual_information, r.mean_kl, r.test_elbo]
    _, r2 = f["train_temporal"](f["TemporalCollapseConfig"](steps=6, eval_samples=4))
    out["temporal"] = [r2.rate, r2.auc, r2.predictive_ll, r2.kl_trace]
    return out


def main() -> None:
    torch.set_num_threads(1)
    if sys.argv[1] == "--compare":
        a, b = (json.load(open(p)) for p in sys.argv[2:4])
        for k in a:
            same = a[k] == b.get(k)
            print(("same  " if same else "DIFF  ") + k + ("" if same else f"  {a[k]} vs {b[k]}"))
        return
    with open(sys.argv[1], "w") as fh:
        json.dump(fingerprint(), fh, indent=1, default=str)


if __name__ == "__main__":
    main()

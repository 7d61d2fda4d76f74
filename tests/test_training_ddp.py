"""DDP on CPU with 2 processes (gloo): the gradient equals the single-process one.

One long training graph and 2 processes: each epoch lists the sequence twice (two Monte Carlo
replicas with independent, keyed noise), one per process, and DDP averages the two gradients. A
single process with ``replicas=2, batch_size=2`` averages the same two losses, so both runs must
end with the same parameters up to floating-point summation order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.models.config import ForecasterConfig
    from dyngraphvae.training import TrainConfig, fit

    out, mode, window = sys.argv[1], sys.argv[2], sys.argv[3]
    window = None if window == "none" else int(window)
    g = dynamic_sbm(num_nodes=16, num_snapshots=8, num_communities=2, num_features=2, seed=3)
    mc = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4)
    common = dict(epochs=3, lr=2e-2, val_snapshots=2, progress_bar=False, accelerator="cpu",
                  window=window,
                  num_samples=1, patience=None, teacher_forcing={"kind": "linear", "c": 0.3})
    reps = 1 if window else 2  # windowed: 2 windows per epoch, one per process
    if mode == "ddp":
        cfg = TrainConfig(devices=2, strategy="ddp", batch_size=1, replicas=1, **common)
    else:
        cfg = TrainConfig(devices=1, batch_size=2, replicas=reps, **common)
    res = fit(mc, cfg, g, out)
    import torch.distributed as dist
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    print(f"RANK {rank} STEPS {int(res.history[-1]['step']) if res.history else -1}")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("window", ["none", "3"])
def test_ddp_two_cpu_processes_match_one_process_with_the_same_items(tmp_path, window):
    """Whole sequence: two keyed replicas, one per process. Windows of 3 of the 6 training
    snapshots: the two windows, one per process, each from the same cached filtered state."""
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("LOCAL_RANK", None)
    runs = {}
    for mode in ("ddp", "single"):
        out = tmp_path / mode
        proc = subprocess.run(
            [sys.executable, str(script), str(out), mode, window], capture_output=True, text=True,
            env=env, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[mode] = (out, proc.stdout)
    # both processes of the DDP run trained, and rank 0 saw one optimizer step per epoch
    assert "RANK 0 STEPS 2" in runs["ddp"][1] and "RANK 1" in runs["ddp"][1]
    assert "RANK 0 STEPS 2" in runs["single"][1]
    a = torch.load(runs["ddp"][0] / "model.pt", weights_only=True)
    b = torch.load(runs["single"][0] / "model.pt", weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    # 3 epochs x 1 optimizer step were taken in both runs
    for mode in runs:
        last = torch.load(runs[mode][0] / "checkpoints" / "last.ckpt", weights_only=True)
        assert last["global_step"] == 3

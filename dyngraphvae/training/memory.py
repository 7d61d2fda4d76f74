"""How much memory one full-sequence training step needs, said before a run starts.

:func:`estimate_training_memory` is calibrated on the peaks that ``benchmarks/speed.py`` measured
on CPU at the default sizes (latent 16, hidden 32, one posterior sample; 2026-12-04; in bytes,
where the speed tables print MiB; ``benchmarks/results/speed_threads1.json`` and
``speed_summaries_after.json``):

* about 8 KB per node-step with the sparse edge likelihood (measured 7.8–8.0 KB on random graphs
  of 10⁴–10⁵ nodes, 5.5 KB on bitcoin_alpha and uci_collegemsg, whose nodes are mostly
  inactive: the estimate errs on the safe side);
* plus, with the dense (exact) likelihood, about 4.9 bytes per node pair and snapshot
  (uci_collegemsg: 2.51 GB dense against 0.94 GB sparse over 89 snapshots of 1899 nodes) and six
  transient ``N × N`` float32 buffers (random graphs of 1000 nodes and 5 snapshots: 104 MB
  dense against 55 MB sparse);
* plus 25 MB of fixed overhead.

Larger latent or hidden sizes, several posterior samples or node features raise the need; the
estimate does not model them. :func:`check_training_memory` compares it with the memory the
operating system reports as available (Linux ``MemAvailable``) and logs what to change when the
run would not fit.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["available_memory", "check_training_memory", "estimate_training_memory"]

BYTES_PER_NODE_STEP = 8.0e3
BYTES_PER_PAIR_STEP_DENSE = 4.9
BYTES_PER_PAIR_DENSE = 6 * 4
OVERHEAD_BYTES = 25e6

log = logging.getLogger("dyngraphvae")


def estimate_training_memory(num_nodes: int, num_snapshots: int, *, dense: bool) -> int:
    """Peak bytes of one training step over ``num_snapshots`` snapshots of ``num_nodes`` nodes
    (module docstring for the calibration)."""
    n, t = int(num_nodes), int(num_snapshots)
    need = OVERHEAD_BYTES + BYTES_PER_NODE_STEP * n * t
    if dense:
        need += BYTES_PER_PAIR_STEP_DENSE * n * n * t + BYTES_PER_PAIR_DENSE * n * n
    return int(need)


def available_memory() -> int | None:
    """Bytes the OS reports as available (``MemAvailable`` of ``/proc/meminfo``), or ``None``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_training_memory(num_nodes: int, num_snapshots: int, *, dense: bool,
                          available: int | None = None, windowed: bool = False) -> bool:
    """Log a warning, with what to change, when the estimate exceeds 90 % of the available
    memory. ``num_snapshots``: the snapshots back-propagated through in one optimizer step (the
    whole training span, or ``window × batch_size`` with windowed training). Returns whether the
    run is expected to fit (``True`` when nothing is known)."""
    avail = available_memory() if available is None else int(available)
    need = estimate_training_memory(num_nodes, num_snapshots, dense=dense)
    if avail is None or need <= 0.9 * avail:
        return True
    advice = ["train on shorter windows (TrainConfig.window / --window, and batch_size 1)"
              if windowed else
              "train on windows of a few snapshots (TrainConfig.window / --window: truncated "
              "back-propagation, memory proportional to the window)"]
    if dense:
        sparse = estimate_training_memory(num_nodes, num_snapshots, dense=False)
        advice.insert(0, f"use the sparse edge likelihood (--adjacency sparse / "
                         f"adjacency='sparse': about {sparse / 1e9:.1f} GB)")
    log.warning("training needs about %.1f GB per step (%d nodes x %d snapshots%s; estimate "
                "calibrated in dyngraphvae.training.memory) but %.1f GB are available: %s, or "
                "use a machine with more memory", need / 1e9, num_nodes, num_snapshots,
                ", dense likelihood" if dense else "", avail / 1e9, "; ".join(advice))
    return False

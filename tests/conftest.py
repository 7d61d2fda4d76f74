"""Shared test settings."""

import os

import torch

# One intra-op thread: CI has 2 cores and tests are small; more threads only add
# contention and make timings erratic.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")

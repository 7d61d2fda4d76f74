"""Temporal graph data: container, loaders, interop, synthetic generators and splits."""

from dyngraphvae.data.temporal_graph import TemporalGraph, TemporalGraphError

__all__ = ["TemporalGraph", "TemporalGraphError"]

"""docs/own-data.md runs as written: its Python blocks execute in order, its `dyngraphvae`
commands run through the CLI (training shortened to a few small epochs to keep the suite fast;
every other argument as in the guide), and the outputs the guide shows exist."""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import torch

from dyngraphvae.cli import main

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "own-data.md"
FAST_TRAIN = ["--epochs", "3", "--latent-dim", "4", "--hidden-dim", "8", "--no-progress",
              "--threads", "1"]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_the_own_data_guide_runs(tmp_path, monkeypatch, capsys):
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    text = GUIDE.read_text()
    python, bash = _blocks(text, "python"), _blocks(text, "bash")
    assert len(python) == 2 and len(bash) == 3
    scope: dict = {}
    exec(python[0], scope)  # writes messages.csv
    assert (tmp_path / "messages.csv").is_file()
    exec(python[1], scope)  # load_events
    g = scope["g"]
    assert g.num_nodes == 60 and len(g) == 14 and not g.directed
    assert g.node_ids[:3] == ["emp000", "emp001", "emp002"]
    assert "TemporalGraph[messages](N=60, T=14, undirected, edges/step=151..442" in \
        capsys.readouterr().out
    for block in bash:
        for line in block.strip().splitlines():
            argv = shlex.split(line)
            assert argv[0] == "dyngraphvae"
            extra = FAST_TRAIN if argv[1] == "train" else []
            if argv[1] == "evaluate":
                extra = ["--samples", "4"]
            assert main(argv[1:] + extra) == 0, line
    out = capsys.readouterr().out
    assert "AUC      model" in out and "edgebank_tw" in out and "MRR" in out
    run = tmp_path / "runs" / "messages"
    assert json.loads((run / "node_ids.json").read_text())[0] == "emp000"
    assert (run / "evaluation" / "metrics.json").is_file()
    with open(run / "forecast" / "edges.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 5 and rows[0]["src"].startswith("emp")
    assert (run / "forecast" / "edge_count.png").stat().st_size > 5000

"""The package's layering (docs/architecture.md), checked on the source: every import of one part
by another (function-body imports included) goes down the layer order, so the parts import each
other without cycles; no module is over 700 lines; no training loop (an optimiser or a backward
pass) lives in data, distributions, nn, objectives or models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "dyngraphvae"

# Lowest first. A part may import itself and any part of a strictly lower layer.
LAYERS: list[set[str]] = [
    {"_version", "_checks", "_config", "progress"},
    {"distributions"},
    {"objectives"},
    {"data", "nn"},
    {"models", "scheduled_sampling"},
    {"amortization", "training"},
    {"evaluation", "collapse"},
    {"experiments", "recipes", "report", "cli_io", "selection"},
    {"cli"},
    {"__init__"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}
NO_TRAINING_LOOPS = {"data", "distributions", "nn", "objectives", "models"}


def _part(module: str) -> str:
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "__init__"


def _modules() -> list[tuple[Path, str]]:
    out = []
    for f in sorted(ROOT.rglob("*.py")):
        rel = f.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        out.append((f, name))
    return out


def _imports(f: Path, module: str) -> list[tuple[str, int]]:
    pkg = module if f.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "dyngraphvae":
                found += [(f"dyngraphvae.{a.name}", node.lineno) for a in node.names]
            else:
                found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return [(t, ln) for t, ln in found if t == "dyngraphvae" or t.startswith("dyngraphvae.")]


def test_every_part_has_a_layer():
    parts = {_part(m) for _, m in _modules()}
    assert parts - set(RANK) == set(), "add new parts to LAYERS and docs/architecture.md"


def test_imports_go_down_the_layers():
    bad = []
    for f, module in _modules():
        src = _part(module)
        for target, line in _imports(f, module):
            dst = _part(target)
            if target == "dyngraphvae":
                dst = "__init__"
            if dst != src and RANK[dst] >= RANK[src]:
                bad.append(f"{f.relative_to(ROOT.parent)}:{line} {src} -> {dst}")
    assert bad == []


def test_the_layer_check_sees_function_body_imports(tmp_path):
    """The checker itself: an import inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from dyngraphvae.training import fit\n    return fit\n")
    assert _imports(f, "dyngraphvae.models.m") == [("dyngraphvae.training", 2)]


@pytest.mark.parametrize("path", [f for f, _ in _modules()], ids=lambda p: p.name)
def test_no_module_over_700_lines(path):
    assert len(path.read_text().splitlines()) <= 700


def test_no_training_loop_below_training():
    bad = []
    for f, module in _modules():
        if _part(module) not in NO_TRAINING_LOOPS:
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Attribute) and (
                node.attr == "backward"
                or (node.attr == "optim" and isinstance(node.value, ast.Name)
                    and node.value.id == "torch")
            ):
                bad.append(f"{f.relative_to(ROOT.parent)}:{node.lineno} .{node.attr}")
    assert bad == []

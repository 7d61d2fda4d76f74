"""Where the examples find the real datasets (shared by the example scripts)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find_data_root(given: str | None, holding: str) -> Path:
    """``--data-root``, else ``$DYNGRAPHVAE_DATA``, else ``../shared/datasets``; exit 2 if none.

    ``holding`` names a file the root should contain, for the error message.
    """
    candidates = [Path(given)] if given else []
    if not given and os.environ.get("DYNGRAPHVAE_DATA"):
        candidates.append(Path(os.environ["DYNGRAPHVAE_DATA"]))
    if not candidates:
        candidates += [REPO.parent / "shared" / "datasets", Path("../shared/datasets")]
    for c in candidates:
        if c.is_dir():
            return c
    sys.exit(f"no data root found (tried {', '.join(map(str, candidates))}); pass "
             f"--data-root DIR or set DYNGRAPHVAE_DATA to the folder holding {holding}")

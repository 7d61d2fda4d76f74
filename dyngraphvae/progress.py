"""Progress bars for long forecasting and evaluation loops, on a terminal only.

``progress(iterable, desc)`` wraps the iterable in a ``tqdm`` bar (steps/s and ETA) when standard
error is a terminal and tqdm is installed (it comes with Lightning), and returns it unchanged
otherwise, so logs written to files hold no bar. ``DYNGRAPHVAE_PROGRESS=0`` turns bars off,
``=1`` forces them on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["progress", "progress_enabled"]

T = TypeVar("T")


def progress_enabled() -> bool:
    """Whether bars are drawn: ``$DYNGRAPHVAE_PROGRESS`` if set, else whether stderr is a tty."""
    env = os.environ.get("DYNGRAPHVAE_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false", "no")
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    """``iterable`` with a progress bar when :func:`progress_enabled`, else unchanged."""
    if not progress_enabled():
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)

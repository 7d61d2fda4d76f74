"""One validator for integer arguments, with the error message every public function uses."""

from __future__ import annotations

from typing import Any

__all__ = ["check_int"]


def check_int(value: Any, name: str, lo: int = 1) -> int:
    """``int(value)`` if it is an integer (not a bool) ``>= lo``; else a ``ValueError`` naming
    ``name`` (e.g. ``"forecast: horizon"``) and the value."""
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= lo
    except (TypeError, ValueError):
        ok = False
    if not ok:
        what = "a positive integer" if lo == 1 else f"an integer >= {lo}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)

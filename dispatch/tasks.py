"""Background work of the dispatch capability."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kizuna.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Register this capability's tasks, timers and bus handlers on a runtime."""

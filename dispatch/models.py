"""Tables of the dispatch capability."""

from __future__ import annotations

"""Tables of the mutual_aid capability."""

from __future__ import annotations

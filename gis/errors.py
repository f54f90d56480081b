"""The error raised for geometry that cannot be used as an alert or boundary area."""

from __future__ import annotations


class GeometryError(ValueError):
    """Unusable geometry; `field` locates the element, e.g. `geometry.coordinates[0][3]`."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

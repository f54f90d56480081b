"""Errors of the CAP integration beyond the shell's: wrong media type."""

from __future__ import annotations

from kizuna.errors import KizunaError


class UnsupportedMediaType(KizunaError):
    """A body that does not say it is XML."""

    status_code = 415
    code = "unsupported_media_type"

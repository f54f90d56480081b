"""Errors of the CAP integration beyond the shell's: too large, wrong media type."""

from __future__ import annotations

from kizuna.errors import KizunaError


class TooLarge(KizunaError):
    """A body or file over settings.max_xml_bytes: refused before it is parsed."""

    status_code = 413
    code = "too_large"


class UnsupportedMediaType(KizunaError):
    """A body that does not say it is XML."""

    status_code = 415
    code = "unsupported_media_type"

"""CAP 1.2 XML of one stored alert version, for other integrations (webhooks)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from alerts.models import AlertVersion
from integrations.cap.service import export_cap
from kizuna.settings import Settings


def alert_version_to_cap(
    session: Session, version: AlertVersion, settings: Settings | None = None
) -> bytes:
    """The version's CAP XML, exactly as `GET /api/v1/alerts/{id}/cap?version=N` serves it."""
    return export_cap(session, settings or Settings(), None, version.alert_id, version.version)

"""Alerts: CAP-shaped warnings, residents' subscriptions, targeting and delivery.

Other packages use only what is named here.
"""

from alerts.external import ImportResult, IncomingMessage, import_message, system_user

__all__ = ["ImportResult", "IncomingMessage", "import_message", "system_user"]

"""Integrations: CAP, JMA, L-Alert, Web Push and webhooks, translating at the edges."""

INTEGRATIONS = ("cap", "jma", "lalert", "webpush", "webhooks")

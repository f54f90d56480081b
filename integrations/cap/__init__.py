"""The cap integration: CAP 1.2 in (messages, feeds, EDXL-DE) and out (per alert, Atom feed)."""

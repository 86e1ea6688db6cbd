"""Alerts: surges of negative news per ticker, topic or source, delivered as signed webhooks."""

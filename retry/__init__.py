"""Durable tasks behind Django's Tasks API, run by Channels workers (distribution: django-channels-retry)."""

__version__ = "0.1.0"

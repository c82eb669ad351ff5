"""The app's notification settings and channels (built once per app from its config)."""

from __future__ import annotations

from flask import Flask, current_app

from engine.notify.channels import Channel, build_channels
from engine.notify.settings import NotifySettings


def notify_settings(app: Flask | None = None) -> NotifySettings:
    """NotifySettings from the app config (PARCOURS_NOTIFY_*, PARCOURS_QUIET_*...), cached on the app."""
    app = app or current_app
    settings = app.extensions.get("parcours_notify")
    if settings is None:
        settings = NotifySettings.from_mapping(app.config)
        app.extensions["parcours_notify"] = settings
    return settings  # type: ignore[no-any-return]


def notify_channels(app: Flask | None = None) -> dict[str, Channel]:
    """The sms and email channels: apprise when a URL is configured, else the local outbox."""
    return build_channels(notify_settings(app))

"""Celery jobs for reminders and the work-item sweep: ids in, one engine service call, a JSON-able result.

Declared with ``shared_task`` and explicit names, so they bind to the app that ``tasks.celery_app``
(``celery_init_app``) creates; that app's task base provides the Flask app context. The engine services
commit their own steps (claim, then each outcome) so that a worker killed mid-batch leaves every reminder
either sent or leased to be taken again.

Beat (``tasks/schedule.py``): ``parcours.reminders.dispatch`` every 30 s (what is due: quiet hours over,
retries, new ones), ``parcours.work_items.sweep`` every 60 s (invitations, due-soon / overdue, escalations).

Test-only hook: with ``PARCOURS_TEST_SEND_DELAY_SECONDS`` set, every channel first creates
``<PARCOURS_TEST_SEND_MARKER_DIR>/<reminder_id>-<pid>`` (when that variable is set), then sleeps that long, then
hands the message to the real channel: the reminder's claim is already committed, its message not yet sent, so
a test can kill the worker in the middle of a batch (tests/tasks/test_reminder_worker_kill.py). Never set them
in production.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from celery import shared_task
from flask import current_app

from engine.db import db
from engine.notify.channels import Channel, OutgoingMessage, build_channels, close_channels
from engine.notify.settings import NotifySettings
from engine.services.reminders import dispatch_due_reminders, send_reminder
from engine.services.work_item_reminders import sweep_work_item_reminders


def _clock() -> Any:
    return current_app.extensions["parcours_clock"]


def notify_settings() -> NotifySettings:
    """The worker app's notification settings (PARCOURS_NOTIFY_*, PARCOURS_QUIET_*), read once per app, in the
    same ``extensions`` slot the web app and CLI use."""
    settings = current_app.extensions.get("parcours_notify")
    if settings is None:
        settings = current_app.extensions["parcours_notify"] = NotifySettings.from_mapping(current_app.config)
    return settings  # type: ignore[no-any-return]


class _SlowChannel:
    """The test-only slow hook around a real channel (see the module docstring)."""

    def __init__(self, channel: Channel, delay: float, marker_dir: str | None) -> None:
        self.name = channel.name
        self.channel = channel
        self.delay = delay
        self.marker_dir = marker_dir

    def send(self, message: OutgoingMessage) -> str:
        if self.marker_dir:
            (Path(self.marker_dir) / f"{message.reminder_id}-{os.getpid()}").touch()
        time.sleep(self.delay)
        return self.channel.send(message)

    def close(self) -> None:
        close_channels({self.name: self.channel})


def notify_channels() -> dict[str, Channel]:
    channels = build_channels(notify_settings())
    delay = float(os.environ.get("PARCOURS_TEST_SEND_DELAY_SECONDS") or 0)
    if delay > 0:
        marker_dir = os.environ.get("PARCOURS_TEST_SEND_MARKER_DIR")
        return {name: _SlowChannel(channel, delay, marker_dir) for name, channel in channels.items()}
    return channels


@shared_task(name="parcours.reminders.dispatch", ignore_result=False)
def dispatch_reminders(limit: int = 500) -> dict[str, Any]:
    """Send every reminder due now (claims under SKIP LOCKED: run as many workers as needed)."""
    channels = notify_channels()
    try:
        report = dispatch_due_reminders(clock=_clock(), channels=channels, settings=notify_settings(), limit=limit)
    finally:
        close_channels(channels)
    return asdict(report)


@shared_task(name="parcours.reminders.send", ignore_result=False)
def send_one_reminder(reminder_id: int) -> str:
    """Send one reminder if it is due and nobody holds it (the outcome, or 'skipped')."""
    channels = notify_channels()
    try:
        return send_reminder(int(reminder_id), clock=_clock(), channels=channels, settings=notify_settings())
    finally:
        close_channels(channels)


@shared_task(name="parcours.work_items.sweep", ignore_result=False)
def sweep_work_items(limit: int = 500) -> dict[str, int]:
    """Plan work-item reminders and escalations due now (each at most once, whatever the sweep rate)."""
    report = sweep_work_item_reminders(clock=_clock(), settings=notify_settings(), limit=limit)
    db.session.commit()
    return asdict(report)

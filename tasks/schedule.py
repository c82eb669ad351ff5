"""The beat table: every periodic job of Parcours, in one place. Exactly one beat process runs it."""

from __future__ import annotations

from typing import Any

from tasks.config import JobSettings

BROKER_PRUNE_SECONDS = 3600.0


def beat_schedule(settings: JobSettings | None = None, *, embedded_broker: bool = False) -> dict[str, dict[str, Any]]:
    """Periodic jobs by name. Each entry expires when the next one is due, so a beat that ran while no worker
    did (a worker restart) does not leave a pile of identical sweeps behind it. On the embedded broker, an
    hourly job also prunes the messages already taken (see tasks/broker_maintenance.py)."""
    settings = settings or JobSettings.from_env()
    schedule: dict[str, dict[str, Any]] = {
        "timers-sweep": {
            "task": "parcours.timers.sweep",
            "schedule": settings.sweep_seconds,
            "options": {"expires": settings.sweep_seconds},
        },
        "reminders-dispatch": {
            "task": "parcours.reminders.dispatch",
            "schedule": settings.reminder_seconds,
            "options": {"expires": settings.reminder_seconds},
        },
        "work-items-sweep": {
            "task": "parcours.work_items.sweep",
            "schedule": settings.work_item_sweep_seconds,
            "options": {"expires": settings.work_item_sweep_seconds},
        },
    }
    if embedded_broker:
        schedule["embedded-broker-prune"] = {
            "task": "parcours.broker.prune",
            "schedule": BROKER_PRUNE_SECONDS,
            "options": {"expires": BROKER_PRUNE_SECONDS},
        }
    return schedule

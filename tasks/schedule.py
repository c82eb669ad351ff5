"""The beat table: every periodic job of Parcours, in one place. Exactly one beat process runs it."""

from __future__ import annotations

from typing import Any

from tasks.config import JobSettings


def beat_schedule(settings: JobSettings | None = None) -> dict[str, dict[str, Any]]:
    """Periodic jobs by name. Each entry expires when the next one is due, so a beat that ran while no worker
    did (a worker restart) does not leave a pile of identical sweeps behind it."""
    settings = settings or JobSettings.from_env()
    return {
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

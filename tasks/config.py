"""Where the jobs' messages go: Celery settings read from the environment, with an embedded default.

- ``CELERY_BROKER_URL``: any Celery broker URL (production: Redis).
- else ``REDIS_URL``: Redis as broker.
- else an **embedded broker**: kombu's SQLAlchemy transport on a SQLite file of its own next to the app's
  database (``<instance folder>/celery-broker.sqlite3``), so that `parcours run` needs no server. A file of
  its own because the worker polls the broker every second: on the app's file those polls would take
  SQLite's write lock and make the engine's transactions wait.
- ``CELERY_RESULT_BACKEND``: where job results go; by default none are kept (jobs report through the
  database and the log), except on Redis where the broker's URL is reused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMBEDDED_BROKER_FILE = "celery-broker.sqlite3"
BEAT_SCHEDULE_FILE = "celerybeat-schedule"


@dataclass(frozen=True)
class JobSettings:
    """Tuning of the timer jobs (environment, then defaults); every value is documented in the README."""

    sweep_seconds: float = 5.0  # PARCOURS_TIMER_SWEEP_SECONDS: how often beat runs the timer sweep
    horizon_seconds: float = 120.0  # PARCOURS_TIMER_HORIZON_SECONDS: queue ETAs for timers due this soon
    requeue_seconds: float = 60.0  # PARCOURS_TIMER_REQUEUE_SECONDS: re-queue a timer still pending this late
    batch: int = 2000  # PARCOURS_TIMER_BATCH: most timers queued by one sweep
    reminder_seconds: float = 30.0  # PARCOURS_REMINDER_DISPATCH_SECONDS: how often due reminders are sent
    work_item_sweep_seconds: float = 60.0  # PARCOURS_WORK_ITEM_SWEEP_SECONDS: due-soon, overdue, escalations

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JobSettings:
        env = os.environ if env is None else env
        defaults = cls()

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {raw!r}")
            return value

        return cls(sweep_seconds=number("PARCOURS_TIMER_SWEEP_SECONDS", defaults.sweep_seconds),
                   horizon_seconds=number("PARCOURS_TIMER_HORIZON_SECONDS", defaults.horizon_seconds),
                   requeue_seconds=number("PARCOURS_TIMER_REQUEUE_SECONDS", defaults.requeue_seconds),
                   batch=int(number("PARCOURS_TIMER_BATCH", defaults.batch)),
                   reminder_seconds=number("PARCOURS_REMINDER_DISPATCH_SECONDS", defaults.reminder_seconds),
                   work_item_sweep_seconds=number("PARCOURS_WORK_ITEM_SWEEP_SECONDS",
                                                  defaults.work_item_sweep_seconds))


def broker_url(instance_path: str, env: Mapping[str, str] | None = None) -> str:
    """The broker: CELERY_BROKER_URL, else REDIS_URL, else the embedded SQLite broker in the instance folder."""
    env = os.environ if env is None else env
    for name in ("CELERY_BROKER_URL", "REDIS_URL"):
        if env.get(name, "").strip():
            return env[name].strip()
    return "sqla+sqlite:///" + str(Path(instance_path) / EMBEDDED_BROKER_FILE)


def is_embedded(url: str) -> bool:
    return url.startswith(("sqla+", "sqlalchemy+"))


def celery_settings(instance_path: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every Celery setting of the app, in one place."""
    env = os.environ if env is None else env
    broker = broker_url(instance_path, env)
    backend = env.get("CELERY_RESULT_BACKEND", "").strip() or (broker if broker.startswith("redis") else None)
    settings: dict[str, Any] = {
        "broker_url": broker,
        "result_backend": backend,
        "task_ignore_result": True,  # jobs report through the database (DueTimer, audit), not results
        # JSON only: jobs take ids, and a pickled message from a compromised broker would run code.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
        # One message at a time per process: a long job does not sit on messages another worker could run.
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "beat_schedule_filename": str(Path(instance_path) / BEAT_SCHEDULE_FILE),
    }
    if broker.startswith("redis"):
        # An unacknowledged message (acks_late: the worker died mid-job) comes back after this long. It must
        # exceed the longest ETA we queue (the sweep's horizon, minutes), or an ETA job would be delivered twice
        # (harmless, firing is idempotent, but wasteful).
        settings["broker_transport_options"] = {"visibility_timeout": 3600}
    return settings

"""The Celery app bound to the Flask app: every job runs in an app context and one transaction."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask

from engine.db import db
from tasks.config import celery_settings, is_embedded
from tasks.schedule import beat_schedule

log = logging.getLogger(__name__)

# The modules that define jobs (with @shared_task and an explicit name); the worker imports them.
JOB_MODULES = ("tasks.timers", "tasks.reminders", "tasks.broker_maintenance")


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app`` (settings from the environment, see tasks/config.py) and keep it in
    ``app.extensions["celery"]``. Call it once per process, after ``create_app``."""

    class FlaskTask(Task):  # type: ignore[misc]
        """A job in the Flask app's context: commit on success, roll back on error, always drop the session.

        Engine services only flush; this is one of the two places that commit (the other: the request
        wrapper / the CLI's ``transactional``). A job that commits on its own (a sweep, one transaction per
        timer) is fine: the final commit then has nothing left to write.
        """

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                try:
                    result = self.run(*args, **kwargs)
                    db.session.commit()
                    return result
                except BaseException:
                    db.session.rollback()
                    raise
                finally:
                    db.session.remove()

    celery = Celery("parcours", task_cls=FlaskTask)
    settings = celery_settings(app.instance_path)
    celery.config_from_object(settings)
    celery.conf.beat_schedule = beat_schedule(embedded_broker=is_embedded(settings["broker_url"]))
    celery.set_default()
    app.extensions["celery"] = celery
    for module in JOB_MODULES:
        importlib.import_module(module)

    @worker_process_init.connect(weak=False)
    def _fresh_connections(**_: Any) -> None:
        # A forked pool process must not share the parent's pooled database connections.
        with app.app_context():
            db.engine.dispose(close=False)

    return celery

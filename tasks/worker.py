"""The worker's and beat's entry point: `celery -A tasks.worker worker` / `celery -A tasks.worker beat`.

Builds the Flask app from the environment (DATABASE_URL, PARCOURS_*, CELERY_BROKER_URL / REDIS_URL) and the
Celery app bound to it.
"""

from __future__ import annotations

from tasks.celery_app import celery_init_app
from webapp import create_app

flask_app = create_app()
celery = celery_init_app(flask_app)
app = celery  # `celery -A tasks.worker` looks for `app` or `celery`

"""Celery jobs: a beat schedule and jobs that take ids and call one engine service (see celery_app.py)."""

"""Fixtures of the job tests: a dedicated Redis database, the Celery app bound to the test app."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from flask import Flask

from tasks.celery_app import celery_init_app
from tests.tasks.workers import CeleryProcess

# A database number of our own on the shared Redis: only this one is ever flushed.
REDIS_TEST_URL = os.environ.get("PARCOURS_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
BROKER_ENV = ("CELERY_BROKER_URL", "REDIS_URL", "CELERY_RESULT_BACKEND")


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_TEST_URL} is not reachable (bash tests/run starts it): {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def bind_celery(app: Flask, monkeypatch: pytest.MonkeyPatch, broker: str | None) -> Celery:
    """The Celery app for ``app``, its broker at ``broker`` (None: the embedded default)."""
    for name in BROKER_ENV:
        monkeypatch.delenv(name, raising=False)
    if broker:
        monkeypatch.setenv("CELERY_BROKER_URL", broker)
    return celery_init_app(app)


@pytest.fixture
def redis_celery(app: Flask, monkeypatch: pytest.MonkeyPatch, redis_db: redis.Redis) -> Iterator[Celery]:
    celery = bind_celery(app, monkeypatch, REDIS_TEST_URL)
    yield celery
    celery.close()


@pytest.fixture
def processes() -> Iterator[list[CeleryProcess]]:
    """Started worker and beat processes are stopped (and their groups killed) whatever the test's outcome."""
    started: list[CeleryProcess] = []
    yield started
    for process in started:
        process.stop()

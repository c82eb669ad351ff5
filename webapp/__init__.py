"""The Flask application: configuration, extensions and (later) blueprints; the `parcours` CLI hangs on it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from engine.clock import SystemClock
from engine.db import configure_sqlite, db
from engine.notify.settings import ENV_SETTINGS as NOTIFY_ENV_SETTINGS

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "engine" / "migrations")
REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_SETTINGS = ("PARCOURS_WORKFLOWS_DIR", "PARCOURS_TIMEZONE", *NOTIFY_ENV_SETTINGS)


def _default_database_url(app: Flask) -> str:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(app.instance_path) / "parcours.sqlite3")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then environment (DATABASE_URL, PARCOURS_*), then ``config``."""
    instance_path = os.environ.get("PARCOURS_INSTANCE_PATH") or str(REPO_ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("PARCOURS_SECRET_KEY", "dev-only-change-me"),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        PARCOURS_WORKFLOWS_DIR=str(REPO_ROOT / "workflows"),
        PARCOURS_TIMEZONE="Europe/Paris",
    )
    for name in ENV_SETTINGS:  # every setting read from the environment is listed (and documented in the README)
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL") or _default_database_url(app)
    if config:
        app.config.update(config)
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app.extensions["parcours_clock"] = app.config.get("PARCOURS_CLOCK") or SystemClock()

    import engine.models  # noqa: F401  (register the models)

    db.init_app(app)
    from flask_migrate import Migrate

    Migrate(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    return app

"""The Flask application: configuration, extensions, blueprints and error handlers; the CLI hangs on it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from engine.clock import SystemClock
from engine.db import configure_sqlite, db
from webapp.config import REPO_ROOT, defaults, from_environment

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "engine" / "migrations")


def _default_database_url(app: Flask) -> str:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(app.instance_path) / "parcours.sqlite3")


def _configure(app: Flask, config: Mapping[str, Any] | None) -> None:
    app.config.from_mapping(defaults())
    from_environment(app.config)  # type: ignore[arg-type]
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL") or _default_database_url(app)
    if config:
        app.config.update(config)
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgresql") and app.config.get("PARCOURS_PG_OPTIONS"):
        # Session settings of every connection (libpq "options"). By default parallel query is off: Parcours'
        # statements are small index lookups, and starting parallel workers for them cost more than the
        # query itself (the inbox: 12 ms with two workers, 4 ms without; bench/inbox_at_scale.py).
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {**options.get("connect_args", {}), "options": app.config["PARCOURS_PG_OPTIONS"]}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then environment (DATABASE_URL, PARCOURS_*), then ``config``.

    Steps in a fixed order: configuration, clock, database and migrations, web extensions (login, CSRF,
    languages, rate limits), security headers and the request transaction, error handlers, blueprints.
    """
    instance_path = os.environ.get("PARCOURS_INSTANCE_PATH") or str(REPO_ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    _configure(app, config)
    app.extensions["parcours_clock"] = app.config.get("PARCOURS_CLOCK") or SystemClock()

    import engine.models  # noqa: F401  (register the models)

    db.init_app(app)
    from flask_migrate import Migrate

    Migrate(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)

    from webapp import errors, extensions, i18n, security, transaction
    from webapp.blueprints import register_blueprints

    extensions.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    transaction.init_app(app)
    errors.init_app(app)
    register_blueprints(app)
    return app

"""The Alembic migrations build exactly the schema the models declare (no drift between the two)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from engine.db import db


def test_migrations_match_the_models(app: Flask):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "models and migrations differ: add a migration (flask db migrate)"

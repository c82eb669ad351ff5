"""The studio's operations section: instances per version, the cohort on the diagram, instances in error,
migration between versions (care managers only: every view calls ``studio_actor()`` first)."""

from flask import Blueprint

bp = Blueprint("operations", __name__, url_prefix="/studio/operations")

from webapp.studio.operations import migration_views, views  # noqa: E402,F401  (routes)

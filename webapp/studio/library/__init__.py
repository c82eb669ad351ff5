"""The studio's library (/studio/): pathways, version history, readable differences, diagrams, simulation."""

from flask import Blueprint

bp = Blueprint("library", __name__, url_prefix="/studio")

from webapp.studio.library import simulation_views, views  # noqa: E402,F401  (routes)

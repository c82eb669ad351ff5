"""Coordinator views: all open work of my patients, late first; counts per pathway and step; who has what."""

from flask import Blueprint

bp = Blueprint("coordination", __name__, url_prefix="/coordination")

from webapp.coordination import views  # noqa: E402,F401  (routes)

"""The patient's one-time link: a small form without an account (self-reported pain, daily weight)."""

from flask import Blueprint

bp = Blueprint("patient_link", __name__, url_prefix="/p")

from webapp.patient_link import views  # noqa: E402,F401  (routes)

"""The patient record: identity, care team, pathways, diagram and timeline; enrolment."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

from webapp.patients import (  # noqa: E402,F401  (routes)
    access_log_views,
    care_team_views,
    enrolment_views,
    instance_views,
    views,
)

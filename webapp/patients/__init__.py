"""The patient record: identity, care team, pathways, diagram and timeline; enrolment."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

# Placeholder route until the patient record is built; the endpoint name is the contract other pages link to.
from webapp.patients import views  # noqa: E402,F401  (routes)

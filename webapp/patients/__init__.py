"""The patient record: identity, care team, pathways, diagram and timeline; enrolment."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

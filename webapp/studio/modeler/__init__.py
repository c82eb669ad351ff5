"""The studio's drafts: list, create (starter template, copy of a version, upload), the bpmn-js modeler page,
save / validate / download, deploy confirmation and deploy."""

from flask import Blueprint

bp = Blueprint("modeler", __name__, url_prefix="/studio/drafts")

from webapp.studio.modeler import simulation_views, views  # noqa: E402,F401  (routes)

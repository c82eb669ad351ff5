"""The professional's inbox: work items to do, claim / hand back / comment, complete through the form."""

from flask import Blueprint

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

from webapp.inbox import views, work_item_views  # noqa: E402,F401  (routes)

"""The JSON API (/api/v1): marshmallow schemas, OpenAPI document, token authentication."""

from flask import Blueprint
from flask.blueprints import BlueprintSetupState
from marshmallow import ValidationError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _converters(state: BlueprintSetupState) -> None:
    # Registered before the routes are added: `<id:...>` and `<key:...>` bound what a path may hold.
    from webapp.api.http import IdConverter, KeyConverter

    state.app.url_map.converters.setdefault("id", IdConverter)
    state.app.url_map.converters.setdefault("key", KeyConverter)


bp.record_once(_converters)

from webapp.api import openapi, pathways, patients, reminders, work_items  # noqa: E402,F401  (routes)
from webapp.api.auth import authenticate_request  # noqa: E402
from webapp.api.http import validation_problem  # noqa: E402

bp.before_request(authenticate_request)
bp.register_error_handler(ValidationError, validation_problem)

"""The JSON API (/api/v1): marshmallow schemas, OpenAPI document, token authentication."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

"""HTTP plumbing of the API: JSON bodies (415/400/422), opaque cursors, ETags, id converters, JSON answers."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from flask import Response, abort, jsonify, request, url_for
from marshmallow import Schema, ValidationError
from werkzeug.routing import BaseConverter
from werkzeug.routing import ValidationError as RouteMismatch

from webapp.api.schemas import MAX_INT
from webapp.errors import error_response


class IdConverter(BaseConverter):
    """A database id in a path: 1..2^31-1 (a larger number is simply no such object, never a DB error)."""

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_INT:
            raise RouteMismatch()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class KeyConverter(BaseConverter):
    """A pathway key (a BPMN process id)."""

    regex = r"[A-Za-z_][A-Za-z0-9_.-]{0,119}"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_body(schema: Schema) -> dict[str, Any]:
    """The request's JSON body, validated: 415 unless JSON, 400 if unreadable, 422 (ValidationError) if wrong."""
    if not request.mimetype or not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        abort(415, "the body must be JSON (Content-Type: application/json)")
    raw = request.get_data(cache=False)
    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        abort(400, f"the body is not valid JSON: {exc}"[:300])
    return schema.load(parsed)  # type: ignore[no-any-return]


def validation_problem(exc: ValidationError) -> Response:
    """A marshmallow ValidationError as 422 problem+json with the messages by field."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return error_response(422, "the request does not match the expected fields", extra={"errors": messages})


def dump(schema: Schema, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(schema.dump(obj))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# -- cursors: opaque to clients (base64url of a small JSON), checked on the way back in -------------------------

def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(name: str = "cursor") -> dict[str, Any] | None:
    token = request.args.get(name)
    if token is None or token == "":
        return None
    try:
        if len(token) > 200:
            raise ValueError("too long")
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(values, dict):
            raise ValueError("not an object")
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, f"'{name}' is not a cursor this API gave out; start again without it")


def cursor_id(values: dict[str, Any]) -> int:
    value = values.get("i")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_INT:
        abort(400, "'cursor' is not a cursor this API gave out; start again without it")
    return value


def cursor_due(values: dict[str, Any]) -> datetime | None:
    value = values.get("d")
    if value is None:
        return None
    try:
        due = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        due = None
    if due is None or due.tzinfo is None:
        abort(400, "'cursor' is not a cursor this API gave out; start again without it")
    return due


def next_link(cursor: str | None) -> str | None:
    """This request's URL with ``cursor`` set (its other filters kept), or None on the last page."""
    if cursor is None:
        return None
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return url_for(request.endpoint or "", **(request.view_args or {}), **args, cursor=cursor)


def flag_arg(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    abort(400, f"'{name}' must be true or false")


# -- ETags: the instance's lock_version -------------------------------------------------------------------------

def etag(lock_version: int) -> str:
    return f'"{lock_version}"'


def if_match_version() -> int | None:
    """The lock_version an If-Match header expects (None when absent or ``*``); a malformed one is 400."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() in ("", "*"):
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 10:
        abort(400, 'If-Match must be the ETag of the work item, e.g. "3"')
    return int(value)

"""Form data checked against the task's JSON Schema, with messages per field."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.errors import InvalidInput


def validate_form_data(form_key: str | None, schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """Return the data if it satisfies the schema; raise InvalidInput with one message per field."""
    if not isinstance(data, dict):
        raise InvalidInput("form data must be a JSON object")
    if form_key is None or schema is None:
        return data
    try:
        validator = Draft202012Validator(schema)
    except SchemaError as exc:  # deploy validation refuses bad schemas; this is a safety net
        raise InvalidInput(f"form '{form_key}' has an invalid schema: {exc.message}") from exc
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        field = ".".join(str(p) for p in error.path)
        if not field and error.validator == "required":
            field = str(error.message).split("'")[1] if "'" in error.message else "-"
        errors.setdefault(field or "-", error.message)
    if errors:
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise InvalidInput(f"form '{form_key}' is not valid: {detail}", errors)
    return data


def form_defaults(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The ``default`` of every top-level property (what a simulation answers when told nothing)."""
    if not schema:
        return {}
    props = schema.get("properties") or {}
    return {name: spec["default"] for name, spec in props.items() if isinstance(spec, dict) and "default" in spec}

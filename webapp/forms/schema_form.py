"""A work item's JSON Schema as HTML form fields, and the submitted fields parsed back to typed JSON.

Only what the shipped forms (``workflows/forms/*.json``) use, plus the common cases around it: integer and
number (with bounds), boolean (a checkbox: unchecked is ``false``), string enums (radios up to four choices,
else a select; labels from ``enumNames`` or ``oneOf``/``anyOf`` titles), integer enums, strings with
``format`` date / date-time, long text (``maxLength`` over 120 → textarea). Validation stays on the server
(``engine.services.forms.validate_form_data``); this module only converts and words the messages in French.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

RESERVED = frozenset({"csrf_token", "lock_version", "note"})  # the page's own fields
LONG_TEXT = 120  # a string allowed more characters than this gets a textarea
MAX_RADIOS = 4
INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class FormField:
    """One input of the form, as the macro renders it."""

    name: str
    widget: str  # integer, number, checkbox, radios, select, date, datetime, text, textarea, json
    title: str
    description: str = ""
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    minimum: Any = None
    maximum: Any = None
    max_length: int | None = None
    pattern: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_id(self) -> str:
        return f"f-{self.name}"


@dataclass(frozen=True)
class ParsedForm:
    """The typed data, and the fields whose text could not be converted (French message per field)."""

    data: dict[str, Any]
    problems: dict[str, str]


def _properties(schema: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    props = (schema or {}).get("properties") or {}
    return {name: spec for name, spec in props.items() if isinstance(spec, dict) and name not in RESERVED}


def _type_of(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "string")
    if isinstance(kind, list):  # ["integer", "null"]: the non-null one
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _humanize(value: Any) -> str:
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def _choices(spec: Mapping[str, Any]) -> tuple[tuple[Any, str], ...] | None:
    """(value, label) of an enum, labelled by enumNames or oneOf/anyOf titles; None if not an enum."""
    for key in ("oneOf", "anyOf"):
        alts = spec.get(key)
        if isinstance(alts, list) and alts and all(isinstance(a, dict) and "const" in a for a in alts):
            return tuple((a["const"], str(a.get("title") or _humanize(a["const"]))) for a in alts)
    values = spec.get("enum")
    if not isinstance(values, list):
        return None
    names = spec.get("enumNames") or spec.get("x-enumNames")
    if isinstance(names, list) and len(names) == len(values):
        return tuple((v, str(n)) for v, n in zip(values, names, strict=True))
    return tuple((v, _humanize(v)) for v in values)


def _widget(spec: Mapping[str, Any]) -> str:
    kind = _type_of(spec)
    choices = _choices(spec)
    if choices is not None and kind != "boolean":
        return "radios" if len(choices) <= MAX_RADIOS else "select"
    if kind in ("integer", "number"):
        return kind
    if kind == "boolean":
        return "checkbox"
    if kind == "string":
        fmt = spec.get("format")
        if fmt == "date":
            return "date"
        if fmt == "date-time":
            return "datetime"
        if fmt == "textarea" or spec.get("x-widget") == "textarea" or (spec.get("maxLength") or 0) > LONG_TEXT:
            return "textarea"
        return "text"
    return "json"


def form_fields(schema: Mapping[str, Any] | None) -> list[FormField]:
    """The inputs of a form, in the schema's order."""
    required = set((schema or {}).get("required") or [])
    fields = []
    for name, spec in _properties(schema).items():
        choices = _choices(spec) or ()
        fields.append(FormField(
            name=name, widget=_widget(spec), title=str(spec.get("title") or _humanize(name)),
            description=str(spec.get("description") or ""), required=name in required,
            options=tuple((_as_text(v), label) for v, label in choices),
            minimum=spec.get("minimum"), maximum=spec.get("maximum"), max_length=spec.get("maxLength"),
            pattern=spec.get("pattern")))
    return fields


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _datetime_text(value: Any, zone: ZoneInfo | None) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None and zone is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%dT%H:%M")


def form_values(schema: Mapping[str, Any] | None, data: Mapping[str, Any] | None = None, *,
                zone: ZoneInfo | None = None) -> dict[str, str]:
    """The text each input starts with: ``data`` where given, else the schema's defaults."""
    values = {}
    for name, spec in _properties(schema).items():
        value = (data or {}).get(name, spec.get("default"))
        if _widget(spec) == "datetime" and value:
            values[name] = _datetime_text(value, zone)
        else:
            values[name] = _as_text(value)
    return values


def submitted_values(schema: Mapping[str, Any] | None, form: Mapping[str, str]) -> dict[str, str]:
    """What the user typed, exactly, to put back in the inputs (an unchecked box is empty)."""
    return {name: form.get(name, "") for name in _properties(schema)}


def _parse_one(spec: Mapping[str, Any], raw: str, zone: ZoneInfo | None) -> Any:
    """The typed value of one input; ValueError carries the French message."""
    widget = _widget(spec)
    kind = _type_of(spec)
    choices = _choices(spec)
    if choices is not None and kind != "boolean":
        for value, _label in choices:
            if _as_text(value) == raw:
                return value
        raise ValueError(_("Choisissez une des valeurs proposées."))
    if kind == "integer":
        text = raw.replace(" ", "").replace("\u202f", "")
        if INTEGER.match(text):
            return int(text)
        raise ValueError(_("Saisissez un nombre entier."))
    if kind == "number":
        text = raw.replace(" ", "").replace("\u202f", "").replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(_("Saisissez un nombre (par exemple 72,5).")) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(_("Saisissez un nombre (par exemple 72,5)."))
        return int(number) if INTEGER.match(text) else number
    if widget == "date":
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError(_("Saisissez une date (jj/mm/aaaa).")) from None
    if widget == "datetime":
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(_("Saisissez une date et une heure.")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone or ZoneInfo("Europe/Paris"))
        return moment.isoformat()
    if widget == "json":
        try:
            return json.loads(raw)
        except ValueError:
            raise ValueError(_("Valeur non reconnue.")) from None
    return raw


def parse_form(schema: Mapping[str, Any] | None, form: Mapping[str, str], *, zone: ZoneInfo | None = None
               ) -> ParsedForm:
    """Submitted fields → typed JSON per the schema. An empty optional field is omitted; so is an empty
    required one (the server's validation then says it is required), except free text, which is sent empty.
    An unchecked checkbox is ``false``."""
    data: dict[str, Any] = {}
    problems: dict[str, str] = {}
    required = set((schema or {}).get("required") or [])
    for name, spec in _properties(schema).items():
        if _widget(spec) == "checkbox":
            data[name] = form.get(name, "").strip().lower() in ("true", "on", "1", "oui", "yes")
            continue
        raw = form.get(name, "")
        if _type_of(spec) != "string" or _widget(spec) in ("date", "datetime"):
            raw = raw.strip()
        if raw == "":
            if name in required and _widget(spec) in ("text", "textarea"):
                data[name] = ""  # a required free text may be empty (the schema says so with minLength)
            continue
        try:
            data[name] = _parse_one(spec, raw, zone)
        except ValueError as exc:
            problems[name] = str(exc)
    return ParsedForm(data, problems)


def _range_message(spec: Mapping[str, Any]) -> str:
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and high is not None:
        return _("La valeur doit être comprise entre %(low)s et %(high)s.", low=_number(low), high=_number(high))
    if low is not None:
        return _("La valeur doit être au moins %(low)s.", low=_number(low))
    return _("La valeur doit être au plus %(high)s.", high=_number(high))


def _number(value: Any) -> str:
    return str(value).replace(".", ",") if isinstance(value, float) else str(value)


def _french(spec: Mapping[str, Any], message: str) -> str:
    if "is a required property" in message:
        return _("Ce champ est obligatoire.")
    if "maximum" in message or "minimum" in message:
        return _range_message(spec)
    if "is not one of" in message or "was expected" in message:
        return _("Choisissez une des valeurs proposées.")
    if "is not of type" in message:
        kind = _type_of(spec)
        if kind == "integer":
            return _("Saisissez un nombre entier.")
        if kind == "number":
            return _("Saisissez un nombre (par exemple 72,5).")
        if kind == "boolean":
            return _("Répondez par oui ou non.")
        return _("Valeur non reconnue.")
    if "is too long" in message:
        return _("%(n)s caractères au maximum.", n=spec.get("maxLength"))
    if "is too short" in message or "should be non-empty" in message:
        return _("Ce champ est obligatoire.")
    if "does not match" in message:
        example = spec.get("default")
        if example:
            return _("Le format n'est pas valide (exemple : %(example)s).", example=example)
        return _("Le format n'est pas valide.")
    return message


def field_messages(schema: Mapping[str, Any] | None, errors: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The server's validation errors, in French: (message per field shown on the form, the other messages)."""
    props = _properties(schema)
    per_field: dict[str, str] = {}
    general: list[str] = []
    for name, message in errors.items():
        top = name.split(".", 1)[0]
        if top in props:
            per_field.setdefault(top, _french(props[top], message))
        else:
            general.append(_("Réponse non acceptée : %(detail)s", detail=message))
    return per_field, general


def answer_lines(schema: Mapping[str, Any] | None, data: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Submitted data as (question, answer) lines for reading: labels for choices, oui/non for booleans."""
    if not data:
        return []
    props = _properties(schema)
    lines = []
    for name, value in data.items():
        spec = props.get(name, {})
        title = str(spec.get("title") or _humanize(name)) if name != "note" else _("Note")
        choices = dict((_as_text(v), label) for v, label in (_choices(spec) or ()))
        if isinstance(value, bool):
            text = _("oui") if value else _("non")
        elif choices and _as_text(value) in choices:
            text = choices[_as_text(value)]
        else:
            text = _as_text(value) or "—"
        lines.append((title, text))
    return lines

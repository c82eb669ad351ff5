"""The simulation form: start day, months, anchor dates, example answers; read with a message per field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from engine.services.studio_simulation import MAX_MONTHS, BranchQuestion, QuestionField

DEFAULT_MONTHS = 6
YEARS_AROUND = 20  # dates further from today are typing mistakes (and would overflow the calendar)


def anchor_input(name: str) -> str:
    return f"anchor:{name}"


def answer_input(element_id: str, field_name: str) -> str:
    return f"answer:{element_id}:{field_name}"


@dataclass
class SimulationForm:
    """What the form shows (``values`` by input name) and, once read, what the simulation takes."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    start_day: date | None = None
    months: int = DEFAULT_MONTHS
    context: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_form(anchors: list[str], questions: list[BranchQuestion], today: date) -> SimulationForm:
    values = {"start": today.isoformat(), "months": str(DEFAULT_MONTHS), "answers_json": ""}
    values.update({anchor_input(a): today.isoformat() for a in anchors})
    for q in questions:
        values.update({answer_input(q.element_id, f.name): _shown(f.default) for f in q.fields})
    return SimulationForm(values)


def _day(raw: str, errors: dict[str, str], name: str, near: date) -> date | None:
    """A date typed in the form, within YEARS_AROUND years of ``near`` (else an error by input name)."""
    if not raw:
        errors[name] = _("Date obligatoire.")
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Date invalide (attendu : AAAA-MM-JJ).")
        return None
    if abs(day.year - near.year) > YEARS_AROUND:
        errors[name] = _("Une date à moins de %(n)s ans d'aujourd'hui.", n=YEARS_AROUND)
        return None
    return day


def _answer(f: QuestionField, raw: str) -> tuple[Any, str | None]:
    """The typed answer, or an error message."""
    if f.type == "boolean":
        if raw not in ("true", "false"):
            return None, _("Choisissez oui ou non.")
        return raw == "true", None
    if f.type in ("integer", "number"):
        try:
            value: Any = int(raw) if f.type == "integer" else float(raw.replace(",", "."))
        except ValueError:
            return None, _("Nombre entier attendu.") if f.type == "integer" else _("Nombre attendu.")
        if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            return None, _("Entre %(min)s et %(max)s.", min=_shown(f.minimum) or "…", max=_shown(f.maximum) or "…")
        return value, None
    if f.choices and raw not in f.choices:
        return None, _("Choisissez une des valeurs proposées : %(choices)s.", choices=", ".join(f.choices))
    return raw, None


def _answers_json(raw: str, errors: dict[str, str]) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        errors["answers_json"] = _("JSON invalide (ligne %(line)s, colonne %(col)s) : %(msg)s",
                                   line=exc.lineno, col=exc.colno, msg=exc.msg)
        return {}
    shapes_ok = isinstance(value, dict) and all(
        isinstance(v, dict) or (isinstance(v, list) and all(isinstance(i, dict) for i in v)) for v in value.values())
    if not shapes_ok:
        errors["answers_json"] = _("Attendu : un objet {\"identifiant_de_l_etape\": {\"champ\": valeur}} "
                                   "(ou une liste de réponses par passage).")
        return {}
    return value  # type: ignore[no-any-return]


def read_form(form: MultiDict[str, str], anchors: list[str], questions: list[BranchQuestion], today: date
              ) -> SimulationForm:
    """The submitted form, read; ``errors`` by input name when something is refused."""
    values = {k: (form.get(k) or "").strip() for k in form if k != "csrf_token"}
    read = SimulationForm(values)
    errors = read.errors
    read.start_day = _day(values.get("start", ""), errors, "start", today)
    months = values.get("months", "")
    if not months.isdigit() or not 1 <= int(months) <= MAX_MONTHS:
        errors["months"] = _("Un nombre de mois entre 1 et %(max)s.", max=MAX_MONTHS)
    else:
        read.months = int(months)
    for anchor in anchors:
        day = _day(values.get(anchor_input(anchor), ""), errors, anchor_input(anchor), today)
        if day is not None:
            read.context[anchor] = day.isoformat()
    for q in questions:
        for f in q.fields:
            name = answer_input(q.element_id, f.name)
            raw = values.get(name, "")
            if not raw:
                continue  # the form's default answers
            value, problem = _answer(f, raw)
            if problem:
                errors[name] = problem
            else:
                read.answers.setdefault(q.element_id, {})[f.name] = value
    for element_id, given in _answers_json(values.get("answers_json", ""), errors).items():
        if isinstance(given, dict) and isinstance(read.answers.get(element_id), dict):
            read.answers[element_id] = {**read.answers[element_id], **given}
        else:
            read.answers[element_id] = given
    return read

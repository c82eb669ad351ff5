"""JSON Schema forms: every shipped form renders, and what a browser submits parses back to the typed values."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, render_template_string

from engine.errors import InvalidInput
from engine.services.forms import form_defaults, validate_form_data
from tests.conftest import REPO
from tests.webapp.html_form import field_errors, read_form
from webapp.forms.schema_form import field_messages, form_fields, form_values, parse_form

SHIPPED_FORMS = sorted((REPO / "workflows" / "forms").glob("*.json"))
MACRO = ('{% from "forms/schema_form.html" import schema_fields %}'
         '<form action="/x">{{ schema_fields(fields, values, errors) }}</form>')


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def render(app: Flask, schema: dict, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
           ) -> str:
    with app.test_request_context("/"):
        return render_template_string(MACRO, fields=form_fields(schema),
                                      values=form_values(schema) if values is None else values, errors=errors or {})


def test_shipped_forms_are_all_covered():
    assert len(SHIPPED_FORMS) >= 30


@pytest.mark.parametrize("path", SHIPPED_FORMS, ids=lambda p: p.stem)
def test_every_shipped_form_renders_each_field_with_its_french_title(app, path):
    schema = _load(path)
    html = render(app, schema)
    for name, spec in schema["properties"].items():
        assert f'name="{name}"' in html, name
        assert spec["title"].replace("'", "&#39;") in html, spec["title"]
        assert spec["description"].replace("'", "&#39;").replace('"', "&#34;") in html
    for name in schema.get("required", []):
        field = next(f for f in form_fields(schema) if f.name == name)
        assert field.required


@pytest.mark.parametrize("path", SHIPPED_FORMS, ids=lambda p: p.stem)
def test_every_shipped_form_round_trips_its_defaults_to_typed_values(app, path):
    schema = _load(path)
    submitted = read_form(render(app, schema))
    data = parse_form(schema, submitted).data
    required = set(schema.get("required", []))
    expected = {k: v for k, v in form_defaults(schema).items() if v != "" or k in required}  # empty optional: omitted
    assert data == expected
    for name, value in expected.items():  # JSON types kept (a whole number may stand for a float default)
        assert type(data[name]) is type(value) or isinstance(value, float) and isinstance(data[name], int), name
    validate_form_data(path.stem, schema, data)  # the server accepts what the form sends back


def test_typed_values_round_trip_through_the_rendered_form(app):
    schema = _load(REPO / "workflows" / "forms" / "rrac_appel_j1.json")
    typed = {"patient_joint": "oui", "douleur_nrs": 8, "antalgiques_pris": False, "nausees_vomissements": True,
             "saignement_plaie": False, "fievre": True, "deficit_neurologique": False}
    submitted = read_form(render(app, schema, form_values(schema, typed)))
    assert submitted["douleur_nrs"] == "8" and submitted["fievre"] == "true" and "antalgiques_pris" not in submitted
    assert parse_form(schema, submitted).data == typed


def test_integer_number_and_choice_fields_parse_to_json_types(app):
    with app.test_request_context("/"):
        weight = _load(REPO / "workflows" / "forms" / "ic_auto_pesee.json")
        assert parse_form(weight, {"poids_kg": "72,5"}).data["poids_kg"] == 72.5
        assert parse_form(weight, {"poids_kg": " 80 "}).data["poids_kg"] == 80
        eye = _load(REPO / "workflows" / "forms" / "dt2_examen_ophtalmologique.json")
        assert parse_form(eye, {"prochain_controle_mois": "24"}).data["prochain_controle_mois"] == 24
        hba1c = _load(REPO / "workflows" / "forms" / "dt2_resultat_hba1c.json")
        assert parse_form(hba1c, {"hba1c": "7.2"}).data["hba1c"] == 7.2


def test_text_that_is_not_a_number_is_refused_with_a_french_message(app):
    with app.test_request_context("/"):
        schema = _load(REPO / "workflows" / "forms" / "rrac_appel_j1.json")
        parsed = parse_form(schema, {"patient_joint": "oui", "douleur_nrs": "huit"})
        assert parsed.problems == {"douleur_nrs": "Saisissez un nombre entier."}
        assert parse_form(schema, {"patient_joint": "peut-être"}).problems == {
            "patient_joint": "Choisissez une des valeurs proposées."}


SYNTHETIC = {
    "type": "object", "required": ["quand", "gravite"],
    "properties": {
        "quand": {"type": "string", "format": "date", "title": "Date des symptômes"},
        "rdv": {"type": "string", "format": "date-time", "title": "Rendez-vous"},
        "gravite": {"type": "string", "title": "Gravité", "enum": ["l", "m", "s"], "enumNames": ["Légère", "Moyenne",
                                                                                               "Sévère"]},
        "cote": {"type": "string", "title": "Côté", "oneOf": [{"const": "d", "title": "Droit"},
                                                              {"const": "g", "title": "Gauche"}]},
        "service": {"type": "string", "title": "Service", "enum": ["a", "b", "c", "d", "e"]},
        "notes": {"type": "string", "title": "Notes", "maxLength": 2000},
    },
}


def test_empty_optional_fields_are_omitted_and_an_unchecked_box_is_false(app):
    with app.test_request_context("/"):
        assert parse_form(SYNTHETIC, {"notes": "", "rdv": " ", "quand": "2026-11-17"}).data == {"quand": "2026-11-17"}
        weight = _load(REPO / "workflows" / "forms" / "ic_auto_pesee.json")
        assert parse_form(weight, {"poids_kg": ""}).data == {"essoufflement_inhabituel": False,
                                                             "oedemes_chevilles": False, "fatigue_inhabituelle": False}
        review = _load(REPO / "workflows" / "forms" / "rrac_rappel_douleur.json")
        assert parse_form(review, {"commentaire": ""}).data["commentaire"] == ""  # required free text: sent empty


def test_dates_choices_with_labels_and_long_text_render_and_parse(app):
    html = render(app, SYNTHETIC, {"quand": "2026-11-17", "rdv": "2026-11-20T14:30", "gravite": "m",
                                   "cote": "g", "service": "c", "notes": "Ligne 1\nLigne 2"})
    assert 'type="date"' in html and 'type="datetime-local"' in html and "<textarea" in html
    assert "Moyenne" in html and "Sévère" in html and "Gauche" in html
    assert "<select" in html  # five choices: a select; up to four: radios
    submitted = read_form(html)
    data = parse_form(SYNTHETIC, submitted, zone=ZoneInfo("Europe/Paris")).data
    assert data == {"quand": "2026-11-17", "rdv": "2026-11-20T14:30:00+01:00", "gravite": "m", "cote": "g",
                    "service": "c", "notes": "Ligne 1\nLigne 2"}
    with app.test_request_context("/"):
        assert form_values(SYNTHETIC, data, zone=ZoneInfo("Europe/Paris"))["rdv"] == "2026-11-20T14:30"
        assert parse_form(SYNTHETIC, {"quand": "17/13/2026"}).problems == {"quand": "Saisissez une date (jj/mm/aaaa)."}


def test_server_errors_are_worded_in_french_next_to_their_field(app):
    schema = _load(REPO / "workflows" / "forms" / "rrac_appel_j1.json")
    with pytest.raises(InvalidInput) as refused:
        validate_form_data("rrac_appel_j1", schema, {"patient_joint": "oui", "douleur_nrs": 11})
    with app.test_request_context("/"):
        per_field, general = field_messages(schema, refused.value.errors)
    assert per_field["douleur_nrs"] == "La valeur doit être comprise entre 0 et 10."
    assert per_field["fievre"] == "Ce champ est obligatoire."  # required by the schema's if/then
    assert general == []
    html = render(app, schema, {"patient_joint": "oui", "douleur_nrs": "11"}, per_field)
    assert field_errors(html)["douleur_nrs"] == "La valeur doit être comprise entre 0 et 10."
    assert read_form(html)["douleur_nrs"] == "11"

"""Every shipped message template renders in French and English and says nothing about the patient's health."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from engine.notify.settings import DEFAULT_TEMPLATES_DIR
from engine.notify.templates import LANGUAGES, format_date, format_time, render_message, template_keys
from tests.conftest import PARIS, REPO

UNDATED = {"bienvenue", "relance_questionnaire"}  # a welcome, a nudge: no appointment to name
SHIPPED_BPMN = sorted((REPO / "workflows" / "bpmn").glob("*.bpmn"))
PATIENT_INS = "2 84 05 75 123 456 78"  # a realistic NIR-shaped INS
PATIENT_IDENTIFIER = "IPP-0042317"
# Pathway titles and keys, diagnoses, procedures, specialties and clinician roles (healthcare.md §4).
FORBIDDEN = {
    "diabète", "diabete", "diabétique", "insuffisance", "cardiaque", "cardiologie", "cardiologue", "cœur", "coeur",
    "épaule", "epaule", "chirurgie", "chirurgical", "chirurgien", "opération", "intervention", "raac", "rrac",
    "kinésithérapeute", "kinesitherapeute", "kiné", "rééducation", "anesthésie", "anesthésiste", "podologue",
    "podologie", "ophtalmologue", "ophtalmologie", "rétine", "hba1c", "glycémie", "insuline", "dialyse", "rein",
    "poids", "douleur", "pied", "pieds", "diététicien", "dieteticien", "pharmacien", "infirmier", "infirmière",
    "médecin", "docteur", "dr", "diabetes", "heart", "failure", "shoulder", "surgery", "surgeon", "cardiologist",
    "physiotherapist", "physiotherapy", "pain", "weight", "diagnosis", "diagnostic", "pathologie", "parcours",
    "suivi_diabete", "diabete_t2", "insuffisance_cardiaque", "rrac_epaule", "ins", "nir",
}


def _shipped_templates_used() -> set[str]:
    keys = set()
    for path in SHIPPED_BPMN:
        for prop in etree.parse(str(path)).iter("{*}property"):  # noqa: S320 - our own shipped files
            if prop.get("name") == "template":
                keys.add(prop.get("value"))
    return keys


def _titles() -> set[str]:
    titles = set()
    for path in SHIPPED_BPMN:
        for process in etree.parse(str(path)).iter("{*}process"):  # noqa: S320 - our own shipped files
            titles.add(process.get("name", "").lower())
            titles.add(process.get("id", "").lower())
    return titles


def _params(language: str) -> dict[str, object]:
    appointment = datetime(2026, 11, 24, 14, 30, tzinfo=PARIS)
    return {"date": format_date(appointment, PARIS, language), "time": format_time(appointment, PARIS, language),
            "place": "MSP des Tilleuls, 3 rue des Lilas", "cancel_contact": "le 01 23 45 67 89",
            "link": "https://rdv.example.org/p/Zq3xK9", "link_expires": format_date(appointment, PARIS, language)}


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[\w']+", text)} | {
        unicodedata.normalize("NFKD", w.lower()).encode("ascii", "ignore").decode() for w in re.findall(r"\w+", text)}


def test_every_template_a_shipped_pathway_uses_exists_in_french_and_english() -> None:
    used = _shipped_templates_used()
    assert used == {"rappel_rdv_j7", "rappel_rdv_j1", "rappel_rdv_a_prendre"}
    for language in LANGUAGES:
        assert used <= set(template_keys(DEFAULT_TEMPLATES_DIR, language)), language


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", template_keys(DEFAULT_TEMPLATES_DIR))
def test_template_carries_date_place_and_opt_out_but_no_health_word_when_rendered(key: str, language: str) -> None:
    message = render_message(DEFAULT_TEMPLATES_DIR, key, language, _params(language))
    text = f"{message.subject}\n{message.body}"
    words = _words(text)
    # professionals are told which application to open ("Parcours"); a patient's message never names it
    leaked = sorted(words & (FORBIDDEN - {"parcours"} if key.startswith("pro_") else FORBIDDEN))
    assert not leaked, f"{language}/{key}.txt says {leaked}: {text}"
    for title in _titles():
        assert title not in text.lower(), f"{language}/{key}.txt names the pathway {title!r}"
    assert PATIENT_INS not in text and PATIENT_INS.replace(" ", "") not in text and PATIENT_IDENTIFIER not in text
    assert len(message.body) <= 480, text  # at most three SMS segments
    if key not in UNDATED:
        assert "24" in text and "2026" in text, f"{key}: the date"
    if not key.startswith("pro_"):
        assert "01 23 45 67 89" in text and "STOP" in text, f"{key}: how to cancel and to opt out"
        assert "MSP des Tilleuls" in text or "questionnaire" in text


def test_template_rendering_is_sandboxed_and_fails_readably(tmp_path: Path) -> None:
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "piege.txt").write_text("{% block body %}{{ date.__class__.__mro__ }}{% endblock %}")
    from engine.errors import InvalidInput

    with pytest.raises(InvalidInput, match="piege"):
        render_message(tmp_path, "piege", "fr", {"date": "x"})
    with pytest.raises(InvalidInput, match="no message template 'absent'"):
        render_message(tmp_path, "absent", "en", {})

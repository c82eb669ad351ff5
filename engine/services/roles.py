"""The role catalogue: lane names in pathways are these role codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.db import db
from engine.models import Role

# code, French label, English label, SNOMED CT code where one exists (see domain/healthcare.md §1)
ROLE_CATALOGUE: tuple[tuple[str, str, str, str | None], ...] = (
    ("medecin_traitant", "Médecin traitant", "General practitioner", "158965000"),
    ("chirurgien", "Chirurgien", "Surgeon", "22731001"),
    ("anesthesiste", "Médecin anesthésiste-réanimateur", "Anaesthetist", "88189002"),
    ("infirmier", "Infirmier·ère", "Nurse", "224535009"),
    ("kinesitherapeute", "Masseur-kinésithérapeute", "Physiotherapist", "36682004"),
    ("pharmacien", "Pharmacien·ne", "Pharmacist", "46255001"),
    ("dieteticien", "Diététicien·ne", "Dietitian", "40127002"),
    ("podologue", "Pédicure-podologue", "Podiatrist", "159034009"),
    ("cardiologue", "Cardiologue", "Cardiologist", "17561000"),
    ("ophtalmologue", "Ophtalmologue", "Ophthalmologist", "422234006"),
    ("coordinateur", "Coordinateur·rice de parcours", "Care coordinator", "768820003"),
    ("patient", "Patient·e", "Patient", "116154003"),
)

ROLE_CODES: frozenset[str] = frozenset(code for code, *_ in ROLE_CATALOGUE)


def ensure_role_catalogue() -> int:
    """Insert missing roles and refresh labels. Returns how many roles were added (flushes)."""
    existing = {r.code: r for r in db.session.scalars(select(Role))}
    added = 0
    for code, label_fr, label_en, snomed in ROLE_CATALOGUE:
        role = existing.get(code)
        if role is None:
            db.session.add(Role(code=code, label_fr=label_fr, label_en=label_en, snomed_code=snomed))
            added += 1
        else:
            role.label_fr, role.label_en, role.snomed_code = label_fr, label_en, snomed
    db.session.flush()
    return added


def known_role_codes() -> set[str]:
    """Role codes of the catalogue in the database; the shipped catalogue before `parcours init` (so that
    `parcours validate` works on a machine with no database yet)."""
    try:
        with db.session.begin_nested():  # a missing table must not abort the caller's transaction
            codes = set(db.session.scalars(select(Role.code)))
    except (OperationalError, ProgrammingError):
        return set(ROLE_CODES)
    return codes or set(ROLE_CODES)

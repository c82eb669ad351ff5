"""Professionals, patients and care teams: creation and lookup."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.models import CareTeamMember, Patient, Professional, ProfessionalRole
from engine.services.roles import known_role_codes
from engine.types import Actor


def create_professional(login: str, full_name: str, roles: list[str], *, at: datetime, email: str | None = None,
                        phone: str | None = None, site: str | None = None, password: str | None = None
                        ) -> Professional:
    unknown = set(roles) - known_role_codes()
    if unknown:
        raise InvalidInput(f"unknown role(s): {', '.join(sorted(unknown))}")
    if db.session.scalar(select(Professional).where(Professional.login == login)) is not None:
        raise InvalidInput(f"login '{login}' is already taken")
    pro = Professional(login=login, full_name=full_name, email=email, phone=phone, site=site, created_at=at,
                       password_hash=generate_password_hash(password) if password else None)
    pro.roles = [ProfessionalRole(role_code=r) for r in roles]
    db.session.add(pro)
    db.session.flush()
    return pro


def professional_by_login(login: str) -> Professional:
    pro = db.session.scalar(select(Professional).where(Professional.login == login))
    if pro is None or not pro.active:
        raise NotFound(f"no active professional with login '{login}'")
    return pro


def actor_for(pro: Professional) -> Actor:
    return Actor("professional", pro.login, pro.id, frozenset(pro.role_codes), pro.site)


def create_patient(identifier: str, family_name: str, given_name: str, *, at: datetime,
                   birth_date: date | None = None, phone: str | None = None, email: str | None = None,
                   preferred_channel: str = "sms", site: str | None = None) -> Patient:
    if db.session.scalar(select(Patient).where(Patient.identifier == identifier)) is not None:
        raise InvalidInput(f"patient identifier '{identifier}' already exists")
    if preferred_channel not in ("sms", "email"):
        raise InvalidInput("preferred channel must be 'sms' or 'email'")
    patient = Patient(identifier=identifier, family_name=family_name, given_name=given_name, birth_date=birth_date,
                      phone=phone, email=email, preferred_channel=preferred_channel, site=site, created_at=at)
    db.session.add(patient)
    db.session.flush()
    return patient


def find_patient(ref: str | int) -> Patient:
    """A patient by database id or by local identifier (IPP)."""
    patient = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        patient = db.session.get(Patient, int(ref))
    if patient is None:
        patient = db.session.scalar(select(Patient).where(Patient.identifier == str(ref)))
    if patient is None:
        raise NotFound(f"no patient '{ref}'")
    return patient


def patient_zone(patient_id: int) -> ZoneInfo:
    """The patient's timezone (Europe/Paris unless the record says otherwise): their calendar for due dates."""
    patient = db.session.get(Patient, patient_id)
    return _zone_named(patient.timezone if patient is not None else None)


def _zone_named(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def add_care_team_member(patient: Patient, professional: Professional, role_code: str, *, start: datetime,
                         end: datetime | None = None) -> CareTeamMember:
    if role_code not in professional.role_codes:
        raise InvalidInput(f"{professional.login} does not hold the role '{role_code}'")
    member = CareTeamMember(patient_id=patient.id, professional_id=professional.id, role_code=role_code,
                            period_start=start, period_end=end)
    db.session.add(member)
    db.session.flush()
    return member


def care_team_assignee(patient_id: int, role_code: str, at: datetime) -> int | None:
    """The professional who holds ``role_code`` in the patient's care team now (earliest member), if any."""
    members = db.session.scalars(
        select(CareTeamMember)
        .where(CareTeamMember.patient_id == patient_id, CareTeamMember.role_code == role_code)
        .order_by(CareTeamMember.period_start, CareTeamMember.id)
    )
    for member in members:
        if member.is_active(at):
            return member.professional_id
    return None


def is_in_care_team(patient_id: int, professional_id: int, at: datetime, role_code: str | None = None) -> bool:
    query = select(CareTeamMember).where(CareTeamMember.patient_id == patient_id,
                                         CareTeamMember.professional_id == professional_id)
    if role_code is not None:
        query = query.where(CareTeamMember.role_code == role_code)
    return any(m.is_active(at) for m in db.session.scalars(query))


class CareTeamNow:
    """A patient's care team at one moment, read once per step: who may act, who gets a new work item, and
    the patient's timezone (the calendar of the new items' due dates).

    One query instead of one per check (access, role, each new work item's assignee, each reminder) and one
    for the patient's timezone: the patient row outer-joined to their memberships, read on first use.
    """

    def __init__(self, patient_id: int, at: datetime) -> None:
        self.patient_id = patient_id
        self.at = at
        self._members: list[tuple[str, int]] | None = None
        self._zone: ZoneInfo | None = None

    def _read(self) -> None:
        rows = db.session.execute(
            select(Patient.timezone, CareTeamMember.role_code, CareTeamMember.professional_id,
                   CareTeamMember.period_start, CareTeamMember.period_end)
            .select_from(Patient).outerjoin(CareTeamMember, CareTeamMember.patient_id == Patient.id)
            .where(Patient.id == self.patient_id)
            .order_by(CareTeamMember.period_start, CareTeamMember.id)).all()
        self._zone = _zone_named(rows[0][0] if rows else None)
        self._members = [(role, pro) for _tz, role, pro, start, end in rows
                         if role is not None and start <= self.at and (end is None or self.at < end)]

    @property
    def members(self) -> list[tuple[str, int]]:
        """(role code, professional id) of the members active now, earliest first (read on first use)."""
        if self._members is None:
            self._read()
        assert self._members is not None
        return self._members

    @property
    def zone(self) -> ZoneInfo:
        """The patient's timezone (Europe/Paris unless the record says otherwise), read with the members."""
        if self._zone is None:
            self._read()
        assert self._zone is not None
        return self._zone

    def includes(self, professional_id: int, role_code: str | None = None) -> bool:
        return any(pro == professional_id and (role_code is None or role == role_code)
                   for role, pro in self.members)

    def assignee(self, role_code: str) -> int | None:
        """The professional holding ``role_code`` now (earliest member), as ``care_team_assignee``."""
        return next((pro for role, pro in self.members if role == role_code), None)

"""CLI: demo data — the shipped pathways, one professional per role, patients at different points of their pathway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.models import Patient, Professional, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services.fast_forward import Answers, play_until
from engine.services.instances import enrol_patient
from engine.services.pathways import deploy_pathway, read_pathway_source
from engine.services.people import actor_for, add_care_team_member, create_patient, create_professional
from engine.services.roles import ROLE_CATALOGUE
from engine.services.timers import fire_due_timers
from engine.types import Actor
from webapp.cli.pathways import init_database
from webapp.cli.support import clock, database_command

PARIS = ZoneInfo("Europe/Paris")
DEMO_PASSWORD = "demo"  # noqa: S105 - printed demo login, documented in the README
SITE = "MSP des Tilleuls"
DEMO = Actor.cli("demo")


@dataclass(frozen=True)
class DemoPatient:
    """A patient enrolled ``enrolled_days_ago``, replayed to today; what opened in the last ``open_since_days``
    days, and the steps in ``leave_open``, are left open (today's inbox)."""

    identifier: str
    family: str
    given: str
    pathway: str
    anchor: str
    anchor_day: int  # relative to today
    enrolled_days_ago: int
    open_since_days: float
    answers: dict[str, Any] = field(default_factory=dict)
    leave_open: frozenset[str] = frozenset()
    story: str = ""


PATIENTS = [
    DemoPatient("DEMO-001", "Martin", "Jeanne", "rrac_epaule", "date_chirurgie", -1, 21, 0.6,
                story="opérée hier : appel infirmier de J+1 à 10 h"),
    DemoPatient("DEMO-002", "Bernard", "Louis", "rrac_epaule", "date_chirurgie", 12, 2, 3,
                story="opéré dans 12 jours : consultations préopératoires à faire"),
    DemoPatient("DEMO-003", "Petit", "Claire", "rrac_epaule", "date_chirurgie", -38, 60, 2,
                answers={"Task_AppelJ1": {"patient_joint": "oui", "douleur_nrs": 5}},
                story="J+38 : rééducation en cours, consultation des 6 semaines dans 4 jours"),
    DemoPatient("DEMO-004", "Durand", "Michel", "diabete_t2", "date_inclusion", -70, 70, 20,
                story="diabète suivi depuis 70 jours : visite trimestrielle à faire"),
    DemoPatient("DEMO-005", "Leroy", "Simone", "insuffisance_cardiaque", "date_sortie", -4, 4, 1,
                leave_open=frozenset({"Task_ConsultationMT"}),
                story="sortie d'hospitalisation il y a 4 jours : consultation du médecin traitant ≤ J+7"),
    DemoPatient("DEMO-006", "Moreau", "André", "insuffisance_cardiaque", "date_sortie", 0, 0, 1,
                story="sort aujourd'hui"),
]


def demo_professionals(now: datetime) -> dict[str, Professional]:
    """One professional per role (login = role code, password `demo`), created unless there (commits)."""
    pros: dict[str, Professional] = {}
    for code, label_fr, _label_en, _snomed in ROLE_CATALOGUE:
        if code == "patient":
            continue
        pro = db.session.scalar(select(Professional).where(Professional.login == code))
        if pro is None:
            pro = create_professional(code, f"{label_fr} (démo)", [code], at=now, site=SITE,
                                      email=f"{code}@demo.invalid", password=DEMO_PASSWORD)
        pros[code] = pro
    db.session.commit()
    return pros


def _actor_for_item(item: WorkItem) -> Actor:
    if item.assignee_id is None:
        return DEMO
    pro = db.session.get(Professional, item.assignee_id)
    return actor_for(pro) if pro is not None else DEMO


def enrol_and_replay(spec: DemoPatient, pros: dict[str, Professional], now: datetime) -> int:
    """Create the patient with every professional in the care team, enrol them as of ``enrolled_days_ago``
    and play the pathway forward to ``now`` (commits); returns the instance id. The browser tests use it too."""
    today = now.astimezone(PARIS).date()
    enrolled = datetime.combine(today - timedelta(days=spec.enrolled_days_ago), time(9, 0), PARIS)
    replay = ManualClock(min(enrolled, now))
    patient = create_patient(spec.identifier, spec.family, spec.given, at=replay.now(), phone="+33600000000",
                             site=SITE)
    for code, pro in pros.items():
        add_care_team_member(patient, pro, code, start=replay.now())
    context = {spec.anchor: (today + timedelta(days=spec.anchor_day)).isoformat()}
    outcome = enrol_patient(patient.id, spec.pathway, context=context, actor=DEMO, clock=replay)
    db.session.commit()
    cutoff = now - timedelta(days=spec.open_since_days)

    def keep_open(item: WorkItem) -> bool:
        return item.created_at >= cutoff or item.element_id in spec.leave_open

    play_until(outcome.instance_id, now, clock=replay, answers=Answers(spec.answers), actor=Actor.system("timer"),
               keep_open=keep_open, actor_for_item=_actor_for_item)
    return outcome.instance_id


@click.command("demo")
@database_command
def demo_command() -> None:
    """Create the database, deploy the shipped pathways, demo professionals and patients; print the logins."""
    load_demo()


def load_demo() -> None:
    """What `parcours demo` does (idempotent: existing demo patients are kept); `parcours run` starts with it."""
    init_database()
    the_clock = clock()
    now = the_clock.now()
    bpmn_dir = Path(current_app.config["PARCOURS_WORKFLOWS_DIR"]) / "bpmn"
    for path in sorted(bpmn_dir.glob("*.bpmn")):
        result = deploy_pathway(read_pathway_source(path), actor=DEMO, clock=the_clock)
        click.echo(f"pathway {result.version.key} v{result.version.version}"
                   f"{'' if result.created else ' (already deployed)'}")
    db.session.commit()
    pros = demo_professionals(now)
    for spec in PATIENTS:
        if db.session.scalar(select(Patient).where(Patient.identifier == spec.identifier)) is not None:
            continue
        instance_id = enrol_and_replay(spec, pros, now)
        click.echo(f"patient {spec.identifier} {spec.given} {spec.family} — {spec.pathway}, {spec.story} "
                   f"(instance {instance_id})")
    report = fire_due_timers(clock=the_clock)
    if report.fired:
        click.echo(f"{report.fired} timer(s) due now fired")
    _print_logins(pros)
    click.echo(f"\nDatabase: {db.engine.url.render_as_string(hide_password=True)}")


def _print_logins(pros: dict[str, Professional]) -> None:
    open_counts = dict(db.session.execute(
        select(WorkItem.assignee_id, func.count()).where(WorkItem.status.in_(OPEN_STATUSES))
        .group_by(WorkItem.assignee_id)).all())
    click.echo(f"\nDemo logins (password: {DEMO_PASSWORD}) — one professional per role, open work items:")
    for code, pro in pros.items():
        click.echo(f"  {code:<18} {open_counts.get(pro.id, 0):>3}")
    first = db.session.scalar(select(WorkItem).where(WorkItem.status.in_(OPEN_STATUSES),
                                                     WorkItem.assignee_id.is_not(None)).order_by(WorkItem.id))
    if first is not None:
        login = next(code for code, pro in pros.items() if pro.id == first.assignee_id)
        click.echo(f"\nTry:  .venv/bin/parcours inbox --user {login}")
        click.echo(f"      .venv/bin/parcours claim {first.id} --user {login}")


COMMANDS = [demo_command]

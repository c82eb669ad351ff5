"""CLI: demo data — the shipped pathways, one professional per role, patients enrolled at different points."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import select

from engine.db import db
from engine.models import Patient, Professional
from engine.services.instances import enrol_patient
from engine.services.pathways import deploy_pathway, read_pathway_source
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.services.roles import ROLE_CATALOGUE
from engine.services.timers import fire_due_timers
from engine.types import Actor
from webapp.cli.pathways import init_database
from webapp.cli.support import clock

PARIS = ZoneInfo("Europe/Paris")
DEMO_PASSWORD = "demo"  # noqa: S105 - printed demo login, documented in the README
SITE = "MSP des Tilleuls"
PATIENTS = [  # identifier, family, given, pathway, anchor, days from today
    ("DEMO-001", "Martin", "Jeanne", "rrac_epaule", "date_chirurgie", 10),
    ("DEMO-002", "Bernard", "Louis", "rrac_epaule", "date_chirurgie", 30),
    ("DEMO-003", "Petit", "Claire", "diabete_t2", "date_inclusion", 0),
    ("DEMO-004", "Durand", "Michel", "insuffisance_cardiaque", "date_sortie", 0),
]


@click.command("demo")
def demo_command() -> None:
    """Create the database, deploy the shipped pathways, demo professionals and patients; print the logins."""
    init_database()
    the_clock = clock()
    now = the_clock.now()
    bpmn_dir = Path(current_app.config["PARCOURS_WORKFLOWS_DIR"]) / "bpmn"
    for path in sorted(bpmn_dir.glob("*.bpmn")):
        result = deploy_pathway(read_pathway_source(path), actor=Actor.cli("demo"), clock=the_clock)
        click.echo(f"pathway {result.version.key} v{result.version.version}"
                   f"{'' if result.created else ' (already deployed)'}")
    db.session.commit()
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
    today = now.astimezone(PARIS).date()
    for identifier, family, given, key, anchor, offset in PATIENTS:
        if db.session.scalar(select(Patient).where(Patient.identifier == identifier)) is not None:
            continue
        patient = create_patient(identifier, family, given, at=now, phone="+33600000000", site=SITE)
        for code, pro in pros.items():
            add_care_team_member(patient, pro, code, start=now)
        context = {anchor: (today + timedelta(days=offset)).isoformat()}
        outcome = enrol_patient(patient.id, key, context=context, actor=Actor.cli("demo"), clock=the_clock)
        db.session.commit()
        click.echo(f"patient {identifier} {given} {family}: {key} {context} -> instance {outcome.instance_id}")
    report = fire_due_timers(clock=the_clock)
    click.echo(f"{report.fired} timer(s) already due fired")
    click.echo("\nDemo logins (password: demo) — one professional per role:")
    for code in pros:
        click.echo(f"  {code}")
    click.echo("\nTry:  .venv/bin/parcours inbox --user chirurgien")
    click.echo(f"Database: {db.engine.url.render_as_string(hide_password=True)}")


COMMANDS = [demo_command]

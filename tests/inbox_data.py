"""A known inbox for the listing tests: a nurse's items around Monday 16 Nov 2026 08:00 (Europe/Paris).

At the tests' START (Monday 08:00 Paris), the nurse ``infirmier`` sees 8 open items of patient P-001:

| item | due (Paris) | priority | whose | pathway | windows |
|---|---|---|---|---|---|
| bilan (engine) | Mon 16:00 | routine | mine | nurse_then_gp | today, week |
| hier | Sun 15 10:00 | routine | mine | nurse_then_gp | overdue |
| ce_matin | Mon 07:00 | urgent | queue | nurse_then_gp | overdue, today, week |
| ce_soir | Mon 18:00 | stat | mine | nurse_then_gp | today, week |
| minuit | Tue 17 00:00 | urgent | queue | rappels_taches | week |
| dimanche | Sun 22 23:30 | routine | mine | rappels_taches | week |
| lundi_prochain | Mon 23 00:00 | asap | mine | rappels_taches | (all only) |
| sans_echeance | none | asap | queue | rappels_taches | (all only) |

and must never see: another patient's nurse queue (P-002, not in her team), the GP's queue of P-001,
an item another nurse claimed, a completed item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import count
from zoneinfo import ZoneInfo

from engine.clock import Clock
from engine.db import db
from engine.models import PathwayInstance, Patient, Professional, WorkItem
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_professional
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team

PARIS = ZoneInfo("Europe/Paris")
_TASK_IDS = count(1)


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS)


def add_item(instance: PathwayInstance, title: str, *, role: str, due: datetime | None, clock: Clock,
             priority: str = "routine", assignee: Professional | None = None, status: str = "open") -> WorkItem:
    """A work item row on an enrolled instance (what the engine's projection writes)."""
    item = WorkItem(instance_id=instance.id, patient_id=instance.patient_id, spiff_task_id=f"t-{next(_TASK_IDS)}",
                    element_id=title, title=title, role_code=role, priority=priority, due_at=due,
                    assignee_id=assignee.id if assignee else None, status=status, created_at=clock.now())
    db.session.add(item)
    db.session.flush()
    return item


def _instance(patient: Patient, key: str, clock: Clock) -> PathwayInstance:
    enrol_patient(patient.identifier, key, actor=Actor.cli(), clock=clock)
    db.session.flush()
    return db.session.query(PathwayInstance).filter_by(patient_id=patient.id).order_by(
        PathwayInstance.id.desc()).first()


@dataclass
class KnownInbox:
    patient: Patient
    nurse: Professional
    gp: Professional
    other_nurse: Professional
    items: dict[str, WorkItem]
    hidden: dict[str, WorkItem]


def build_known_inbox(clock: Clock) -> KnownInbox:
    """The data set in the module docstring (committed)."""
    deploy_test_bpmn("nurse_then_gp", clock)
    deploy_test_bpmn("rappels_taches", clock)
    patient, team = make_team(clock, ["infirmier", "medecin_traitant"])
    nurse, gp = team["infirmier"], team["medecin_traitant"]
    first = _instance(patient, "nurse_then_gp", clock)
    second = _instance(patient, "rappels_taches", clock)
    other_nurse = create_professional("ide-b", "IDE Bernard", ["infirmier"], at=clock.now(), site="MSP Test",
                                      password="demo")
    add_care_team_member(patient, other_nurse, "infirmier", start=clock.now())
    # the engine's own items on the second pathway would blur the table: keep only ours
    for item in db.session.query(WorkItem).filter_by(instance_id=second.id):
        item.status = "cancelled"
    bilan = db.session.query(WorkItem).filter_by(instance_id=first.id, element_id="bilan_infirmier").one()
    items = {"bilan": bilan}
    for name, instance, due, priority, mine in [
        ("hier", first, paris(15, 10), "routine", True),
        ("ce_matin", first, paris(16, 7), "urgent", False),
        ("ce_soir", first, paris(16, 18), "stat", True),
        ("minuit", second, paris(17, 0), "urgent", False),
        ("dimanche", second, paris(22, 23, 30), "routine", True),
        ("lundi_prochain", second, paris(23, 0), "asap", True),
        ("sans_echeance", second, None, "asap", False),
    ]:
        items[name] = add_item(instance, name, role="infirmier", due=due, priority=priority, clock=clock,
                               assignee=nurse if mine else None)
    outsider, _team = make_team(clock, ["medecin_traitant"], identifier="P-002")
    outsider_instance = _instance(outsider, "nurse_then_gp", clock)
    hidden = {
        "other_patient_queue": add_item(outsider_instance, "autre_patient", role="infirmier", due=paris(16, 9),
                                        clock=clock),
        "gp_queue": add_item(first, "file_mt", role="medecin_traitant", due=paris(16, 9), clock=clock),
        "claimed_by_colleague": add_item(first, "pris_par_collegue", role="infirmier", due=paris(16, 9),
                                         clock=clock, assignee=other_nurse, status="claimed"),
        "completed": add_item(first, "terminee", role="infirmier", due=paris(16, 9), clock=clock, assignee=nurse,
                              status="completed"),
    }
    db.session.commit()
    return KnownInbox(patient, nurse, gp, other_nurse, items, hidden)

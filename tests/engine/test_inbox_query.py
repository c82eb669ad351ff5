"""The inbox query: which open items a professional sees, in which order, with each filter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.clock import ManualClock
from engine.db import db
from engine.models import PathwayInstance, Patient, Professional, WorkItem
from engine.services.inbox import InboxFilter, list_inbox
from engine.services.people import add_care_team_member, create_patient, create_professional
from tests.factories import actor, deploy_test_bpmn


def _instance(patient: Patient, version_id: int, at: datetime) -> PathwayInstance:
    instance = PathwayInstance(patient_id=patient.id, version_id=version_id, status="active", context={},
                               state="{}", state_bytes=2, started_at=at, updated_at=at)
    db.session.add(instance)
    db.session.flush()
    return instance


class World:
    """One nurse's view: her patient A (two pathways), patient B (not in her team), C (team left)."""

    def __init__(self, clock: ManualClock) -> None:
        now = clock.now()
        v1, v2 = deploy_test_bpmn("nurse_then_gp", clock), deploy_test_bpmn("appel_douleur", clock)
        self.nurse = create_professional("ide", "IDE Bench", ["infirmier"], at=now)
        colleague = create_professional("ide-2", "IDE Collègue", ["infirmier"], at=now)
        a, b, c = (create_patient(f"P-{n}", "Martin", n, at=now) for n in "ABC")
        add_care_team_member(a, self.nurse, "infirmier", start=now - timedelta(days=10))
        add_care_team_member(c, self.nurse, "infirmier", start=now - timedelta(days=10), end=now - timedelta(days=1))
        add_care_team_member(b, colleague, "infirmier", start=now - timedelta(days=10))
        a1, a2, b1, c1 = (_instance(p, v, now) for p, v in ((a, v1), (a, v2), (b, v1), (c, v1)))
        self.patient_b = b
        self.n = 0

        def item(instance: PathwayInstance, role: str, status: str = "open", assignee: Professional | None = None,
                 due: timedelta | None = timedelta(days=1)) -> int:
            self.n += 1
            wi = WorkItem(instance_id=instance.id, patient_id=instance.patient_id, spiff_task_id=f"t-{self.n}",
                          element_id="Task", title=f"item {self.n}", role_code=role, status=status,
                          assignee_id=assignee.id if assignee else None, created_at=now,
                          due_at=None if due is None else now + due)
            db.session.add(wi)
            db.session.flush()
            return wi.id

        self.queue_later = item(a1, "infirmier", due=timedelta(days=2))
        self.queue_overdue = item(a2, "infirmier", due=timedelta(days=-1))
        item(a1, "infirmier", "claimed", colleague)  # a colleague took it
        item(a1, "medecin_traitant")  # another role's queue
        self.mine_elsewhere = item(b1, "chirurgien", "claimed", self.nurse, due=None)  # assigned to her
        item(a1, "infirmier", "completed")
        item(c1, "infirmier")  # she left C's care team
        self.queue_most_overdue = item(a2, "infirmier", due=timedelta(days=-3))
        self.mine_open = item(b1, "infirmier", "open", self.nurse, due=timedelta(days=5))
        db.session.commit()

    def inbox(self, clock: ManualClock, **flt: object) -> list[int]:
        return [wi.id for wi in list_inbox(actor(self.nurse), clock=clock, flt=InboxFilter(**flt))]  # type: ignore[arg-type]


@pytest.fixture
def world(app, clock) -> World:  # noqa: ANN001
    return World(clock)


def test_inbox_lists_my_items_and_my_role_queue_soonest_due_first_when_unfiltered(world: World, clock) -> None:
    assert world.inbox(clock) == [world.queue_most_overdue, world.queue_overdue, world.queue_later,
                                  world.mine_open, world.mine_elsewhere]


def test_inbox_keeps_only_late_items_when_filtered_on_overdue(world: World, clock) -> None:
    assert world.inbox(clock, overdue=True) == [world.queue_most_overdue, world.queue_overdue]


def test_inbox_keeps_one_pathway_items_when_filtered_on_a_pathway(world: World, clock) -> None:
    assert world.inbox(clock, pathway_key="appel_douleur") == [world.queue_most_overdue, world.queue_overdue]
    assert world.inbox(clock, pathway_key="nurse_then_gp") == [world.queue_later, world.mine_open,
                                                                world.mine_elsewhere]


def test_inbox_keeps_one_patient_items_when_filtered_on_a_patient(world: World, clock) -> None:
    assert world.inbox(clock, patient_id=world.patient_b.id) == [world.mine_open, world.mine_elsewhere]


def test_inbox_stops_at_the_limit_when_given_one(world: World, clock) -> None:
    assert world.inbox(clock, limit=2) == [world.queue_most_overdue, world.queue_overdue]

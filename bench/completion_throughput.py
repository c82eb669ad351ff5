"""Work-item completions per second through the service layer with several worker processes.

Used by ``bench/engine_overhead.py``: patients are enrolled on a pathway (its first work items open at
once), then W worker processes, each with its own connection and its own share of the patients, complete
every open work item of their patients, one transaction per completion, as fast as they can. Throughput
= completions ÷ wall-clock time from the first worker's start to the last worker's end.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bench.common import START, make_patient
from engine.clock import ManualClock
from engine.db import db
from engine.models import Professional, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services.forms import form_defaults
from engine.services.inbox import complete_work_item
from engine.services.instances import enrol_patient
from engine.services.people import actor_for
from engine.types import Actor


@dataclass(frozen=True)
class Throughput:
    workers: int
    completions: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.completions / self.seconds if self.seconds else 0.0


def enrol_many(key: str, patients: int, team: list[str], clock: ManualClock, context: dict[str, Any]) -> list[int]:
    """Enrol ``patients`` new patients on the deployed pathway ``key`` (in the current app context)."""
    ids = []
    for n in range(patients):
        patient = make_patient(f"T-{n:05d}", team, clock)
        ids.append(enrol_patient(patient.id, key, context=context, actor=Actor.cli("bench"), clock=clock).instance_id)
        db.session.commit()
    return ids


def _worker(job: tuple[str, list[int], float, dict[str, Any]]) -> tuple[int, float, float]:
    url, instance_ids, start_at, forms = job
    from webapp import create_app

    clock = ManualClock(START)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PARCOURS_CLOCK": clock})
    done = 0
    with app.app_context():
        actors = {next(iter(p.role_codes)): actor_for(p) for p in db.session.scalars(select(Professional))}
        db.session.commit()
        time.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        while True:
            items = db.session.execute(select(WorkItem.id, WorkItem.role_code, WorkItem.form_key)
                                       .where(WorkItem.instance_id.in_(instance_ids),
                                              WorkItem.status.in_(OPEN_STATUSES)).order_by(WorkItem.id)).all()
            db.session.commit()
            if not items:
                break
            for item_id, role, form_key in items:
                complete_work_item(item_id, form_defaults(forms.get(form_key or "")),
                                   actor=actors.get(role, Actor.cli("bench")), clock=clock)
                db.session.commit()
                done += 1
        ended = time.time()
        db.session.remove()
        db.engine.dispose()
    return done, started, ended


def measure(url: str, instance_ids: list[int], workers: int, forms: dict[str, Any]) -> Throughput:
    """Complete every open work item of ``instance_ids`` with ``workers`` processes (each its own share)."""
    shares = [instance_ids[i::workers] for i in range(workers)]
    start_at = time.time() + 3.0  # every worker connected and warm before the clock starts
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_worker, [(url, share, start_at, forms) for share in shares])
    completions = sum(r[0] for r in results)
    seconds = max(r[2] for r in results) - min(r[1] for r in results)
    return Throughput(workers, completions, seconds)

"""Stored bytes per completed shoulder-RRAC instance, history included (target ≤ 20 KB).

Runs rrac_epaule to completion through the service layer on PostgreSQL (the production database), with
the form defaults plus a J+1 pain of 5 (one nurse callback), then sums PostgreSQL's own size of every row
the instance left behind: the instance (engine state), its work items with their data and comments, timers,
reminders and audit events. Index space is excluded (it depends on the table sizes, not on one instance).

    .venv/bin/python bench/storage_per_instance.py [--database-url postgresql://postgres@127.0.0.1:5432/x]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import func, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.clock import ManualClock  # noqa: E402
from engine.db import db  # noqa: E402
from engine.models import PathwayInstance, WorkItem  # noqa: E402
from engine.services.fast_forward import Answers, play_until  # noqa: E402
from engine.services.instances import enrol_patient  # noqa: E402
from engine.services.pathways import deploy_pathway, read_pathway_source  # noqa: E402
from engine.services.people import add_care_team_member, create_patient, create_professional  # noqa: E402
from engine.services.roles import ROLE_CODES  # noqa: E402
from engine.types import Actor  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
TARGET_BYTES = 20 * 1024
TABLES = {  # table -> how its rows belong to the instance
    "pathway_instance": "id = :i",
    "work_item": "instance_id = :i",
    "work_item_comment": "work_item_id IN (SELECT id FROM work_item WHERE instance_id = :i)",
    "due_timer": "instance_id = :i",
    "reminder": "instance_id = :i",
    "audit_event": "instance_id = :i",
}


def _fresh_database(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a fresh parcours_bench_storage)")
    args = parser.parse_args()
    url = args.database_url or _fresh_database("parcours_bench_storage")
    from webapp import create_app
    from webapp.cli.pathways import init_database

    start = datetime(2026, 11, 2, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PARCOURS_CLOCK": ManualClock(start)})
    with app.app_context():
        init_database()
        source = read_pathway_source(REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn")
        clock = ManualClock(start)
        actor = Actor.system("bench")
        version = deploy_pathway(source, actor=actor, clock=clock).version
        patient = create_patient("BENCH-0001", "Banc", "Patient", at=start, phone="+33600000000")
        for role in sorted(ROLE_CODES - {"patient"}):
            pro = create_professional(f"bench-{role}", f"Bench {role}", [role], at=start)
            add_care_team_member(patient, pro, role, start=start)
        instance_id = enrol_patient(patient.id, version.key, context={"date_chirurgie": "2026-11-20"}, actor=actor,
                                    clock=clock).instance_id
        db.session.commit()
        play_until(instance_id, start + timedelta(days=200), clock=clock, actor=actor,
                   answers=Answers({"Task_AppelJ1": {"patient_joint": "oui", "douleur_nrs": 5}}))
        instance = db.session.get(PathwayInstance, instance_id)
        completed = db.session.scalar(select(func.count(WorkItem.id)).where(
            WorkItem.instance_id == instance_id, WorkItem.status == "completed"))
        rows = []
        for table, where in TABLES.items():
            count, size = db.session.execute(text(
                f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE {where}"),  # noqa: S608
                {"i": instance_id}).one()
            rows.append((table, int(count), int(size)))
    total = sum(size for _, _, size in rows)
    print(f"rrac_epaule instance {instance_id}: status {instance.status}, {completed} work items completed")
    print(f"{'table':<20} {'rows':>6} {'bytes':>8}")
    for table, count, size in rows:
        print(f"{table:<20} {count:>6} {size:>8}")
    print(f"{'total':<20} {sum(c for _, c, _ in rows):>6} {total:>8}   (target ≤ {TARGET_BYTES})")
    print(json.dumps({"bench": "storage_per_instance", "pathway": "rrac_epaule", "status": instance.status,
                      "bytes": total, "target_bytes": TARGET_BYTES, "state_bytes": instance.state_bytes,
                      "by_table": {t: s for t, _, s in rows}, "met": total <= TARGET_BYTES}))


if __name__ == "__main__":
    main()

"""The inbox-at-scale dataset: patients, care teams, instances and work items bulk-loaded with COPY.

The schema comes from the migrations (``init_database``) and the shipped pathways are deployed through the
service, so the PathwayVersion rows are real; everything else is generated (seeded, deterministic) and written
with PostgreSQL ``COPY``: each patient has a care team of 4-6 professionals (the lanes of their pathway plus
a GP, out of ~2,000 professionals), one or two pathway instances (the engine state is a placeholder: the
inbox never reads it) and their share of the work items, mostly completed or cancelled history, the
current steps of active instances open (a quarter of them claimed), due dates spread over months.

The measured nurse (login ``bench-ide``, password ``demo``) is the nurse of ``nurse_patients`` patients and
has exactly ``nurse_open`` open items: ``nurse_claimed`` claimed by her, the rest in her role's queue; she
also left the care team of a few patients whose open nurse items she must not see.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from engine.bpmn.parser import CompiledPathway
from engine.db import db
from engine.models import PathwayVersion
from engine.services.pathways import compiled_for

GENERATOR = 1  # bump when the generated data changes: a stored dataset with another number is rebuilt
NURSE_LOGIN = "bench-ide"
PATHWAY_SHARE = {"rrac_epaule": 0.40, "insuffisance_cardiaque": 0.30, "diabete_t2": 0.30}
STAFF = {  # professionals per role (≈ 2,000 at the default scale)
    "infirmier": 600, "medecin_traitant": 450, "kinesitherapeute": 250, "pharmacien": 150, "chirurgien": 120,
    "cardiologue": 100, "podologue": 100, "anesthesiste": 80, "ophtalmologue": 80, "coordinateur": 70,
}
DATA = '{"commentaire": "RAS, patient revu", "douleur": 3, "joint": true}'
TZ = "Europe/Paris"


@dataclass(frozen=True)
class Params:
    patients: int = 100_000
    work_items: int = 1_000_000
    professionals: int = 2_000
    nurse_patients: int = 400
    nurse_open: int = 200
    nurse_claimed: int = 30
    active_share: float = 0.35  # instances with open steps
    seed: int = 4
    generator: int = GENERATOR

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Plan:
    """What was generated, for the measurements' checks."""

    nurse_id: int = 0
    nurse_patient_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def _row(*values: Any) -> str:
    return "\t".join(r"\N" if v is None else str(v) for v in values) + "\n"


def _copy(conn: psycopg.Connection[Any], table: str, columns: str, rows: Iterator[str]) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer: list[str] = []
        for line in rows:
            buffer.append(line)
            count += 1
            if len(buffer) >= 5000:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
    return count


def stored_params(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = current_database()").fetchone()
    return row[0] if row else None


def _user_tasks(compiled: CompiledPathway) -> list[tuple[str, str, str, str | None, str]]:
    return [(e.element_id, e.name.replace("\t", " "), e.lane or "coordinateur", e.properties.get("form"),
             e.properties.get("priority", "routine"))
            for e in compiled.elements.values() if e.kind == "user_task"]


class Generator:
    """Builds the rows table by table, from per-patient plans kept in memory (ids are assigned here)."""

    def __init__(self, params: Params, now: datetime) -> None:
        self.p = params
        self.now = now
        self.rng = random.Random(params.seed)
        versions = list(db.session.query(PathwayVersion).order_by(PathwayVersion.id))
        self.versions = {v.key: (v.id, _user_tasks(compiled_for(v))) for v in versions}
        self.staff = self._staff()
        self.plan = Plan(nurse_id=1)

    def _staff(self) -> dict[str, list[int]]:
        scale = self.p.professionals / sum(STAFF.values())
        staff: dict[str, list[int]] = {}
        next_id = 2  # 1 is the measured nurse
        for role, n in STAFF.items():
            size = max(2, round(n * scale))
            staff[role] = list(range(next_id, next_id + size))
            next_id += size
        return staff

    # -- professionals -------------------------------------------------------------------------------
    def professionals(self, password_hash: str) -> Iterator[str]:
        at = _ts(self.now - timedelta(days=800))
        yield _row(1, NURSE_LOGIN, "Inès Bench (IDE)", "MSP Bench", password_hash, "t", "fr", TZ, at)
        for role, ids in self.staff.items():
            for pid in ids:
                yield _row(pid, f"bench-{role}-{pid}", f"Pro {pid} ({role})", "MSP Bench", None, "t", "fr", TZ, at)

    def professional_roles(self) -> Iterator[str]:
        yield _row(1, "infirmier")
        for role, ids in self.staff.items():
            for pid in ids:
                yield _row(pid, role)

    # -- patients and their plans ----------------------------------------------------------------------
    def patients(self) -> Iterator[str]:
        rng = self.rng
        keys = list(PATHWAY_SHARE)
        weights = [PATHWAY_SHARE[k] for k in keys]
        self.patient_pathway: list[str] = [""] * (self.p.patients + 1)
        for pid in range(1, self.p.patients + 1):
            self.patient_pathway[pid] = rng.choices(keys, weights)[0]
            created = self.now - timedelta(days=rng.uniform(30, 900))
            yield _row(pid, f"IPP{pid:08d}", f"Nom{pid}", f"Prénom{pid}", "+33600000000", "sms", "f", "f", TZ,
                       "fr", "f", "MSP Bench", _ts(created))
        with_nurse = [pid for pid in range(1, self.p.patients + 1)
                      if self.patient_pathway[pid] in ("rrac_epaule", "insuffisance_cardiaque")]
        step = max(1, len(with_nurse) // max(1, self.p.nurse_patients))
        self.plan.nurse_patient_ids = with_nurse[::step][: self.p.nurse_patients]
        left = with_nurse[1::step][: max(1, self.p.nurse_patients // 20)]  # she left these teams
        self.nurse_left = set(left) - set(self.plan.nurse_patient_ids)

    def _team_roles(self, pid: int) -> list[str]:
        key = self.patient_pathway[pid]
        roles = {lane for _e, _t, lane, _f, _p in self.versions[key][1] if lane != "patient"}
        roles.add("medecin_traitant")
        if key == "insuffisance_cardiaque" or (key == "diabete_t2" and pid % 2 == 0):
            roles.add("pharmacien" if key == "insuffisance_cardiaque" else "infirmier")
        return sorted(roles)

    def care_team(self) -> Iterator[str]:
        rng = self.rng
        mine = set(self.plan.nurse_patient_ids)
        self.team: dict[int, dict[str, int]] = {}
        member_id = 0
        start = _ts(self.now - timedelta(days=400))
        for pid in range(1, self.p.patients + 1):
            team = {}
            for role in self._team_roles(pid):
                pro = 1 if role == "infirmier" and pid in mine else rng.choice(self.staff[role])
                team[role] = pro
                member_id += 1
                yield _row(member_id, pid, pro, role, start, None)
            if pid in self.nurse_left or rng.random() < 0.05:  # an earlier member, replaced
                role = "infirmier" if pid in self.nurse_left else rng.choice(sorted(team))
                pro = 1 if pid in self.nurse_left else rng.choice(self.staff[role])
                member_id += 1
                yield _row(member_id, pid, pro, role, _ts(self.now - timedelta(days=800)),
                           _ts(self.now - timedelta(days=rng.uniform(30, 390))))
            self.team[pid] = team
        self.plan.counts["care_team_member"] = member_id

    def instances(self) -> Iterator[str]:
        """One instance per patient, a second (older, finished) one for a fifth of them."""
        rng = self.rng
        mine = set(self.plan.nurse_patient_ids)
        self.instance_list: list[tuple[int, int, str, bool, datetime]] = []  # id, patient, key, active, start
        iid = 0
        for pid in range(1, self.p.patients + 1):
            key = self.patient_pathway[pid]
            runs = [False] if rng.random() < 0.2 else []
            runs.append(pid in mine or rng.random() < self.p.active_share)
            for active in runs:
                iid += 1
                started = self.now - timedelta(days=rng.uniform(20, 120) if active else rng.uniform(120, 700))
                status = "active" if active else ("cancelled" if rng.random() < 0.05 else "completed")
                ended = None if active else _ts(started + timedelta(days=rng.uniform(10, 100)))
                self.instance_list.append((iid, pid, key, active, started))
                yield _row(iid, pid, self.versions[key][0], status, "{}", '{"placeholder": true}', 21, 1,
                           _ts(started), _ts(started), ended)
        self.plan.counts["pathway_instance"] = iid

    def work_items(self) -> Iterator[str]:
        rng = self.rng
        n_inst = len(self.instance_list)
        weights = [rng.uniform(0.4, 1.6) * (1.6 if k == "insuffisance_cardiaque" else 1.0)
                   for _i, _p, k, _a, _s in self.instance_list]
        total = sum(weights)
        counts = [max(1, int(self.p.work_items * w / total)) for w in weights]
        short = self.p.work_items - sum(counts)  # the rounding's remainder, spread over random instances
        for n in rng.sample(range(n_inst), k=min(n_inst, max(0, short))):
            counts[n] += 1
        mine = set(self.plan.nurse_patient_ids)
        nurse_quota = {pid: self.p.nurse_open // len(mine) + (n < self.p.nurse_open % len(mine))
                       for n, pid in enumerate(self.plan.nurse_patient_ids)} if mine else {}
        claimed_left = self.p.nurse_claimed
        wid = 0
        opened = 0
        for (iid, pid, key, active, started), count in zip(self.instance_list, counts, strict=True):
            tasks = self.versions[key][1]
            team = self.team[pid]
            span = (self.now - started).total_seconds() if active else 90 * 86400.0
            open_set: set[int] = set()
            if active:
                if pid in nurse_quota:  # her exact number of open nurse items, plus other roles' items
                    nurse_idx = [n for n in range(count) if tasks[n % len(tasks)][2] == "infirmier"]
                    while len(nurse_idx) < nurse_quota[pid]:  # a short instance: add nurse steps at its end
                        count += 1
                        if tasks[(count - 1) % len(tasks)][2] == "infirmier":
                            nurse_idx.append(count - 1)
                    open_set = set(nurse_idx[len(nurse_idx) - nurse_quota[pid]:] if nurse_quota[pid] else [])
                    others = [n for n in range(max(0, count - 3), count) if tasks[n % len(tasks)][2] != "infirmier"]
                    open_set.update(others[: rng.randint(0, 2)])
                else:
                    open_set = set(range(max(0, count - rng.randint(1, 3)), count))
            for n in range(count):
                element, title, role, form, priority = tasks[n % len(tasks)]
                wid += 1
                created = started + timedelta(seconds=span * n / max(count, 1))
                assignee = completed_by = claimed_at = completed_at = cancelled_at = data = None
                if n in open_set:
                    opened += 1
                    created = self.now - timedelta(days=rng.uniform(0, 30))
                    due = None if rng.random() < 0.05 else self.now + timedelta(days=rng.uniform(-30, 90))
                    mine_here = pid in nurse_quota and role == "infirmier"
                    if mine_here and claimed_left > 0:
                        claimed_left -= 1
                        status, assignee = "claimed", 1
                    elif not mine_here and role != "patient" and rng.random() < 0.25:
                        status, assignee = "claimed", team.get(role)
                    else:
                        status = "open"
                    if assignee is None:
                        status = "open"
                    else:
                        claimed_at = _ts(created + timedelta(hours=1))
                else:
                    due = created + timedelta(days=rng.uniform(0.1, 14))
                    if rng.random() < 0.07:
                        status, cancelled_at = "cancelled", _ts(created + timedelta(days=1))
                    else:
                        status, data = "completed", DATA
                        completed_at = _ts(created + timedelta(hours=rng.uniform(1, 72)))
                        completed_by = team.get(role) if role != "patient" else None
                yield _row(wid, iid, pid, f"00000000-0000-4000-8000-{wid:012x}", element, title, role, assignee,
                           status, priority, form, None if due is None else _ts(due), None, data, _ts(created),
                           claimed_at, completed_at, completed_by, cancelled_at, "task")
        self.plan.counts["work_item"] = wid
        self.plan.counts["open_work_items"] = opened


WORK_ITEM_COLUMNS = ("id, instance_id, patient_id, spiff_task_id, element_id, title, role_code, assignee_id, status, "
                     "priority, form_key, due_at, escalate_at, data, created_at, claimed_at, completed_at, "
                     "completed_by_id, cancelled_at, kind")


def load(conn: psycopg.Connection[Any], gen: Generator, password_hash: str) -> dict[str, int]:
    """COPY every table in one transaction; work_item's secondary indexes are rebuilt after its load."""
    counts: dict[str, int] = {}
    with conn.transaction():
        counts["professional"] = _copy(conn, "professional", "id, login, full_name, site, password_hash, active, "
                                       "locale, timezone, created_at", gen.professionals(password_hash))
        counts["professional_role"] = _copy(conn, "professional_role", "professional_id, role_code",
                                            gen.professional_roles())
        counts["patient"] = _copy(conn, "patient", "id, identifier, family_name, given_name, phone, "
                                  "preferred_channel, opt_out_sms, opt_out_email, timezone, language, "
                                  "ins_qualified, site, created_at", gen.patients())
        counts["care_team_member"] = _copy(conn, "care_team_member", "id, patient_id, professional_id, role_code, "
                                           "period_start, period_end", gen.care_team())
        counts["pathway_instance"] = _copy(conn, "pathway_instance", "id, patient_id, version_id, status, context, "
                                           "state, state_bytes, lock_version, started_at, updated_at, ended_at",
                                           gen.instances())
        indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'work_item' "
                               "AND indexname NOT IN (SELECT conname FROM pg_constraint)").fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        counts["work_item"] = _copy(conn, "work_item", WORK_ITEM_COLUMNS, gen.work_items())
        for _name, definition in indexes:
            conn.execute(definition)
        for table in ("professional", "patient", "care_team_member", "pathway_instance", "work_item"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    counts["open_work_items"] = gen.plan.counts["open_work_items"]
    return counts

"""Inbox at scale: 100,000 patients, 1,000,000 work items on PostgreSQL, a nurse with 200 open items.

The dataset (``bench/inbox_dataset.py``) is built once with the migrations, the shipped pathways deployed
through the service and the rest bulk-loaded with COPY, then VACUUM ANALYZEd; it is reused while its parameters
(stored as the database's comment) match. Measured for the nurse, after a warm-up:

- the inbox page's service, ``engine.services.inbox_listing.list_inbox_page`` (first page of 25 rows with the
  counts per window and the filter options, one audited read);
- the CLI's service: ``engine.services.inbox.list_inbox`` (the query, the ORM load of the items and the flush of
  its ``inbox.listed`` audit event; the transaction is already open, as in a request, and rolled back after
  each call so the dataset does not change), without filter, with the overdue filter and with a pathway
  filter; and the bare SQL of ``inbox_query`` through SQLAlchemy Core (no ORM objects);
- over HTTP with the Flask test client, signed in through the login form: ``GET /inbox/`` (whatever the page
  is in this checkout: it only needs a 200) and the JSON API's work-item list when the app has one;
- ``EXPLAIN (ANALYZE, BUFFERS)`` of the inbox SQL (PostgreSQL dialect, literal binds).

    .venv/bin/python bench/inbox_at_scale.py [--patients 100000] [--work-items 1000000] [--iterations 500]
        [--regenerate] [--drop-after] [--database-url postgresql://postgres@127.0.0.1:5432/parcours_bench_inbox]

Targets (issue 4, shared/DESIGN.md §5): p95 ≤ 10 ms in the service, ≤ 25 ms over HTTP. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench.common import PARIS, PG_SERVER, REPO, START, deploy, json_line, machine, print_table  # noqa: E402
from bench.inbox_dataset import NURSE_LOGIN, Generator, Params, load, stored_params  # noqa: E402
from engine.clock import ManualClock  # noqa: E402
from engine.db import db  # noqa: E402
from engine.models import ApiToken, AuditEvent, CareTeamMember, Professional  # noqa: E402
from engine.services import inbox, inbox_listing  # noqa: E402
from engine.services.people import actor_for  # noqa: E402
from engine.types import Actor  # noqa: E402

DEFAULT_URL = f"{PG_SERVER}/parcours_bench_inbox"
TARGET_SERVICE_MS = 10.0
TARGET_HTTP_MS = 25.0


def pcts(samples: list[tuple[float, float]]) -> dict[str, float]:
    """p50/p95/p99/max of the wall-clock samples (ms), and the median of this process's CPU time."""
    wall = [w for w, _c in samples]
    cuts = statistics.quantiles(wall, n=100, method="inclusive")
    return {"p50": round(cuts[49] * 1000, 2), "p95": round(cuts[94] * 1000, 2), "p99": round(cuts[98] * 1000, 2),
            "max": round(max(wall) * 1000, 2), "cpu_p50": round(statistics.median(c for _w, c in samples) * 1000, 2)}


def timed(fn: Callable[[], Any], iterations: int, warmup: int, before: Callable[[], Any] | None = None,
          after: Callable[[], Any] | None = None) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of ``fn`` per iteration after ``warmup`` ones; ``before``/``after`` are not timed."""
    samples = []
    for n in range(warmup + iterations):
        if before:
            before()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if after:
            after()
        if n >= warmup:
            samples.append((wall, cpu))
    return samples


# -- the dataset ------------------------------------------------------------------------------------------
def _server_and_name(url: str) -> tuple[str, str]:
    server, _, name = url.rstrip("/").rpartition("/")
    return server, name


def prepare(url: str, params: Params, regenerate: bool, clock: ManualClock) -> tuple[Flask, bool, float]:
    """The app on the dataset; builds it when missing, different or ``regenerate``. Returns (app, built, s)."""
    from webapp import create_app
    from webapp.cli.pathways import init_database

    server, name = _server_and_name(url)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    current = None
    if exists and not regenerate:
        with psycopg.connect(url) as conn:
            current = stored_params(conn)
    build = current != params.as_json()
    if build:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PARCOURS_CLOCK": clock})
    started = time.perf_counter()
    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # alembic's INFO lines; a no-op when at head
            init_database()
        if build:
            for path in sorted((REPO / "workflows" / "bpmn").glob("*.bpmn")):
                deploy(path, clock)
            gen = Generator(params, clock.now())
            with psycopg.connect(url) as conn:
                counts = load(conn, gen, generate_password_hash("demo"))
                conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{params.as_json()}'")
                conn.commit()
                conn.autocommit = True
                conn.execute("VACUUM ANALYZE")  # autovacuum is off on the bench server; production runs it
            print("generated: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        db.session.remove()
    return app, build, time.perf_counter() - started


# -- measurements -----------------------------------------------------------------------------------------
def nurse_actor() -> Actor:
    pro = db.session.scalar(select(Professional).where(Professional.login == NURSE_LOGIN))
    assert pro is not None, "the dataset has no measured nurse"
    return actor_for(pro)


def explain(actor: Actor, at: Any, flt: inbox.InboxFilter) -> tuple[str, float]:
    statement, params = inbox.inbox_query(actor, at=at, flt=flt)
    query = statement.params(**params)
    try:
        sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        rows = db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars().all()
    except Exception:  # noqa: BLE001 - a type with no literal renderer: let the driver bind the values
        db.session.rollback()
        compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
        raw = db.session.connection().connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params)
            rows = [r[0] for r in cur.fetchall()]
    db.session.rollback()
    ms = next((float(r.split(":")[1].split()[0]) for r in rows if r.startswith("Execution Time")), 0.0)
    return "\n".join(rows), ms


def _busiest_coordinator() -> tuple[Actor, int]:
    """The coordinator in the most care teams (≈ 1,400 at the default scale), and that number."""
    pro_id, teams = db.session.execute(
        select(CareTeamMember.professional_id, func.count()).where(CareTeamMember.role_code == "coordinateur")
        .group_by(CareTeamMember.professional_id).order_by(func.count().desc(), CareTeamMember.professional_id)
        .limit(1)).one()
    pro = db.session.get(Professional, pro_id)
    assert pro is not None
    return actor_for(pro), teams


def _begin() -> None:
    db.session.execute(text("SELECT 1"))  # a request's transaction is open before the inbox query


def _end() -> None:
    db.session.rollback()
    db.session.expunge_all()


def _measure(actor: Actor, clock: ManualClock, flt: inbox.InboxFilter, iterations: int, warmup: int
             ) -> tuple[dict[str, float], dict[str, float]]:
    """(service, sql Core) percentiles of one actor's inbox with one filter."""

    def service() -> None:
        inbox.list_inbox(actor, clock=clock, flt=flt)
        db.session.flush()

    def core() -> None:
        db.session.connection().execute(*inbox.inbox_query(actor, at=clock.now(), flt=flt)).all()

    return (pcts(timed(service, iterations, warmup, _begin, _end)),
            pcts(timed(core, iterations, warmup, _begin, _end)))


def measure_service(app: Flask, clock: ManualClock, iterations: int, warmup: int, pathway: str
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    results: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    cases = {"all": inbox.InboxFilter(), "overdue": inbox.InboxFilter(overdue=True),
             f"pathway={pathway}": inbox.InboxFilter(pathway_key=pathway)}
    with app.app_context():
        actor = nurse_actor()
        now = clock.now()
        everything = inbox.list_inbox(actor, clock=clock, flt=inbox.InboxFilter(limit=100_000))
        checks["open_items"] = len(everything)
        checks["claimed_by_her"] = sum(1 for i in everything if i.assignee_id == actor.professional_id)
        checks["overdue"] = sum(1 for i in everything if i.due_at is not None and i.due_at < now)
        db.session.rollback()
        plans = {}
        for label, flt in cases.items():
            plans[label] = explain(actor, now, flt)
            results[f"service {label}"], results[f"sql (Core) {label}"] = _measure(actor, clock, flt, iterations,
                                                                                   warmup)
            checks[f"rows {label}"] = len(inbox.list_inbox(actor, clock=clock, flt=flt))
            db.session.rollback()
        # The inbox page's own service: its first page (25 rows, one joined query) and the counts per
        # window and the filter options (one grouped query over the 200 items), one audited read.
        query = inbox_listing.listing_query({})

        def page_service() -> None:
            inbox_listing.list_inbox_page(actor, query, clock=clock, zone=PARIS)
            db.session.flush()

        results["service inbox page (25 rows + counts)"] = pcts(timed(page_service, iterations, warmup, _begin,
                                                                      _end))
        checks["page rows"] = len(inbox_listing.list_inbox_page(actor, query, clock=clock, zone=PARIS).rows)
        db.session.rollback()
        # A coordinator: about as many open items, but in far more care teams (one index probe per team).
        coordinator, teams = _busiest_coordinator()
        checks["coordinator"] = coordinator.label
        checks["coordinator_care_teams"] = teams
        checks["coordinator_open_items"] = len(inbox.list_inbox(coordinator, clock=clock,
                                                                flt=inbox.InboxFilter(limit=100_000)))
        db.session.rollback()
        plans["coordinator all"] = explain(coordinator, now, inbox.InboxFilter())
        results["service all, coordinator"], results["sql (Core) all, coordinator"] = _measure(
            coordinator, clock, inbox.InboxFilter(), iterations, warmup)
        db.session.remove()
    return results, {"checks": checks, "plans": plans}


def _login(client: Any) -> None:
    import re

    page = client.get("/auth/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert token, "no CSRF token on the login page"
    resp = client.post("/auth/login", data={"login": NURSE_LOGIN, "password": "demo", "csrf_token": token.group(1)})
    assert resp.status_code == 302, f"login refused ({resp.status_code})"


def _inbox_listings(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "inbox.listed"))
        db.session.remove()
    return count or 0


def _api_list_path(app: Flask) -> str | None:
    for rule in app.url_map.iter_rules():
        path = str(rule.rule)
        if path.startswith("/api/") and not rule.arguments and "GET" in (rule.methods or ()) and (
                "work-item" in path or "work_item" in path or "inbox" in path):
            return path
    return None


def measure_http(app: Flask, clock: ManualClock, iterations: int, warmup: int) -> tuple[dict[str, Any], dict[str, Any]]:
    results: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    client = app.test_client()
    _login(client)
    listed_before = _inbox_listings(app)
    first = client.get("/inbox/")
    notes["inbox_lists"] = _inbox_listings(app) > listed_before  # the page called list_inbox (audited)
    notes["inbox_status"] = first.status_code
    notes["inbox_bytes"] = len(first.get_data())
    if first.status_code == 200:
        results["GET /inbox/ (test client)"] = pcts(timed(lambda: client.get("/inbox/"), iterations, warmup))
    api_path = _api_list_path(app)
    notes["api_path"] = api_path
    if api_path:
        secret = secrets.token_urlsafe(32)
        with app.app_context():
            pro = db.session.scalar(select(Professional).where(Professional.login == NURSE_LOGIN))
            assert pro is not None
            db.session.add(ApiToken(professional_id=pro.id, name="bench", created_at=clock.now(),
                                    token_hash=hashlib.sha256(secret.encode()).hexdigest()))
            db.session.commit()
            db.session.remove()
        api = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        resp = api.get(api_path, headers=headers)
        notes["api_status"] = resp.status_code
        if resp.status_code == 200:
            results[f"GET {api_path} (test client, token)"] = pcts(
                timed(lambda: api.get(api_path, headers=headers), iterations, warmup))
    return results, notes


# -- report -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--work-items", type=int, default=1_000_000)
    parser.add_argument("--professionals", type=int, default=2_000)
    parser.add_argument("--nurse-patients", type=int, default=400)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--pathway", default="rrac_epaule", help="the pathway of the pathway filter")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the dataset even if it matches")
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--no-plan", action="store_true", help="do not print the EXPLAIN output")
    args = parser.parse_args(argv)

    params = Params(patients=args.patients, work_items=args.work_items, professionals=args.professionals,
                    nurse_patients=args.nurse_patients)
    clock = ManualClock(START)
    load_before = os.getloadavg()
    app, built, setup_s = prepare(args.database_url, params, args.regenerate, clock)
    print(f"inbox at scale — {params.patients:,} patients, {params.work_items:,} work items, nurse "
          f"'{NURSE_LOGIN}' in {params.nurse_patients} care teams; {machine()}")
    print(f"dataset {'generated' if built else 'reused'} in {setup_s:.1f} s; {args.iterations} iterations after "
          f"{args.warmup} warm-up; load average {load_before[0]:.2f} before")
    service, extra = measure_service(app, clock, args.iterations, args.warmup, args.pathway)
    http, notes = measure_http(app, clock, args.iterations, args.warmup)
    load_after = os.getloadavg()
    checks = extra["checks"]
    print(f"nurse: {checks['open_items']} open items ({checks['claimed_by_her']} claimed by her, "
          f"{checks['overdue']} overdue); rows per case: "
          + ", ".join(f"{k[5:]} {v}" for k, v in checks.items() if k.startswith("rows ")))
    print(f"coordinator '{checks['coordinator']}': {checks['coordinator_care_teams']} care teams, "
          f"{checks['coordinator_open_items']} open items (service and sql rows marked 'coordinator')")
    if not args.no_plan:
        plan, exec_ms = extra["plans"]["all"]
        print("\nEXPLAIN (ANALYZE, BUFFERS) of inbox_query (no filter):\n" + plan)
    print("\nEXPLAIN execution time per case: " + ", ".join(
        f"{k} {v[1]:.2f} ms" for k, v in extra["plans"].items()))
    print()
    rows = [[label, r["p50"], r["p95"], r["p99"], r["max"], r["cpu_p50"],
             f"≤ {TARGET_SERVICE_MS:g}" if label.startswith("service") else ""] for label, r in service.items()]
    rows += [[label, r["p50"], r["p95"], r["p99"], r["max"], r["cpu_p50"], f"≤ {TARGET_HTTP_MS:g}"]
             for label, r in http.items()]
    print_table(["measure", "p50 ms", "p95 ms", "p99 ms", "max ms", "CPU p50 ms", "target p95"], rows)
    print("CPU: this process only (PostgreSQL's own work is not in it); sql (Core) = the same SELECT, rows "
          "fetched without ORM objects")
    if notes["inbox_status"] != 200:
        print(f"GET /inbox/ answered {notes['inbox_status']}: not measured")
    print(f"GET /inbox/ page: {notes['inbox_bytes']:,} bytes; " + (
        "it lists the inbox (an inbox.listed audit event per request)" if notes["inbox_lists"] else
        "it does NOT list the inbox (no inbox.listed audit event: a placeholder page?), so its figure is "
        "the request's fixed cost, not the inbox over HTTP"))
    if notes["api_path"] is None:
        print("JSON API: no work-item list route in this checkout: not measured")
    elif "api_status" in notes and notes["api_status"] != 200:
        print(f"JSON API {notes['api_path']} answered {notes['api_status']}: not measured")
    print(f"load average {load_after[0]:.2f} after")
    service_p95 = service["service all"]["p95"]
    http_p95 = http.get("GET /inbox/ (test client)", {}).get("p95") if notes["inbox_lists"] else None
    payload = {
        "bench": "inbox_at_scale", "patients": params.patients, "work_items": params.work_items,
        "nurse_open_items": checks["open_items"], "coordinator_care_teams": checks["coordinator_care_teams"],
        "coordinator_open_items": checks["coordinator_open_items"], "dataset_built": built,
        "setup_s": round(setup_s, 1),
        "iterations": args.iterations, "load_before": round(load_before[0], 2), "load_after": round(load_after[0], 2),
        "service": service, "http": http, "explain_ms": {k: v[1] for k, v in extra["plans"].items()},
        "seq_scan_on_work_item": "Seq Scan on work_item" in extra["plans"]["all"][0],
        "inbox_page_bytes": notes["inbox_bytes"],
        "inbox_page_lists_inbox": notes["inbox_lists"], "api_path": notes["api_path"],
        "target_service_p95_ms": TARGET_SERVICE_MS, "target_http_p95_ms": TARGET_HTTP_MS,
        "service_met": service_p95 <= TARGET_SERVICE_MS,
        "http_met": None if http_p95 is None else http_p95 <= TARGET_HTTP_MS,
    }
    if args.drop_after:
        with app.app_context():
            db.engine.dispose()
        server, name = _server_and_name(args.database_url)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    json_line(payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

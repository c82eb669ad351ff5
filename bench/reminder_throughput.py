"""Reminder delivery throughput: Reminder rows -> dispatch -> a real SMTP server on loopback (messages/s).

N pending e-mail reminders are written to a fresh PostgreSQL (or SQLite) database; an aiosmtpd server (its own
process) counts the X-Parcours-Ref headers it receives, so duplicates and losses show. Two paths:

- ``--via celery`` (the issue's target, DESIGN §5): one real ``celery -A tasks.worker worker -c W`` (W pool
  processes, default log level) on Redis (a database of the bench's own, flushed) and PostgreSQL. Once it is
  ready, the bench enqueues the jobs and times until the SMTP server has every message: ``--jobs dispatch``
  queues ``parcours.reminders.dispatch(limit=B)`` jobs (each claims up to B under SKIP LOCKED, then sends one by
  one on a pooled connection, one commit per outcome); ``--jobs send`` queues one ``parcours.reminders.send
  (reminder_id)`` per reminder.
- ``--via service``: W plain processes call the dispatch service (``dispatch_due_reminders``, batches of 100)
  until nothing is due; no broker. The ceiling of the Celery path on the same machine.

    .venv/bin/python bench/reminder_throughput.py [--via celery|service] [--jobs dispatch|send]
        [--messages 5000] [--workers 1 2 4] [--backend postgresql] [--apprise-messages 300]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PARIS, REPO, database_url, json_line, machine, make_app, print_table
from engine.clock import ManualClock

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=PARIS)  # a Monday morning: no quiet hours
TARGET = 500.0
PG_DATABASE = "postgresql://postgres@127.0.0.1:5432/parcours_bench_reminders"  # not the other benches' database
REDIS_URL = "redis://127.0.0.1:6379/10"  # flushed before each run: not the other benches' or tests' database
DISPATCH_BATCH = 100


def _smtp_server(port: int, counts: Any, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
            content = envelope.content or b""
            start = content.find(b"X-Parcours-Ref: ")
            ref = content[start + 16:content.find(b"\n", start)].strip() if start >= 0 else b"?"
            counts.append(ref.decode())
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def _seed(url: str, messages: int, now: datetime = NOW) -> None:
    from sqlalchemy import insert

    from engine.db import db
    from engine.models import Patient, Reminder

    app = make_app(url, ManualClock(NOW))
    with app.app_context():
        db.session.execute(insert(Patient), [
            {"identifier": f"B-{n:06d}", "family_name": "Banc", "given_name": "Patient", "email": f"p{n}@bench.test",
             "phone": None, "preferred_channel": "email", "opt_out_sms": False, "opt_out_email": False,
             "timezone": "Europe/Paris", "language": "fr", "ins_qualified": False, "site": "MSP Bench",
             "created_at": now} for n in range(messages)])
        ids = [p.id for p in db.session.query(Patient.id).order_by(Patient.id)]
        db.session.execute(insert(Reminder), [
            {"dedup_key": f"bench:{pid}", "patient_id": pid, "recipient": "patient", "channel": "email",
             "template": "rappel_rdv_j7", "params": {}, "appointment_at": now + timedelta(days=7, hours=4),
             "send_at": now, "next_attempt_at": now, "status": "pending", "attempts": 0, "channel_attempts": 0,
             "created_at": now} for pid in ids])
        db.session.commit()


def _worker(job: tuple[str, str, float]) -> tuple[int, float]:
    url, email_url, start_at = job
    from engine.notify.channels import build_channels, close_channels
    from engine.notify.settings import NotifySettings
    from engine.services.reminders import dispatch_due_reminders
    from webapp import create_app

    clock = ManualClock(NOW)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PARCOURS_CLOCK": clock})
    settings = NotifySettings(email_url=email_url)
    sent = 0
    with app.app_context():
        channels = build_channels(settings)
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            report = dispatch_due_reminders(clock=clock, channels=channels, settings=settings,
                                            limit=DISPATCH_BATCH)
            sent += report.sent
            if report.sent == 0 and not report.errors and report.retrying == 0:
                break
        close_channels(channels)
    return sent, time.time()


def run_service(backend: str, messages: int, workers: int, email_url: str, counts: Any) -> dict[str, Any]:
    url = database_url(backend, PG_DATABASE if backend == "postgresql" else None)
    _seed(url, messages)
    del counts[:]
    start_at = time.time() + 1.0
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_worker, [(url, email_url, start_at)] * workers)
    seconds = max(end for _, end in results) - start_at
    sent = sum(n for n, _ in results)
    deadline = time.time() + 10
    while len(counts) < sent and time.time() < deadline:
        time.sleep(0.05)
    refs = list(counts)
    return {"via": "service", "jobs": "-", "backend": backend, "workers": workers, "messages": messages,
            "sent": sent, "received": len(refs),
            "duplicates": len(refs) - len(set(refs)), "seconds": round(seconds, 2),
            "per_second": round(sent / seconds, 1) if seconds else 0.0}


def _worker_env(url: str, broker: str, email_url: str, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARCOURS_", "CELERY_", "REDIS_URL", "FLASK_"))}
    env.update(DATABASE_URL=url, CELERY_BROKER_URL=broker, PARCOURS_INSTANCE_PATH=str(folder),
               PARCOURS_NOTIFY_EMAIL_URL=email_url,
               PARCOURS_QUIET_HOURS="none", PARCOURS_QUIET_SUNDAYS="0")  # the wall clock, at any hour
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own group: the pool processes too
    except ProcessLookupError:
        pass
    process.wait()


def _sent_count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT count(*) FROM reminder WHERE status = 'sent'")) or 0)
    finally:
        engine.dispose()


def run_celery(backend: str, messages: int, workers: int, email_url: str, counts: Any, *, jobs: str,
               broker: str) -> dict[str, Any]:
    """One celery worker with ``workers`` pool processes; the jobs enqueued once it is ready; timed until the
    SMTP server has received every message."""
    import redis
    from celery import Celery

    url = database_url(backend, PG_DATABASE if backend == "postgresql" else None)
    _seed(url, messages, datetime.now(UTC))
    redis.Redis.from_url(broker).flushdb()
    del counts[:]
    folder = Path(tempfile.mkdtemp(prefix="parcours-bench-celery-"))
    log = folder / "worker.log"
    hostname = f"bench-{workers}-{jobs}@{os.uname().nodename}"
    with log.open("ab") as out:
        worker = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "celery", "-A", "tasks.worker", "worker", "--concurrency", str(workers),
             "--hostname", hostname, "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=_worker_env(url, broker, email_url, folder), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    client = Celery("bench", broker=broker)
    client.conf.update(task_serializer="json", accept_content=["json"])
    try:
        deadline = time.time() + 120
        while not client.control.ping([hostname], timeout=0.5):  # consuming (at WARNING it logs no "ready.")
            if worker.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as connection:
            ids = list(connection.scalars(text("SELECT id FROM reminder ORDER BY id")))
        engine.dispose()
        started = time.time()
        with client.producer_or_acquire() as producer:
            if jobs == "send":
                for reminder_id in ids:
                    client.send_task("parcours.reminders.send", (reminder_id,), producer=producer)
            else:  # enough batches for every reminder, plus one per pool process that finds nothing left
                for _ in range(math.ceil(messages / DISPATCH_BATCH) + workers):
                    client.send_task("parcours.reminders.dispatch", (), {"limit": DISPATCH_BATCH}, producer=producer)
        enqueued = time.time() - started
        deadline = time.time() + max(120.0, messages / 20)
        while len(counts) < messages and time.time() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"the worker died:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)
        seconds = time.time() - started
        time.sleep(1.0)  # anything sent twice would arrive now
    finally:
        _stop(worker)
        client.close()
    errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
    shutil.rmtree(folder, ignore_errors=True)
    refs = list(counts)
    sent = _sent_count(url)
    return {"via": "celery", "jobs": jobs, "backend": backend, "workers": workers, "messages": messages, "sent": sent,
            "received": len(refs), "duplicates": len(refs) - len(set(refs)), "seconds": round(seconds, 2),
            "enqueue_seconds": round(enqueued, 2), "worker_errors": len(errors),
            "per_second": round(len(set(refs)) / seconds, 1) if seconds else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--via", choices=["celery", "service"], default="celery")
    parser.add_argument("--jobs", choices=["dispatch", "send"], nargs="+", default=["dispatch"],
                        help="celery: batches (parcours.reminders.dispatch) or one job per reminder (send)")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4],
                        help="celery: pool processes of the one worker; service: plain processes")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--redis-url", default=REDIS_URL, help="celery: the broker, flushed before each run")
    parser.add_argument("--apprise-messages", type=int, default=0,
                        help="service: also measure apprise's mailto:// (a connection and a TLS context per message)")
    args = parser.parse_args()

    from tests.notify.smtp_sink import free_port

    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager()
    counts = manager.list()
    ready = ctx.Event()
    server = ctx.Process(target=_smtp_server, args=(port, counts, ready), daemon=True)
    server.start()
    ready.wait(30)
    pooled = f"smtp://127.0.0.1:{port}?from=rappels@bench.test"
    apprise = f"mailto://127.0.0.1:{port}?from=rappels@bench.test&mode=insecure"
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    rows = []
    try:
        for workers in args.workers:
            if args.via == "celery":
                for jobs in args.jobs:
                    rows.append({"channel": "smtp (pooled)", **run_celery(
                        args.backend, args.messages, workers, pooled, counts, jobs=jobs, broker=args.redis_url)})
            else:
                rows.append({"channel": "smtp (pooled)", **run_service(args.backend, args.messages, workers,
                                                                       pooled, counts)})
        if args.apprise_messages and args.via == "service":
            rows.append({"channel": "apprise mailto", **run_service(args.backend, args.apprise_messages,
                                                                    max(args.workers), apprise, counts)})
    finally:
        server.terminate()
        manager.shutdown()
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    print(f"reminder throughput via {args.via} — {machine()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
          f"load average {' '.join(load_before)} before, {' '.join(load_after)} after")
    print_table(["via", "jobs", "channel", "backend", "workers", "messages", "received", "dupl.", "seconds", "msg/s"],
                [[r["via"], r["jobs"], r["channel"], r["backend"], r["workers"], r["messages"], r["received"],
                  r["duplicates"], r["seconds"], r["per_second"]] for r in rows])
    best = max((r for r in rows if r["channel"] == "smtp (pooled)"), key=lambda r: r["per_second"])
    path = ("celery worker on Redis -> SMTP" if args.via == "celery" else "dispatch service (N processes) -> SMTP")
    json_line({"bench": "reminder_throughput", "via": args.via, "path": path, "backend": args.backend,
               "best_per_second": best["per_second"], "best_workers": best["workers"], "best_jobs": best["jobs"],
               "target_per_second": TARGET, "met": best["per_second"] >= TARGET,
               "duplicates": sum(r["duplicates"] for r in rows),
               "lost": sum(r["messages"] - (r["received"] - r["duplicates"]) for r in rows),
               "load_before": load_before, "load_after": load_after, "runs": rows})


if __name__ == "__main__":
    main()

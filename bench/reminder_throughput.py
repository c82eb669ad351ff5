"""Reminder delivery throughput: Reminder rows -> dispatch service -> a real SMTP server on loopback.

N pending e-mail reminders are written to a fresh database; W worker processes run the dispatch service
(`dispatch_due_reminders`: claim a batch under SKIP LOCKED, render, send, commit each outcome) until
nothing is due; an aiosmtpd server (its own process) counts what it receives and checks that no
reminder arrived twice. Throughput = messages ÷ wall-clock time from the workers' start to the last one.

The issue's target is through Celery + Redis. The Celery app lives on another branch (tasks/celery_app.py);
the job `parcours.reminders.dispatch` is a thin wrapper around the same service, so the Celery figure is
this one minus the broker round trip per batch (one message per 100 reminders). To measure it once the
app is merged: start `celery -A tasks.celery_app worker -c W` and enqueue W x `parcours.reminders.dispatch`.

    .venv/bin/python bench/reminder_throughput.py [--messages 5000] [--workers 1 2 4] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PARIS, database_url, json_line, machine, make_app, print_table
from engine.clock import ManualClock

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=PARIS)  # a Monday morning: no quiet hours
TARGET = 500.0
PG_DATABASE = "postgresql://postgres@127.0.0.1:5432/parcours_bench_reminders"  # not the other benches' database


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


def _seed(url: str, messages: int) -> None:
    from sqlalchemy import insert

    from engine.db import db
    from engine.models import Patient, Reminder

    app = make_app(url, ManualClock(NOW))
    with app.app_context():
        db.session.execute(insert(Patient), [
            {"identifier": f"B-{n:06d}", "family_name": "Banc", "given_name": "Patient", "email": f"p{n}@bench.test",
             "phone": None, "preferred_channel": "email", "opt_out_sms": False, "opt_out_email": False,
             "timezone": "Europe/Paris", "language": "fr", "ins_qualified": False, "site": "MSP Bench",
             "created_at": NOW} for n in range(messages)])
        ids = [p.id for p in db.session.query(Patient.id).order_by(Patient.id)]
        db.session.execute(insert(Reminder), [
            {"dedup_key": f"bench:{pid}", "patient_id": pid, "recipient": "patient", "channel": "email",
             "template": "rappel_rdv_j7", "params": {}, "appointment_at": NOW + timedelta(days=7, hours=4),
             "send_at": NOW, "next_attempt_at": NOW, "status": "pending", "attempts": 0, "channel_attempts": 0,
             "created_at": NOW} for pid in ids])
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
            report = dispatch_due_reminders(clock=clock, channels=channels, settings=settings, limit=100)
            sent += report.sent
            if report.sent == 0 and not report.errors and report.retrying == 0:
                break
        close_channels(channels)
    return sent, time.time()


def run(backend: str, messages: int, workers: int, email_url: str, counts: Any) -> dict[str, Any]:
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
    return {"backend": backend, "workers": workers, "messages": messages, "sent": sent, "received": len(refs),
            "duplicates": len(refs) - len(set(refs)), "seconds": round(seconds, 2),
            "per_second": round(sent / seconds, 1) if seconds else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--apprise-messages", type=int, default=300,
                        help="Also measure apprise's mailto:// (a connection and a TLS context per message).")
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
    rows = []
    try:
        for workers in args.workers:
            rows.append({"channel": "smtp (pooled)", **run(args.backend, args.messages, workers, pooled, counts)})
        if args.apprise_messages:
            rows.append({"channel": "apprise mailto", **run(args.backend, args.apprise_messages, max(args.workers),
                                                            apprise, counts)})
    finally:
        server.terminate()
        manager.shutdown()
    print(f"reminder throughput — {machine()}, {datetime.now(UTC):%Y-%m-%d}")
    print_table(["channel", "backend", "workers", "messages", "received", "dupl.", "seconds", "msg/s"],
                [[r["channel"], r["backend"], r["workers"], r["messages"], r["received"], r["duplicates"],
                  r["seconds"], r["per_second"]] for r in rows])
    best = max((r for r in rows if r["channel"] == "smtp (pooled)"), key=lambda r: r["per_second"])
    json_line({"bench": "reminder_throughput", "path": "dispatch service (sync, N processes) -> SMTP",
               "backend": args.backend, "best_per_second": best["per_second"], "best_workers": best["workers"],
               "target_per_second": TARGET, "met": best["per_second"] >= TARGET,
               "duplicates": sum(r["duplicates"] for r in rows),
               "lost": sum(r["sent"] - r["received"] for r in rows), "runs": rows})


if __name__ == "__main__":
    main()

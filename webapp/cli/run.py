"""CLI: `parcours run` — load the demo data, then run the product (web server, jobs worker, beat) until Ctrl-C."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app

from engine.db import db
from tasks.config import broker_url, is_embedded
from webapp.cli.demo import load_demo
from webapp.cli.processes import Child, Supervisor, port_problem
from webapp.cli.support import database_command, fail
from webapp.cli.web_server import gunicorn_argv

CELERY = [sys.executable, "-m", "celery", "-A", "tasks.worker"]
READY_TIMEOUT = 90.0


def _web_child(logs: Path, host: str, port: int, sqlite: bool) -> Child:
    """The web server: gunicorn with threaded workers. One worker on SQLite (a single writer: more processes
    would only wait on its lock), two otherwise; WEB_CONCURRENCY, gunicorn's own variable, overrides it."""
    workers = None if os.environ.get("WEB_CONCURRENCY") else (1 if sqlite else 2)
    return Child("web", gunicorn_argv(host, port, workers), logs / "web.log")


def _children(logs: Path, concurrency: int, web: Child) -> list[Child]:
    return [
        Child("worker", [*CELERY, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
                         "--hostname", f"parcours-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
              logs / "worker.log"),
        Child("beat", [*CELERY, "beat", "--loglevel", "INFO"], logs / "beat.log"),
        web,
    ]


def _web_url(host: str, port: int) -> str:
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - any address
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


@click.command("run")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Load the demo data first (idempotent: an existing demo is kept).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: 1 on SQLite, 2 otherwise).")
@click.option("--host", envvar="PARCOURS_WEB_HOST", default="127.0.0.1", show_default=True,
              help="Address the web server listens on (env PARCOURS_WEB_HOST).")
@click.option("--port", envvar="PARCOURS_WEB_PORT", type=click.IntRange(1, 65535), default=5000, show_default=True,
              help="Port of the web server (env PARCOURS_WEB_PORT).")
@database_command
def run_command(demo: bool, concurrency: int | None, host: str, port: int) -> None:
    """Run Parcours: demo data, then the web server, the jobs worker and beat (timers fire by themselves)
    until Ctrl-C."""
    problem = port_problem(host, port)
    if problem is not None:  # before the demo: say it at once, not after a minute of loading
        fail(f"{problem}: stop the other server or choose another port with --port (or PARCOURS_WEB_PORT)")
    if demo:
        load_demo()
    instance = Path(current_app.instance_path)
    logs = instance / "logs"
    sqlite = db.engine.dialect.name == "sqlite"
    db.session.remove()
    web = _web_child(logs, host, port, sqlite)
    children = _children(logs, concurrency or (1 if sqlite else 2), web)
    env = {**os.environ, "PARCOURS_INSTANCE_PATH": str(instance)}
    supervisor = Supervisor(children)
    supervisor.install_signal_handlers()
    broker = broker_url(str(instance))
    click.echo(f"\nJobs broker: {'embedded (' + broker.removeprefix('sqla+') + ')' if is_embedded(broker) else broker}")
    supervisor.start(env, Path.cwd())
    for child in children:
        click.echo(f"started {child.name} (pid {child.pid}), log {child.log_path}")
    url = _web_url(host, port)
    died = None
    if supervisor.wait_for_url(web, f"{url}/healthz", READY_TIMEOUT):
        click.echo(f"Web: {url}" + ("  (sign in with a demo login above)" if demo else ""))
    elif supervisor.stop_requested is None:
        died = web
    worker = children[0]
    if died is None and supervisor.wait_for_log(worker, " ready.", READY_TIMEOUT):
        click.echo("worker ready: due timers fire by themselves. Press Ctrl-C to stop.")
    if died is None and not supervisor.stop_requested:
        died = supervisor.watch()
    if died is not None:
        code = died.process.poll() if died.process else None
        state = "did not answer" if code is None else f"stopped (exit code {code})"
        click.echo(f"error: {died.name} {state}; see {died.log_path}", err=True)
    click.echo("stopping…")
    supervisor.stop()
    click.echo("stopped")
    if died is not None:
        sys.exit(1)


COMMANDS = [run_command]

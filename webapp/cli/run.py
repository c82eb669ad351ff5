"""CLI: `parcours run` — load the demo data, then run the product (jobs worker, beat; web later) until Ctrl-C."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app

from engine.db import db
from tasks.config import broker_url, is_embedded
from webapp.cli.demo import load_demo
from webapp.cli.processes import Child, Supervisor
from webapp.cli.support import database_command

CELERY = [sys.executable, "-m", "celery", "-A", "tasks.worker"]
READY_TIMEOUT = 90.0


def _web_child(logs: Path) -> Child | None:
    """HOOK(web): the web server, once `webapp` serves pages (e.g. gunicorn "webapp:create_app()").
    The web app is not built yet, so there is nothing to start."""
    return None


def _children(logs: Path, concurrency: int) -> list[Child]:
    children = [
        Child("worker", [*CELERY, "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
                         "--hostname", f"parcours-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
              logs / "worker.log"),
        Child("beat", [*CELERY, "beat", "--loglevel", "INFO"], logs / "beat.log"),
    ]
    web = _web_child(logs)
    return [*children, web] if web is not None else children


@click.command("run")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Load the demo data first (idempotent: an existing demo is kept).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: 1 on SQLite, 2 otherwise).")
@database_command
def run_command(demo: bool, concurrency: int | None) -> None:
    """Run Parcours: demo data, then the jobs worker and beat (timers fire by themselves) until Ctrl-C."""
    if demo:
        load_demo()
    instance = Path(current_app.instance_path)
    logs = instance / "logs"
    sqlite = db.engine.dialect.name == "sqlite"
    db.session.remove()
    children = _children(logs, concurrency or (1 if sqlite else 2))
    env = {**os.environ, "PARCOURS_INSTANCE_PATH": str(instance)}
    supervisor = Supervisor(children)
    supervisor.install_signal_handlers()
    broker = broker_url(str(instance))
    click.echo(f"\nJobs broker: {'embedded (' + broker.removeprefix('sqla+') + ')' if is_embedded(broker) else broker}")
    click.echo("Web: not built yet — use the command line meanwhile (parcours --help)")
    supervisor.start(env, Path.cwd())
    for child in children:
        click.echo(f"started {child.name} (pid {child.pid}), log {child.log_path}")
    worker = children[0]
    if supervisor.wait_for_log(worker, " ready.", READY_TIMEOUT):
        click.echo("worker ready: due timers fire by themselves. Press Ctrl-C to stop.")
    died = None if supervisor.stop_requested else supervisor.watch()
    if died is not None:
        click.echo(f"error: {died.name} stopped (exit code {died.process.returncode if died.process else '?'}); "
                   f"see {died.log_path}", err=True)
    click.echo("stopping…")
    supervisor.stop()
    click.echo("stopped")
    if died is not None:
        sys.exit(1)


COMMANDS = [run_command]

"""Real Celery worker and beat processes for the job tests (`celery -A tasks.worker ...` as subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from engine.db import db

CELERY = [sys.executable, "-m", "celery", "-A", "tasks.worker"]
READY_TIMEOUT = 90.0


def database_url(app: Flask) -> str:
    """The URL of ``app``'s database, for a worker's DATABASE_URL (the password kept, psycopg's driver default)."""
    with app.app_context():
        url = db.engine.url
        if url.drivername.startswith("postgresql"):
            url = url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)


def job_env(instance: Path, database_url: str, broker: str | None, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat: this test's database and broker (None: the embedded one), nothing
    inherited that could point it elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CELERY_RESULT_BACKEND")
           and not k.startswith(("PARCOURS_", "FLASK_"))}
    env.update(DATABASE_URL=database_url, PARCOURS_INSTANCE_PATH=str(instance), PARCOURS_TIMER_SWEEP_SECONDS="1")
    if broker:
        env["CELERY_BROKER_URL"] = broker
    env.update(extra)
    return env


class CeleryProcess:
    """One `celery worker` or `celery beat`, in a process group of its own (so it can be killed whole)."""

    def __init__(self, kind: str, env: dict[str, str], log: Path, *args: str) -> None:
        self.kind = kind
        self.log = log
        argv = [*CELERY, kind, "--loglevel", "INFO", *args]
        if kind == "worker":
            argv += ["--without-gossip", "--without-mingle", "--hostname", f"test-{log.stem}@%h"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                argv, env=env, cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """A worker prints `ready.` once it consumes; beat `beat: Starting...`."""
        marker = " ready." if self.kind == "worker" else "beat: Starting"
        wait_until(lambda: marker in self.output, timeout, f"{self.kind} not ready", self)

    def kill(self) -> None:
        """SIGKILL the whole group: the worker and its pool processes die at once, nothing is cleaned up."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def check_alive(self) -> None:
        assert self.process.poll() is None, f"{self.kind} exited with {self.process.returncode}\n{self.output[-4000:]}"


def wait_until(condition: Callable[[], Any], timeout: float, what: str, *processes: CeleryProcess) -> Any:
    """Poll ``condition`` until it is truthy; fail with the processes' logs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for process in processes:
            process.check_alive()
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.kind} log\n{p.output[-4000:]}" for p in processes)
            raise AssertionError(f"{what} after {timeout:.0f} s\n{logs}")
        time.sleep(0.1)

"""How Parcours starts its web server: the gunicorn command line (`parcours run`, the browser tests)."""

from __future__ import annotations

import sys

APP = "webapp:create_app()"
THREADS = 4


def _control_socket_off() -> list[str]:
    """gunicorn ≥ 25 opens a control socket at one fixed path in $HOME: two servers on one machine (several
    `parcours run`, the browser tests) would fight over it, and Parcours does not use it."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def gunicorn_argv(host: str, port: int, workers: int | None, threads: int = THREADS) -> list[str]:
    """gunicorn serving ``create_app()`` on ``host:port`` with threaded workers, both logs on stdout.

    ``workers`` None leaves the number to gunicorn (WEB_CONCURRENCY, else 1).
    """
    return [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
            *(["--workers", str(workers)] if workers is not None else []),
            "--threads", str(threads), "--worker-class", "gthread", "--graceful-timeout", "10",
            "--access-logfile", "-", "--error-logfile", "-", *_control_socket_off(), APP]

"""Child processes of `parcours run`: start them, watch them, stop them all on Ctrl-C / SIGTERM, leave no orphan."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when `parcours run` dies, even by SIGKILL (Linux), so that a
    killed supervisor leaves no orphan worker behind."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # A session of its own: the terminal's Ctrl-C reaches only the supervisor, which then stops the children
        # in order (SIGTERM = Celery's warm shutdown) instead of every process receiving SIGINT at once.
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv built by `parcours run`
            self.argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads yet

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        """Signal the child's whole process group (a Celery worker and its pool processes)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Supervisor:
    """Runs children until a stop signal or until one of them dies; then stops the others."""

    def __init__(self, children: Sequence[Child]) -> None:
        self.children = list(children)
        self.stop_requested: str | None = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop_requested = signal.Signals(signum).name

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def start(self, env: dict[str, str], cwd: Path) -> None:
        for child in self.children:
            child.start(env, cwd)

    def wait_for_log(self, child: Child, text: str, timeout: float) -> bool:
        """True once ``text`` appears in the child's log; False if it died, a stop was asked, or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.stop_requested is None and child.alive():
            if text in child.log_path.read_text(encoding="utf-8", errors="replace"):
                return True
            time.sleep(0.2)
        return False

    def wait_for_url(self, child: Child, url: str, timeout: float) -> bool:
        """True once ``url`` answers 200 (the web server is up); False if the child died, a stop was asked, or
        time ran out."""
        deadline = time.monotonic() + timeout
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a local server: never via a proxy
        while time.monotonic() < deadline and self.stop_requested is None and child.alive():
            try:
                with direct.open(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        return False

    def watch(self) -> Child | None:
        """Block until a stop signal (returns None) or a child's death (returns that child)."""
        while self.stop_requested is None:
            for child in self.children:
                if not child.alive():
                    return child
            time.sleep(0.2)
        return None

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every child (Celery: warm shutdown, running jobs finish); SIGKILL the process group of any
        child still there after ``grace``, and any process left in a stopped child's group."""
        for child in reversed(self.children):
            if child.alive():
                assert child.process is not None
                child.process.terminate()  # the main process only: Celery stops its own pool processes
        deadline = time.monotonic() + grace
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.signal_group(signal.SIGKILL)
                child.process.wait()
            # The worker's pool processes share its group: make sure none outlives it.
            child.signal_group(signal.SIGKILL)
            child.close_log()


def port_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port`` (already in use, address not available), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: unknown host ({exc.strerror})"
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use (another server is listening there)"
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None

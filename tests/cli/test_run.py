"""`parcours run`, the README's run command, as a subprocess on the embedded default (SQLite + embedded broker):
it loads the demo, starts the web server, worker and beat, prints the logins and the URL (a demo login works
over real HTTP), and Ctrl-C (SIGINT) or SIGTERM stops every child with exit code 0 and no orphan process;
a port already taken is one readable line and exit 1."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli.helpers import PARCOURS, ROLE_LOGINS, Cli, assert_ok, assert_readable_failure
from tests.live_http import HttpSession, free_port

pytestmark = pytest.mark.slow

START_TIMEOUT = 240.0
STOP_TIMEOUT = 60.0
READY_LINE = "Press Ctrl-C to stop"


class Running:
    """`parcours run` in the background; its output read line by line."""

    def __init__(self, cli: Cli, *args: str) -> None:
        env = {k: v for k, v in cli.env.items() if k not in ("CELERY_BROKER_URL", "REDIS_URL", "WEB_CONCURRENCY")}
        self.port = free_port()  # never 5000: another `parcours run` may be up on this machine
        env["PARCOURS_WEB_PORT"] = str(self.port)
        self.process = subprocess.Popen(  # noqa: S603 - our own console script
            [PARCOURS, "run", *args], cwd=cli.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.log_dir = cli.workdir / "logs"
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError(f"parcours run ended before printing {text!r}\n{self.output}")
            self.lines.append(line)
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed after {timeout:.0f} s\n{self.output}")

    def finish(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def child_pids(self) -> dict[str, int]:
        return {m.group(1): int(m.group(2)) for line in self.lines
                if (m := re.match(r"started (\w+) \(pid (\d+)\)", line))}

    def kill(self) -> None:
        """Whatever happened: no process left, the output pipe closed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        for pid in self.child_pids().values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _processes_in_groups(groups: set[int]) -> list[str]:
    """Live processes whose process group is one of ``groups`` (a child or one of its pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        state, pgid = fields[0], int(fields[2])
        if pgid in groups and state != "Z":
            found.append(f"pid {entry.name} (group {pgid}, state {state})")
    return found


def _assert_stops_cleanly(running: Running, signum: int) -> None:
    pids = running.child_pids()
    assert set(pids) == {"worker", "beat", "web"}, running.output
    assert not [name for name, pid in pids.items() if not _processes_in_groups({pid})], \
        f"a child was not running before the signal\n{running.output}"
    running.process.send_signal(signum)
    code = running.finish(STOP_TIMEOUT)
    assert code == 0, f"exit code {code}\n{running.output}"
    assert "stopped" in running.lines[-1], running.output
    deadline = time.monotonic() + 10
    while (left := _processes_in_groups(set(pids.values()))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"orphans after parcours run stopped: {left}\n{running.output}"


def _assert_a_demo_login_works(url: str, running: Running) -> None:
    """The printed URL serves the login page; the nurse signs in with the form's CSRF token and sees her inbox."""
    browser = HttpSession(url)
    assert browser.get("/auth/login").status == 200, running.output
    refused = browser.login("infirmier", "wrong")
    assert refused.status == 401 and "Identifiant ou mot de passe incorrect" in refused.text
    signed_in = browser.login("infirmier")
    assert signed_in.status == 302, f"{signed_in.status} {signed_in.text[:500]}"
    inbox = browser.get("/inbox/")
    assert inbox.status == 200 and "Mes tâches" in inbox.text, inbox.text[:500]
    web_log = (running.log_dir / "web.log").read_text(encoding="utf-8")
    assert '"POST /auth/login HTTP/1.1" 302' in web_log, web_log[-2000:]


def test_run_loads_the_demo_prints_logins_and_stops_every_child_on_ctrl_c(cli: Cli) -> None:
    running = Running(cli)
    try:
        running.wait_for(READY_LINE, START_TIMEOUT)
        output = running.output
        assert "Demo logins (password: demo)" in output
        for login in ROLE_LOGINS:
            assert re.search(rf"^\s+{login}\s+\d+$", output, re.MULTILINE), f"{login} not listed\n{output}"
        assert "Jobs broker: embedded" in output and "celery-broker.sqlite3" in output
        url = f"http://127.0.0.1:{running.port}"
        assert re.search(rf"^Web: {re.escape(url)}\b", output, re.MULTILINE), output
        _assert_a_demo_login_works(url, running)
        assert (cli.workdir / "celery-broker.sqlite3").is_file()
        worker_log = (cli.workdir / "logs" / "worker.log").read_text(encoding="utf-8")
        assert "parcours.timers.sweep" in worker_log
        _assert_stops_cleanly(running, signal.SIGINT)
    finally:
        running.kill()
    assert "Traceback" not in running.output


def test_run_stops_every_child_on_sigterm_when_started_without_the_demo(init_cli: Cli) -> None:
    running = Running(init_cli, "--no-demo")
    try:
        running.wait_for(READY_LINE, START_TIMEOUT)
        assert "Demo logins" not in running.output
        _assert_stops_cleanly(running, signal.SIGTERM)
    finally:
        running.kill()
    # the database is untouched and usable afterwards
    assert assert_ok(init_cli.run("pathways", "--json")).json() == []


def test_run_leaves_no_orphan_when_it_is_killed_with_sigkill(init_cli: Cli) -> None:
    """No handler runs on SIGKILL: the children still stop, because each asked the kernel for SIGTERM when its
    parent dies (prctl PR_SET_PDEATHSIG)."""
    running = Running(init_cli, "--no-demo")
    try:
        running.wait_for(READY_LINE, START_TIMEOUT)
        groups = set(running.child_pids().values())
        running.process.kill()
        running.process.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while (left := _processes_in_groups(groups)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"orphans after parcours run was killed: {left}\n{running.output}"
    finally:
        running.kill()


def test_run_says_so_and_exits_1_when_the_web_port_is_taken(init_cli: Cli) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = init_cli.run("run", "--no-demo", "--port", str(port), timeout=60)
    assert_readable_failure(result, f"port {port} on 127.0.0.1 is already in use", "--port")
    assert "started" not in result.stdout, str(result)

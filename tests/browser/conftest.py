"""Browser tests: Playwright (sync API) drives Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
against the real app served by gunicorn, on each test database (SQLite and PostgreSQL), seeded with the demo.

Marker `browser` (registered here). Screenshots of each key step, and of every open page when a test fails,
go to test-artifacts/browser/<test>/; a failing test's report also shows the end of the server's log.
A missing Chromium fails the tests with a readable message (`bash .ci/services` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.live_server import LiveServer, drop_pg_database, fresh_pg_database, running_server
from tests.browser.pages import Screenshots
from tests.browser.scenario import OperatedYesterday, patient_operated_yesterday
from tests.conftest import BACKENDS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000  # a generous wait for a page on a loaded 2-core machine, not a measured duration

expect.set_options(timeout=TIMEOUT_MS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium (Playwright) against the app served by "
                                       "gunicorn (tests/browser)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test (the page fixture screenshots failures); add the server's log."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and isinstance(server, LiveServer):
        report.sections.append((f"live server log ({server.log_path})", server.log_tail()))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need Debian's Chromium at {CHROMIUM}, which is missing: run "
                    f"`bash .ci/services` (apt-get install chromium chromium-driver); never `playwright install`",
                    pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app under gunicorn on a free port, on a database of its own loaded with `parcours demo`'s data."""
    backend = request.param
    instance = tmp_path_factory.mktemp(f"live-{backend}")
    if backend == "sqlite":
        with running_server(backend, "sqlite:///" + str(instance / "parcours.sqlite3"), instance) as server:
            yield server
    elif backend == "postgresql":
        try:
            with running_server(backend, fresh_pg_database(), instance) as server:
                yield server
        finally:
            drop_pg_database()
    else:
        raise ValueError(f"unknown test backend {backend}")


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.nodeid.removeprefix("tests/browser/"))


@pytest.fixture
def open_page(chromium: Browser, live_server: LiveServer, shots: Screenshots,
              request: pytest.FixtureRequest) -> Iterator[Callable[[str], Page]]:
    """``open_page(who)``: a new browser window with its own cookies (one per professional), in French, in
    Paris time, on the live server. A failing test leaves a screenshot and the console of each window."""
    windows: list[tuple[str, BrowserContext, Page, list[str]]] = []

    def open_window(who: str) -> Page:
        context = chromium.new_context(base_url=live_server.url, locale="fr-FR", timezone_id="Europe/Paris",
                                       viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        # Every content-security-policy violation of the app's pages is kept where the tests can read it.
        context.add_init_script("window.__cspViolations = []; document.addEventListener("
                                "'securitypolicyviolation', e => window.__cspViolations.push("
                                "e.violatedDirective + ' ' + e.blockedURI));")
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        windows.append((who, context, page, console))
        return page

    yield open_window
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for who, context, page, console in windows:
        try:
            if failed:
                shots.take(page, f"failure-{who}")
                (shots.directory / f"console-{who}.txt").write_text("\n".join(console), encoding="utf-8")
        finally:
            context.close()


@pytest.fixture
def operated_yesterday(live_server: LiveServer) -> OperatedYesterday:
    """A new patient operated yesterday (rrac_epaule), the nurse's J+1 call open now."""
    with live_server.database():
        return patient_operated_yesterday()

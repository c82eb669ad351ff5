"""Web test fixtures: the test client on both databases, a signed-in professional, a care team."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.clock import ManualClock

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(response: TestResponse) -> str:
    """The CSRF token of the (first) form of a page."""
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    assert match, "no csrf_token in the page"
    return match.group(1)


class FreshRequestClient(FlaskClient):
    """The test client, with per-request caches cleared before each request.

    Tests hold an app context open (to read the database between requests), and Flask reuses it for the
    requests they make, so ``g`` would carry the last request's user (Flask-Login) and locale (Babel) into
    the next one. In production every request has its own app context; this makes tests behave the same.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:  # type: ignore[override]
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


class WebUser:
    """A test browser (the Flask test client) that signs in through the login form, as a user would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, login: str, password: str = "demo") -> TestResponse:
        page = self.client.get("/auth/login")
        return self.client.post("/auth/login", data={"login": login, "password": password,
                                                     "csrf_token": csrf_token(page)})

    def token_of(self, path: str) -> str:
        return csrf_token(self.client.get(path))

    def post_form(self, page_path: str, action: str, data: dict[str, object]) -> TestResponse:
        """Open ``page_path``, then submit ``data`` to ``action`` with that page's CSRF token."""
        return self.client.post(action, data={**data, "csrf_token": self.token_of(page_path)})


def _client(app: Flask) -> FlaskClient:
    app.test_client_class = FreshRequestClient
    return app.test_client()


@pytest.fixture
def web(app: Flask) -> WebUser:
    return WebUser(_client(app))


@pytest.fixture
def browser_for(app: Flask) -> Callable[[str], WebUser]:
    """A separate signed-in test browser per login (several professionals side by side)."""

    def make(login: str, password: str = "demo") -> WebUser:
        user = WebUser(_client(app))
        response = user.login(login, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return make


@pytest.fixture
def web_clock(app: Flask) -> ManualClock:
    return app.extensions["parcours_clock"]  # type: ignore[no-any-return]

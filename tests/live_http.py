"""Talking to a real server over HTTP in tests: a free port, a cookie-keeping session that signs in with the
login form's CSRF token (`parcours run`, the browser tests' live server)."""

from __future__ import annotations

import http.cookiejar
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Page:
    status: int
    url: str
    text: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpSession:
    """A minimal browser without JavaScript: cookies kept, redirects not followed (so tests see them)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),  # local: never via a proxy
                                                   urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self._opener.open(request, timeout=30) as response:
                return Page(response.status, response.headers.get("Location") or response.url,
                            response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx, 5xx
            return Page(exc.code, exc.headers.get("Location") or "", exc.read().decode("utf-8", "replace"))

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.base_url + path))

    def post(self, path: str, data: dict[str, str]) -> Page:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body, method="POST"))

    def login(self, login: str, password: str = "demo") -> Page:
        """Open the login page, then post the form with its CSRF token, as a browser would."""
        page = self.get("/auth/login")
        match = CSRF_FIELD.search(page.text)
        assert match, f"no csrf_token on the login page (status {page.status})"
        return self.post("/auth/login", {"login": login, "password": password, "csrf_token": match.group(1)})

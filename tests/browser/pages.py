"""What a user does in the browser, written once: sign in, fill a form rendered from a JSON Schema, find an
inbox row; and the screenshots each test leaves in test-artifacts/browser/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
DEMO_PASSWORD = "demo"  # noqa: S105 - the demo logins' documented password

# How a form may spell a JSON Schema boolean: a checkbox, or a select / radio buttons with one of these values.
_TRUE = ("true", "oui", "1", "on", "True", "yes")
_FALSE = ("false", "non", "0", "False", "no", "")


class Screenshots:
    """Numbered full-page screenshots of one test: test-artifacts/browser/<module>/<test[backend]>/NN-<step>.png."""

    def __init__(self, test_name: str) -> None:
        parts = [re.sub(r"[^A-Za-z0-9_.\[\]-]+", "_", part).strip("_") for part in test_name.split("::")]
        self.directory = ARTIFACTS.joinpath(*[part.removesuffix(".py") for part in parts if part])
        shutil.rmtree(self.directory, ignore_errors=True)  # only this run's steps
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def _next(self, step: str) -> Path:
        self.count += 1
        return self.directory / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9_-]+', '-', step)}.png"

    def take(self, page: Page, step: str) -> Path:
        path = self._next(step)
        page.screenshot(path=str(path), full_page=True)
        return path

    def take_element(self, element: Locator, step: str) -> Path:
        """Only ``element`` (the diagram), at full size: a full page shrinks it to a thumbnail."""
        path = self._next(step)
        element.screenshot(path=str(path))
        return path


def sign_in(page: Page, login: str, password: str = DEMO_PASSWORD) -> None:
    """Type the login and password on the login page and press the button, as a user does."""
    page.goto("/auth/login")
    page.get_by_label("Identifiant", exact=True).fill(login)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_load_state()


def inbox_row(page: Page, work_item_id: int) -> Locator:
    return page.locator(f'tr[data-work-item-id="{work_item_id}"]')


def _spellings(value: Any) -> tuple[str, ...]:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return (str(value),)


def _pick(available: list[str], value: Any, name: str) -> str:
    for spelling in _spellings(value):
        if spelling in available:
            return spelling
    raise AssertionError(f"field {name!r} offers {available}, none of them means {value!r}")


def fill_field(form: Locator, name: str, value: Any) -> None:
    """Set the form's field ``name`` (a JSON Schema property) to ``value``, whatever widget renders it."""
    fields = form.locator(f'[name="{name}"]:not([type="hidden"])')
    count = fields.count()
    assert count, f"the form has no field named {name!r}"
    first = fields.first
    tag = first.evaluate("e => e.tagName.toLowerCase()")
    kind = (first.get_attribute("type") or "").lower()
    if tag == "select":
        options = first.locator("option").evaluate_all("options => options.map(o => o.value)")
        first.select_option(_pick(options, value, name))
    elif kind == "radio":
        values = fields.evaluate_all("radios => radios.map(r => r.value)")
        form.locator(f'input[type="radio"][name="{name}"][value="{_pick(values, value, name)}"]').check()
    elif kind == "checkbox":
        first.set_checked(bool(value))
    else:
        first.fill(str(value))


def fill_form(form: Locator, values: dict[str, Any]) -> None:
    expect(form).to_be_visible()
    for name, value in values.items():
        fill_field(form, name, value)

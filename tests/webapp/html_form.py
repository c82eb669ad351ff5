"""Read a page's form as a browser would submit it (checked boxes and radios, selected options, typed text)."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, action: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._error_of: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = self.action is None or a.get("action") == self.action
        if tag == "p" and "field-error" in a.get("class", "") and a.get("id", "").startswith("f-"):
            self._error_of = a["id"][2:].removesuffix("-error")
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[a["name"]] = a.get("value", "on")
            else:
                self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            self.values.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "p":
            self._error_of = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data
        if self._error_of:
            self.errors[self._error_of] = self.errors.get(self._error_of, "") + data


def read_form(html: str, action: str | None = None) -> dict[str, str]:
    """The fields the form (the one posting to ``action``, else every form) would submit."""
    reader = _FormReader(action)
    reader.feed(html)
    return reader.values


def field_errors(html: str) -> dict[str, str]:
    """The message shown next to each schema field (``<p class="field-error" id="f-NAME-error">``)."""
    reader = _FormReader(None)
    reader.feed(html)
    return {k: re.sub(r"\s+", " ", v).strip() for k, v in reader.errors.items()}

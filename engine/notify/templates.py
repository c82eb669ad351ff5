"""Message templates: Jinja files under workflows/templates/<language>/<key>.txt, rendered in a sandbox.

A template has two blocks, ``subject`` (e-mail only) and ``body``. Patient texts receive only neutral
values (date, time, place, how to cancel, how to opt out, an optional one-time link): the caller never
passes a diagnosis, a pathway, a specialty or an identifier, and the shipped texts are checked for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import InvalidInput

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
_DAYS = {"fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
         "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
_MONTHS = {"fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                  "novembre", "décembre"),
           "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December")}


class TemplateMissing(InvalidInput):
    """No template file for this key (in this language or in French)."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


@lru_cache(maxsize=8)
def _environment(templates_dir: str) -> SandboxedEnvironment:
    # Sandboxed: a template edited by a site cannot reach Python internals. Autoescape only for HTML files;
    # the shipped templates are plain text (SMS and text e-mail).
    return SandboxedEnvironment(loader=FileSystemLoader(templates_dir), autoescape=select_autoescape(["html"]),
                                undefined=StrictUndefined, trim_blocks=True, keep_trailing_newline=False)


def format_date(when: datetime, zone: ZoneInfo, language: str) -> str:
    """``mardi 24 novembre 2026`` / ``Tuesday 24 November 2026`` in the recipient's timezone."""
    local = when.astimezone(zone)
    lang = language if language in _DAYS else DEFAULT_LANGUAGE
    return f"{_DAYS[lang][local.weekday()]} {local.day} {_MONTHS[lang][local.month - 1]} {local.year}"


def format_time(when: datetime, zone: ZoneInfo, language: str) -> str | None:
    """``14 h 30`` / ``2:30 pm``; None at midnight (a day-level anchor: the time is not known)."""
    local = when.astimezone(zone)
    if local.hour == 0 and local.minute == 0:
        return None
    if language == "en":
        hour = local.hour % 12 or 12
        return f"{hour}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"
    return f"{local.hour} h {local.minute:02d}" if local.minute else f"{local.hour} h"


def render_message(templates_dir: Path, key: str, language: str, params: dict[str, Any]) -> RenderedMessage:
    """Render template ``key`` in ``language`` (French when that language has no such file)."""
    env = _environment(str(templates_dir))
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    template = None
    for candidate in dict.fromkeys((lang, DEFAULT_LANGUAGE)):
        try:
            template = env.get_template(f"{candidate}/{key}.txt")
            break
        except TemplateNotFound:
            continue
    if template is None:
        raise TemplateMissing(f"no message template '{key}' in {templates_dir} (expected {lang}/{key}.txt)")
    try:
        context = template.new_context(dict(params))
        subject = "".join(template.blocks["subject"](context)).strip() if "subject" in template.blocks else ""
        body = "".join(template.blocks["body"](context)).strip() if "body" in template.blocks else \
            template.render(params).strip()
    except TemplateError as exc:
        raise InvalidInput(f"message template '{key}' ({lang}) failed: {exc}") from exc
    return RenderedMessage(subject=" ".join(subject.split()), body=body)


def template_keys(templates_dir: Path, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Every template key shipped for ``language``."""
    return sorted(p.stem for p in (templates_dir / language).glob("*.txt"))

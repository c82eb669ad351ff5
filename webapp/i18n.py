"""Languages and dates: French first, English available (flask-babel), dates in the viewer's timezone.

Template filters: ``when`` (a date and time), ``day`` (a date), ``due_label`` ("dans 3 jours",
"en retard de 2 jours", "aujourd'hui"), ``jday`` ("J+1" from an anchor date).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from babel import Locale
from babel.dates import format_timedelta as babel_format_timedelta
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, format_date, format_datetime, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from webapp.web import clock, viewer_zone

LOCALES = ("fr", "en")
babel = Babel()


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        return chosen
    if current_user and getattr(current_user, "is_authenticated", False):
        locale = getattr(current_user, "locale", None)
        if locale in LOCALES:
            return locale  # type: ignore[no-any-return]
    return request.accept_languages.best_match(LOCALES) or current_app.config["PARCOURS_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return viewer_zone().key


@functools.lru_cache(maxsize=16)
def _abbreviations(locale_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The locale's abbreviated weekday (Monday first) and month (January at 1) names, as CLDR has them."""
    locale = Locale.parse(locale_id)
    days, months = locale.days["format"]["abbreviated"], locale.months["format"]["abbreviated"]
    return tuple(days[i] for i in range(7)), ("",) + tuple(months[m] for m in range(1, 13))


def when(value: datetime | None, fmt: str = "medium") -> str:
    """A date and time in the viewer's timezone and language: "lun. 16 nov. 2026 08:00"."""
    if value is None:
        return "—"
    if fmt != "medium" or not has_request_context():
        return format_datetime(value, "EEE d MMM yyyy HH:mm" if fmt == "medium" else fmt)
    # What babel prints for "EEE d MMM yyyy HH:mm", without its pattern machinery (~40 µs a date, and an
    # inbox page shows 25 of them): the CLDR names once per locale, the rest is numbers.
    local = value.astimezone(viewer_zone())
    days, months = _abbreviations(str(get_locale()))
    return f"{days[local.weekday()]} {local.day} {months[local.month]} {local.year} {local:%H:%M}"


def day(value: datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_date(value.astimezone(viewer_zone()).date(), "EEE d MMM yyyy")
    return format_date(value, "EEE d MMM yyyy")


def _days_between(value: datetime, now: datetime) -> int:
    zone = viewer_zone()
    return (value.astimezone(zone).date() - now.astimezone(zone).date()).days


@functools.lru_cache(maxsize=1024)
def _in_days(locale_id: str, days: int, add_direction: bool) -> str:
    """"3 jours" / "dans 3 jours" in a locale: a handful of values, formatted once each."""
    return babel_format_timedelta(timedelta(days=days), granularity="day", threshold=1.0, add_direction=add_direction,
                                  locale=locale_id)


def due_label(value: datetime | None, now: datetime | None = None) -> str:
    """How a due date reads to the professional today: overdue by, today, or in how long."""
    if value is None:
        return _("sans échéance")
    now = now or clock().now()
    locale_id = str(get_locale())
    if value < now:
        late = now - value
        if late < timedelta(days=1):
            return _("en retard de %(delta)s", delta=format_timedelta(late, threshold=1.0))
        return _("en retard de %(delta)s", delta=_in_days(locale_id, max(1, -_days_between(value, now)), False))
    days = _days_between(value, now)
    if days == 0:
        return _("aujourd'hui à %(time)s", time=f"{value.astimezone(viewer_zone()):%H:%M}")
    if days == 1:
        return _("demain à %(time)s", time=f"{value.astimezone(viewer_zone()):%H:%M}")
    return _in_days(locale_id, days, True)


def jday(value: datetime | None, anchor: datetime | None, prefix: str = "J") -> str:
    """The clinical day of ``value`` counted from ``anchor`` (J0 = the anchor's day): J+1, J-7."""
    if value is None or anchor is None:
        return ""
    zone = viewer_zone()
    days = (value.astimezone(zone).date() - anchor.astimezone(zone).date()).days
    return f"{prefix}{days:+d}" if days else f"{prefix}0"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories="translations")
    app.jinja_env.filters.update(when=when, day=day, due_label=due_label, jday=jday)
    app.jinja_env.globals.update(LOCALES=LOCALES, get_locale=get_locale)

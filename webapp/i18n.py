"""Languages and dates: French first, English available (flask-babel), dates in the viewer's timezone.

Template filters: ``when`` (a date and time), ``day`` (a date), ``due_label`` ("dans 3 jours",
"en retard de 2 jours", "aujourd'hui"), ``jday`` ("J+1" from an anchor date).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, current_app, request
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


def when(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    return format_datetime(value, "EEE d MMM yyyy HH:mm" if fmt == "medium" else fmt)


def day(value: datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_date(value.astimezone(viewer_zone()).date(), "EEE d MMM yyyy")
    return format_date(value, "EEE d MMM yyyy")


def _days_between(value: datetime, now: datetime) -> int:
    zone = viewer_zone()
    return (value.astimezone(zone).date() - now.astimezone(zone).date()).days


def due_label(value: datetime | None, now: datetime | None = None) -> str:
    """How a due date reads to the professional today: overdue by, today, or in how long."""
    if value is None:
        return _("sans échéance")
    now = now or clock().now()
    if value < now:
        late = now - value
        if late < timedelta(days=1):
            return _("en retard de %(delta)s", delta=format_timedelta(late, threshold=1.0))
        return _("en retard de %(delta)s", delta=format_timedelta(timedelta(days=max(1, -_days_between(value, now))),
                                                                   granularity="day", threshold=1.0))
    days = _days_between(value, now)
    if days == 0:
        return _("aujourd'hui à %(time)s", time=format_datetime(value, "HH:mm"))
    if days == 1:
        return _("demain à %(time)s", time=format_datetime(value, "HH:mm"))
    return format_timedelta(timedelta(days=days), granularity="day", add_direction=True, threshold=1.0)


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

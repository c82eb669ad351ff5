"""The pages' date filters read as babel would print them, in the viewer's language and timezone.

``when`` and ``due_label`` format the names and numbers themselves (an inbox page shows 25 dates, and babel's
pattern machinery cost ~40 µs each): these tests hold them to babel's own output, in both languages, across
timezones and a daylight-saving change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, g
from flask_babel import format_datetime, format_timedelta

from webapp.i18n import due_label, when

NOW = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # the night before the end of summer time in Paris
ZONES = ("Europe/Paris", "America/Cayenne", "Indian/Reunion", "Pacific/Noumea")


def _moments() -> list[datetime]:
    return [NOW + timedelta(hours=h, minutes=17 * h) for h in range(-24 * 9, 24 * 40, 7)]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("zone", ZONES)
def test_when_reads_as_babel_prints_it(app: Flask, lang: str, zone: str) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        g.parcours_viewer_zone = ZoneInfo(zone)
        for moment in _moments():
            assert when(moment) == format_datetime(moment, "EEE d MMM yyyy HH:mm"), moment
        assert when(None) == "—"


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("zone", ZONES)
def test_due_label_reads_as_babel_prints_it(app: Flask, lang: str, zone: str) -> None:
    with app.test_request_context(f"/?lang={lang}"):
        g.parcours_viewer_zone = tz = ZoneInfo(zone)
        for moment in _moments():
            days = (moment.astimezone(tz).date() - NOW.astimezone(tz).date()).days
            label = due_label(moment, NOW)
            if moment < NOW and NOW - moment >= timedelta(days=1):
                late = format_timedelta(timedelta(days=max(1, -days)), granularity="day", threshold=1.0)
                assert label == ("en retard de " if lang == "fr" else "overdue by ") + late, moment
            elif moment >= NOW and days == 0:
                assert label.endswith(format_datetime(moment, "HH:mm")) and label.startswith(
                    "aujourd'hui à" if lang == "fr" else "today at"), moment
            elif moment >= NOW and days == 1:
                assert label.endswith(format_datetime(moment, "HH:mm")), moment
            elif moment >= NOW:
                assert label == format_timedelta(timedelta(days=days), granularity="day", add_direction=True,
                                                 threshold=1.0), moment


def _spaced(text: str) -> str:
    return text.replace("\N{NO-BREAK SPACE}", " ").replace("\N{NARROW NO-BREAK SPACE}", " ")


def test_due_label_in_french_for_the_professional(app: Flask) -> None:
    with app.test_request_context("/?lang=fr"):
        g.parcours_viewer_zone = ZoneInfo("Europe/Paris")
        assert _spaced(due_label(NOW + timedelta(days=3), NOW)) == "dans 3 jours"
        assert _spaced(due_label(NOW - timedelta(days=2, hours=1), NOW)) == "en retard de 2 jours"
        assert due_label(NOW + timedelta(hours=1), NOW) == "demain à 00:30"  # 23:30 UTC is 00:30 in Paris
        assert when(NOW) == "sam. 24 oct. 2026 23:30"

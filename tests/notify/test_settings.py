"""Notification settings read from the app config (PARCOURS_NOTIFY_*)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import InvalidInput
from engine.notify.settings import ENV_SETTINGS, NotifySettings


def test_reminder_lease_is_five_minutes_unless_configured_in_seconds() -> None:
    assert NotifySettings.from_mapping({}).lease == timedelta(minutes=5)
    assert NotifySettings.from_mapping({"PARCOURS_NOTIFY_LEASE_SECONDS": "7"}).lease == timedelta(seconds=7)
    assert "PARCOURS_NOTIFY_LEASE_SECONDS" in ENV_SETTINGS  # read from the environment by webapp/config.py


def test_reminder_lease_is_refused_when_not_a_positive_whole_number() -> None:
    for raw in ("0", "2.5", "soon"):
        with pytest.raises(InvalidInput, match="PARCOURS_NOTIFY_LEASE_SECONDS"):
            NotifySettings.from_mapping({"PARCOURS_NOTIFY_LEASE_SECONDS": raw})

"""Notification settings: read once from a mapping (the app config, itself filled from PARCOURS_* variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.errors import InvalidInput
from engine.notify.quiet_hours import QuietHours

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "workflows" / "templates"
# Every setting, its environment variable and its default; the README lists them.
ENV_SETTINGS = (
    "PARCOURS_NOTIFY_EMAIL_URL",  # apprise URL for e-mail (mailto://, mailtos://); unset: local outbox
    "PARCOURS_NOTIFY_SMS_URL",  # apprise URL of an SMS provider; unset: local outbox
    "PARCOURS_QUIET_HOURS",  # "20:00-09:00"
    "PARCOURS_QUIET_SUNDAYS",  # "1" / "0"
    "PARCOURS_NOTIFY_MAX_ATTEMPTS",  # attempts per channel before the fallback channel
    "PARCOURS_NOTIFY_RETRY_SECONDS",  # first retry delay, doubled at each attempt
    "PARCOURS_NOTIFY_LEASE_SECONDS",  # how long a claimed reminder is held before another dispatcher takes it
    "PARCOURS_PUBLIC_URL",  # base of the links in messages
    "PARCOURS_CANCEL_CONTACT",  # how a patient cancels (a phone number of the practice)
    "PARCOURS_PATIENT_LINK_HOURS",  # lifetime of a one-time patient link
)


@dataclass(frozen=True)
class NotifySettings:
    email_url: str | None = None
    sms_url: str | None = None
    quiet_hours: QuietHours = QuietHours()
    max_attempts: int = 3
    retry_delay: timedelta = timedelta(minutes=1)
    # A dispatcher's hold on the reminders it claimed; past it (the dispatcher died), another one sends them.
    # Longer than a batch takes to send (500 x a few ms with the pooled SMTP channel), or a live dispatcher's
    # rows could be taken over before it reaches them.
    lease: timedelta = timedelta(minutes=5)
    due_soon: timedelta = timedelta(hours=24)
    public_url: str = "http://localhost:5000"
    cancel_contact: str = "le secrétariat de votre maison de santé"
    patient_link_lifetime: timedelta = timedelta(hours=48)
    templates_dir: Path = DEFAULT_TEMPLATES_DIR

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> NotifySettings:
        """Settings from the app config; a malformed value is an InvalidInput naming the variable."""
        def number(name: str, default: int) -> int:
            raw = config.get(name)
            if raw in (None, ""):
                return default
            try:
                value = int(raw)
            except (TypeError, ValueError):
                raise InvalidInput(f"{name} must be a whole number, got {raw!r}") from None
            if value < 1:
                raise InvalidInput(f"{name} must be at least 1, got {value}")
            return value

        quiet = QuietHours.parse(config.get("PARCOURS_QUIET_HOURS") or "20:00-09:00",
                                 sundays=str(config.get("PARCOURS_QUIET_SUNDAYS", "1")).lower()
                                 not in ("0", "false", "no", "off"))
        return cls(
            email_url=config.get("PARCOURS_NOTIFY_EMAIL_URL") or None,
            sms_url=config.get("PARCOURS_NOTIFY_SMS_URL") or None,
            quiet_hours=quiet,
            max_attempts=number("PARCOURS_NOTIFY_MAX_ATTEMPTS", cls.max_attempts),
            retry_delay=timedelta(seconds=number("PARCOURS_NOTIFY_RETRY_SECONDS", 60)),
            lease=timedelta(seconds=number("PARCOURS_NOTIFY_LEASE_SECONDS", 300)),
            public_url=str(config.get("PARCOURS_PUBLIC_URL") or cls.public_url).rstrip("/"),
            cancel_contact=str(config.get("PARCOURS_CANCEL_CONTACT") or cls.cancel_contact),
            patient_link_lifetime=timedelta(hours=number("PARCOURS_PATIENT_LINK_HOURS", 48)),
            templates_dir=Path(config["PARCOURS_WORKFLOWS_DIR"]) / "templates"
            if config.get("PARCOURS_WORKFLOWS_DIR") else DEFAULT_TEMPLATES_DIR,
        )

    def retry_after(self, channel_attempts: int) -> timedelta:
        """Exponential backoff: the first retry after ``retry_delay``, then twice as long each time."""
        return self.retry_delay * (2 ** max(channel_attempts - 1, 0))

"""Delivery channels: the local outbox (default, nothing leaves the machine) and apprise URLs (SMTP, SMS).

A channel sends one message and returns the reference a provider receipt will carry, or raises
DeliveryError (``transient``: worth retrying). The dispatch service owns retries, fallback and audit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.db import db
from engine.models import OutboxMessage
from engine.notify.settings import NotifySettings

log = logging.getLogger(__name__)
CHANNELS = ("sms", "email")


class DeliveryError(Exception):
    """A channel could not hand the message over; ``transient`` when a later attempt may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class OutgoingMessage:
    reminder_id: int | None
    channel: str  # sms, email
    address: str  # phone number or e-mail address
    subject: str
    body: str
    reference: str  # ours, stable per reminder and attempt: the provider id when the provider gives none
    at: datetime


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; return the provider message id (or our reference)."""
        ...


def mask(address: str) -> str:
    """An address fit for a log line: ``+336******78``, ``j***@example.org``."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return address[:4] + "*" * max(len(address) - 6, 0) + address[-2:]


class OutboxChannel:
    """Keeps the message in the ``outbox_message`` table and logs one line: the default, for every site
    that has not configured a provider (and for demos and tests)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: OutgoingMessage) -> str:
        db.session.add(OutboxMessage(reminder_id=message.reminder_id, channel=message.channel,
                                     address=message.address, subject=message.subject[:200], body=message.body,
                                     reference=message.reference, created_at=message.at))
        log.info("outbox: %s to %s kept locally (reminder %s, ref %s)", message.channel, mask(message.address),
                 message.reminder_id, message.reference)
        return f"outbox:{message.reference}"


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in extra.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


class AppriseChannel:
    """Any apprise URL: ``mailto://user:pass@smtp.example.org?from=rappels@example.org`` for e-mail, an SMS
    provider's URL for SMS. The recipient goes in ``to=``; e-mails carry our reference in an
    ``X-Parcours-Ref`` header. Apprise answers yes or no: a refused URL is permanent, a failed send transient.
    """

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    def _url_for(self, message: OutgoingMessage) -> str:
        extra = {"to": message.address, "format": "text"}
        if message.channel == "email":
            extra["+X-Parcours-Ref"] = message.reference
        return _with_query(self.url, extra)

    def send(self, message: OutgoingMessage) -> str:
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(self._url_for(message)):
            raise DeliveryError(f"the {self.name} URL is not a usable apprise URL (check PARCOURS_NOTIFY_"
                                f"{self.name.upper()}_URL)", transient=False)
        title = message.subject if message.channel == "email" else ""
        with apprise.LogCapture(level=logging.WARNING) as captured:
            ok = notifier.notify(body=message.body, title=title, body_format=apprise.NotifyFormat.TEXT)
        if not ok:
            reason = " ".join(line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines()[-2:])
            raise DeliveryError(f"{self.name} provider refused or unreachable: {reason or 'no detail'}"[:500],
                                transient=True)
        return message.reference


def close_channels(channels: dict[str, Channel]) -> None:
    """Close what a channel keeps open (the pooled SMTP connection); call when a dispatcher is done."""
    for channel in channels.values():
        close = getattr(channel, "close", None)
        if close is not None:
            close()


def build_channels(settings: NotifySettings) -> dict[str, Channel]:
    """The configured channel for sms and email: the local outbox unless a URL is set; ``smtp://``,
    ``smtps://`` and ``smtp+starttls://`` use the pooled SMTP channel, any other URL goes through apprise."""
    from engine.notify.smtp import SCHEMES, SmtpChannel

    email: Channel = OutboxChannel("email")
    if settings.email_url:
        scheme = settings.email_url.split("://", 1)[0].lower()
        email = SmtpChannel(settings.email_url) if scheme in SCHEMES else AppriseChannel("email", settings.email_url)
    return {
        "email": email,
        "sms": AppriseChannel("sms", settings.sms_url) if settings.sms_url else OutboxChannel("sms"),
    }

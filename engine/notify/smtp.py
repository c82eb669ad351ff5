"""A pooled SMTP channel for volume: one connection reused across messages, a stable Message-ID.

apprise's ``mailto://`` opens a new connection and builds a fresh TLS context for every message (about
40 ms of CPU each, measured in bench/RESULTS.md): fine for a practice, too slow for a campaign. URLs
``smtp://host:port`` (plain), ``smtp+starttls://`` and ``smtps://`` (implicit TLS) use this channel,
with ``user:password@`` and ``?from=`` like apprise. The Message-ID is derived from our reference, so a
message sent again after a crash carries the same id (receivers can drop the duplicate).
"""

from __future__ import annotations

import smtplib
import ssl
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from engine.errors import InvalidInput
from engine.notify.channels import DeliveryError, OutgoingMessage

SCHEMES = ("smtp", "smtps", "smtp+starttls")
# A UTF-8 body as 8bit, or quoted-printable when a line is longer than 78 characters, and a subject as encoded
# words when not ASCII: the choices EmailMessage.set_content made for these texts. Built with the classic
# (compat32) email API: the default policy's header objects parse and re-fold every header, about 1 ms of CPU a
# message (bench/RESULTS.md), for the same text on the receiver's side.
UTF8 = Charset("utf-8")
UTF8.header_encoding = QP
UTF8.body_encoding = None  # 8bit
UTF8_QP = Charset("utf-8")
UTF8_QP.header_encoding = QP
UTF8_QP.body_encoding = QP
MAX_LINE = 78


class SmtpChannel:
    """E-mail over SMTP with a reused connection (one per dispatcher process)."""

    name = "email"

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise InvalidInput(f"PARCOURS_NOTIFY_EMAIL_URL is not a usable SMTP URL ({parts.scheme}://...): expected "
                               f"smtp://host:port?from=address")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (465 if parts.scheme == "smtps" else 587 if parts.scheme == "smtp+starttls" else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query)
        self.sender = (query.get("from") or [f"parcours@{self.host}"])[0]
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None
        self._context = ssl.create_default_context() if parts.scheme != "smtp" else None

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        if self.scheme == "smtps":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                        context=self._context, local_hostname="localhost")
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname="localhost")
            if self.scheme == "smtp+starttls":
                connection.starttls(context=self._context)
        if self.user and self.password:
            connection.login(self.user, self.password)
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._connection = None

    def send(self, message: OutgoingMessage) -> str:
        body = message.body if message.body.endswith("\n") else message.body + "\n"  # as set_content ends it
        long_lines = any(len(line) > MAX_LINE for line in body.splitlines())
        mail = MIMEText(body, "plain", UTF8_QP if long_lines else UTF8)
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject if message.subject.isascii() else Header(message.subject, UTF8)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.reference}@parcours>"
        mail["X-Parcours-Ref"] = message.reference
        for attempt in (1, 2):  # a pooled connection the server closed meanwhile: reconnect once
            try:
                refused = self._connect().send_message(mail)
                break
            except smtplib.SMTPRecipientsRefused as exc:
                raise DeliveryError(f"the mail server refused {list(exc.recipients)}", transient=False) from exc
            except smtplib.SMTPResponseException as exc:
                self.close()
                raise DeliveryError(f"mail server answered {exc.smtp_code}: {exc.smtp_error!r}"[:500],
                                    transient=exc.smtp_code < 500) from exc
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                if attempt == 2:
                    raise DeliveryError(f"mail server unreachable: {exc}"[:500], transient=True) from exc
        if refused:
            raise DeliveryError(f"the mail server refused {sorted(refused)}", transient=False)
        return message.reference

"""A real SMTP server on loopback (aiosmtpd, in a thread) that keeps what it receives, for the delivery tests."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content().strip()  # type: ignore[union-attr]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.received.append(Received(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start with ``with SmtpSink() as sink:``; ``sink.port``, ``sink.received``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        # server_hostname: aiosmtpd would otherwise resolve the machine's FQDN on every connection
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, server_hostname="localhost")

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def apprise_url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=rappels@parcours.test&mode=insecure"

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=rappels@parcours.test"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

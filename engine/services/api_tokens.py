"""API tokens for integrations: issue (the plain token is shown once), authenticate, revoke, list."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, InvalidTransition, NotFound
from engine.models import ApiToken, Professional
from engine.services import audit
from engine.services.people import actor_for, create_professional, professional_by_login
from engine.types import Actor

TOKEN_PREFIX = "pct_"  # noqa: S105 - a public prefix ("Parcours token"), recognisable by secret scanners
MAX_DAYS = 3650


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``plain`` is the secret, returned here once and never stored."""

    token: ApiToken
    plain: str


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def issue_token(login: str, name: str, *, clock: Clock, actor: Actor, days: int | None = None) -> IssuedToken:
    """Create a bearer token for a professional (or a service account); only its SHA-256 is kept.

    ``days``: lifetime (none: until revoked). Flushes and audits.
    """
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise InvalidInput("a token needs a name of 1 to 120 characters (what integration uses it)")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"--days must be between 1 and {MAX_DAYS}")
    pro = professional_by_login(login)
    now = clock.now()
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(professional_id=pro.id, name=name, token_hash=hash_token(plain), created_at=now,
                     expires_at=now + timedelta(days=days) if days else None)
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "api_token.issued", at=now, object_type="api_token", object_id=token.id,
                 details={"professional": pro.login, "name": name, "days": days})
    return IssuedToken(token, plain)


def authenticate(plain: str, *, clock: Clock) -> Actor | None:
    """The actor a bearer token stands for, or None (unknown, revoked, expired, inactive user).

    Marks the token used (``last_used_at``, written with the request's transaction).
    """
    if not plain or len(plain) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    now = clock.now()
    if token is None or token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    pro = db.session.get(Professional, token.professional_id)
    if pro is None or not pro.active:
        return None
    # Once a minute at most: a busy integration does not rewrite its token row on every call.
    if token.last_used_at is None or now - token.last_used_at >= timedelta(minutes=1):
        token.last_used_at = now
    return actor_for(pro)


def revoke_token(token_id: int, *, clock: Clock, actor: Actor) -> ApiToken:
    """Revoke a token for good (flushes, audits); revoking twice is refused."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    if token.revoked_at is not None:
        raise InvalidTransition(f"API token {token_id} was already revoked")
    token.revoked_at = clock.now()
    audit.record(actor, "api_token.revoked", at=token.revoked_at, object_type="api_token", object_id=token.id)
    db.session.flush()
    return token


@dataclass(frozen=True)
class TokenRow:
    id: int
    login: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def list_tokens() -> list[TokenRow]:
    """Every token (never its secret), oldest first."""
    rows = db.session.execute(select(ApiToken, Professional.login).join(
        Professional, Professional.id == ApiToken.professional_id).order_by(ApiToken.id))
    return [TokenRow(t.id, login, t.name, t.created_at, t.last_used_at, t.expires_at, t.revoked_at)
            for t, login in rows]


def ensure_service_account(login: str, *, clock: Clock, actor: Actor) -> Professional:
    """A professional with no role, for software (an SMS provider's receipts): no care team, no patient data.

    Created when missing (flushes, audits); an existing login must hold no role.
    """
    pro = db.session.scalar(select(Professional).where(Professional.login == login))
    if pro is None:
        pro = create_professional(login, f"Compte de service {login}", [], at=clock.now())
        audit.record(actor, "service_account.created", at=clock.now(), object_type="professional", object_id=pro.id)
    elif pro.role_codes:
        raise InvalidInput(f"'{login}' holds roles ({', '.join(sorted(pro.role_codes))}): not a service account")
    return pro


def is_service_account(actor: Actor) -> bool:
    """A token of a professional without any role: software acting on its own (provider callbacks)."""
    return actor.is_professional and not actor.roles

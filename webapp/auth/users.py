"""The signed-in professional, as Flask-Login sees them, and the engine Actor they act as."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask_login import UserMixin, current_user

from engine.db import db
from engine.errors import NotPermitted
from engine.models import Professional
from engine.services.people import actor_for
from engine.types import Actor


@dataclass
class SessionUser(UserMixin):
    """A professional signed in to the web app (built from their row at each request)."""

    professional_id: int
    login: str
    full_name: str
    roles: frozenset[str]
    site: str | None
    locale: str
    timezone: str
    actor: Actor

    def get_id(self) -> str:
        return str(self.professional_id)

    @property
    def is_coordinator(self) -> bool:
        return "coordinateur" in self.roles

    @classmethod
    def of(cls, pro: Professional) -> SessionUser:
        actor = actor_for(pro)
        return cls(pro.id, pro.login, pro.full_name, actor.roles, pro.site, pro.locale or "fr",
                   pro.timezone or "Europe/Paris", actor)


def load_user(user_id: str) -> SessionUser | None:
    """Flask-Login's user loader: an active professional, else no session."""
    if not user_id.isdigit():
        return None
    pro = db.session.get(Professional, int(user_id))
    if pro is None or not pro.active:
        return None
    return SessionUser.of(pro)


def current_actor() -> Actor:
    """Who acts for this request: the API token's professional, else the signed-in professional."""
    actor = g.get("api_actor")
    if actor is not None:
        return actor  # type: ignore[no-any-return]
    if current_user and current_user.is_authenticated:
        return current_user.actor  # type: ignore[no-any-return]
    raise NotPermitted("sign in first")


def current_session_user() -> SessionUser | None:
    """The signed-in professional, or None (anonymous, or an API token request)."""
    if current_user and current_user.is_authenticated:
        return current_user  # type: ignore[return-value]
    return None

"""The studio's access rule, read once per view: a signed-in care manager, else 403 (or the login page)."""

from __future__ import annotations

from engine.services.care_managers import require_care_manager
from engine.types import Actor
from webapp.auth.users import current_actor


def studio_actor() -> Actor:
    """The signed-in care manager; NotPermitted (403) for every other professional."""
    actor = current_actor()
    require_care_manager(actor)
    return actor

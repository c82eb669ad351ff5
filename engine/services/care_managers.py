"""Who may work in the pathway studio: care managers, i.e. the site's coordinators."""

from __future__ import annotations

from engine.errors import NotPermitted
from engine.types import Actor


def require_care_manager(actor: Actor) -> str:
    """The care manager's site, or NotPermitted (403: pathway definitions are no patient's data).

    The local operator (CLI) and the system manage every site: they get "" (no site restriction)."""
    if actor.is_trusted_operator:
        return ""
    if not actor.is_professional or "coordinateur" not in actor.roles or not actor.site:
        raise NotPermitted("the pathway studio is for the site's care managers (coordinateurs)")
    return actor.site

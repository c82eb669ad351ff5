"""Saved inbox filters: save the current filter under a name (private or shared with my site), list, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, NotFound, NotPermitted
from engine.models import Professional, SavedFilter
from engine.services import audit
from engine.services.inbox_listing import parse_filter_params
from engine.types import Actor

MAX_NAME = 120
MAX_FILTERS_PER_OWNER = 50


@dataclass(frozen=True)
class SavedFilterView:
    """A saved filter as a professional sees it: whose it is, and whether they may delete it."""

    id: int
    name: str
    params: dict[str, Any]
    shared: bool
    owner_name: str
    mine: bool


def _require_professional(actor: Actor) -> int:
    if not actor.is_professional or actor.professional_id is None:
        raise NotPermitted("saved filters belong to a professional")
    return actor.professional_id


def _visible_to(actor: Actor) -> Any:
    mine = SavedFilter.owner_id == actor.professional_id
    if not actor.site:
        return mine
    return or_(mine, and_(SavedFilter.shared.is_(True), SavedFilter.site == actor.site))


def save_filter(actor: Actor, name: str, params: dict[str, Any], *, shared: bool, clock: Clock) -> SavedFilter:
    """Save ``params`` (filter keys only, validated) under ``name``; saving my own name again replaces it.

    A shared filter is visible to the professionals of my site. Flushes, audits ("saved_filter.saved").
    """
    owner_id = _require_professional(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a saved filter needs a name", {"name": "required"})
    if len(name) > MAX_NAME:
        raise InvalidInput(f"a saved filter's name is at most {MAX_NAME} characters", {"name": "too long"})
    if not isinstance(params, dict):
        raise InvalidInput("filter parameters must be an object", {"params": "not an object"})
    clean, _ = parse_filter_params(params, strict=True)
    if shared and not actor.site:
        raise InvalidInput("a filter can be shared only by a professional attached to a site", {"shared": "no site"})
    existing = db.session.scalar(select(SavedFilter).where(SavedFilter.owner_id == owner_id,
                                                           SavedFilter.name == name))
    if existing is None:
        owned = db.session.query(SavedFilter).filter(SavedFilter.owner_id == owner_id).count()
        if owned >= MAX_FILTERS_PER_OWNER:
            raise InvalidInput(f"at most {MAX_FILTERS_PER_OWNER} saved filters each: delete one first",
                               {"name": "too many"})
        existing = SavedFilter(owner_id=owner_id, name=name, created_at=clock.now())
        db.session.add(existing)
    existing.params = clean
    existing.shared = bool(shared)
    existing.site = actor.site
    db.session.flush()
    audit.record(actor, "saved_filter.saved", at=clock.now(), object_type="saved_filter", object_id=existing.id,
                 details={"name": name, "shared": existing.shared, "params": clean})
    return existing


def list_saved_filters(actor: Actor) -> list[SavedFilterView]:
    """My saved filters and those my site's colleagues share, mine first, by name (one query)."""
    _require_professional(actor)
    rows = db.session.execute(
        select(SavedFilter, Professional.full_name).join(Professional, Professional.id == SavedFilter.owner_id)
        .where(_visible_to(actor)).order_by(SavedFilter.name, SavedFilter.id))
    views = [SavedFilterView(f.id, f.name, dict(f.params or {}), f.shared, owner,
                             f.owner_id == actor.professional_id) for f, owner in rows]
    return sorted(views, key=lambda v: not v.mine)


def delete_saved_filter(actor: Actor, filter_id: int, *, clock: Clock) -> None:
    """Delete one of my saved filters. A colleague's shared filter: NotPermitted; unseen: NotFound.

    Flushes, audits ("saved_filter.deleted").
    """
    owner_id = _require_professional(actor)
    saved = db.session.scalar(select(SavedFilter).where(SavedFilter.id == filter_id, _visible_to(actor)))
    if saved is None:
        raise NotFound(f"no saved filter {filter_id}")
    if saved.owner_id != owner_id:
        raise NotPermitted("only its owner may delete a saved filter")
    audit.record(actor, "saved_filter.deleted", at=clock.now(), object_type="saved_filter", object_id=saved.id,
                 details={"name": saved.name})
    db.session.delete(saved)
    db.session.flush()

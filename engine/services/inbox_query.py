"""The open work items a professional should see, as an ORM query: the CLI's inbox and the API's list.

"Mine OR in my queues" is a UNION ALL of two index-driven selects (``inbox_listing.my_open_items``; the OR
form made PostgreSQL scan the whole work_item table, ~300 ms at 1,000,000 rows), read as WorkItem entities
straight from the union's rows. The statement is built once per process and per filter *shape* (which
filters are set), with bound parameters: building and keying it again at every call cost ~2-3 ms of CPU.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, and_, bindparam, or_, select
from sqlalchemy.orm import aliased

from engine.models import PathwayInstance, PathwayVersion, WorkItem
from engine.models.types import UTCDateTime
from engine.services.inbox_listing import my_open_items
from engine.types import Actor

ALL_COLUMNS = tuple(c.key for c in WorkItem.__table__.columns)


@dataclass(frozen=True)
class InboxFilter:
    overdue: bool = False
    pathway_key: str | None = None
    patient_id: int | None = None
    status: str | None = None
    after: tuple[datetime | None, int] | None = None  # keyset: the (due_at, id) of the previous page's last item
    limit: int = 200


def inbox_query(actor: Actor, *, at: datetime, flt: InboxFilter | None = None) -> tuple[Select[Any], dict[str, Any]]:
    """(SELECT of WorkItem, its parameters): the actor's open work items with the filter, soonest due first."""
    flt = flt or InboxFilter()
    after_kind = None if flt.after is None else ("undated" if flt.after[0] is None else "dated")
    statement = _statement(flt.overdue, flt.pathway_key is not None, flt.patient_id is not None,
                           flt.status is not None, after_kind)
    params: dict[str, Any] = {"professional_id": actor.professional_id, "at": at, "limit": flt.limit,
                              "pathway_key": flt.pathway_key, "patient_id": flt.patient_id, "status": flt.status}
    if flt.after is not None:
        params["after_due"], params["after_id"] = flt.after
    return statement, params


@functools.cache
def _statement(overdue: bool, by_pathway: bool, by_patient: bool, by_status: bool, after: str | None
               ) -> Select[Any]:
    at = bindparam("at", type_=UTCDateTime())
    item = aliased(WorkItem, my_open_items(bindparam("professional_id", type_=Integer()), at, columns=ALL_COLUMNS),
                   name="my_items")
    query = select(item)
    if overdue:
        query = query.where(item.due_at < at)
    if by_patient:
        query = query.where(item.patient_id == bindparam("patient_id"))
    if by_status:
        query = query.where(item.status == bindparam("status"))
    if after == "undated":  # the inbox order (due date, nulls last, then id), after the given item
        query = query.where(item.due_at.is_(None), item.id > bindparam("after_id"))
    elif after == "dated":
        due = bindparam("after_due", type_=UTCDateTime())
        query = query.where(or_(item.due_at.is_(None), item.due_at > due,
                                and_(item.due_at == due, item.id > bindparam("after_id"))))
    if by_pathway:
        query = query.join(PathwayInstance, PathwayInstance.id == item.instance_id).join(
            PathwayVersion, PathwayVersion.id == PathwayInstance.version_id).where(
            PathwayVersion.key == bindparam("pathway_key"))
    return query.order_by(item.due_at.is_(None), item.due_at, item.id).limit(bindparam("limit", type_=Integer()))

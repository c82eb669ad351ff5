"""Housekeeping of the embedded broker: kombu's SQLAlchemy transport keeps every delivered message.

Its ``kombu_message`` table only flips ``visible`` to false when a worker takes a message and never deletes
it (kombu 5.x), so the embedded broker file grows by every job ever run (about 17,000 rows a day with the
default beat table). A taken message is never read again — a message that must be redelivered (a worker
lost before acknowledging it) is put back as a new row — so deleting taken rows once they are old is safe.
Redis needs none of this.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app, shared_task
from sqlalchemy import create_engine, inspect, text

from tasks.config import is_embedded

log = logging.getLogger(__name__)

KEEP_TAKEN_FOR = timedelta(hours=1)  # a taken message stays this long (for debugging a job just run)


def prune_taken_messages(broker: str, *, older_than: timedelta = KEEP_TAKEN_FOR) -> int:
    """Delete the embedded broker's messages taken by a worker more than ``older_than`` ago; returns how many.
    Pending messages (visible) are never touched. Does nothing on any other broker."""
    if not is_embedded(broker):
        return 0
    engine = create_engine(broker.split("+", 1)[1])
    try:
        if not inspect(engine).has_table("kombu_message"):
            return 0
        # kombu stamps the row with naive local time (datetime.now) when a worker takes it.
        cutoff = datetime.now() - older_than  # noqa: DTZ005 - compared with kombu's naive local timestamps
        with engine.begin() as connection:
            result = connection.execute(
                text("DELETE FROM kombu_message WHERE visible = :taken AND timestamp < :cutoff"),
                {"taken": False, "cutoff": cutoff})
        return int(result.rowcount or 0)
    finally:
        engine.dispose()


@shared_task(name="parcours.broker.prune", ignore_result=False)
def prune_broker() -> int:
    """Beat job (embedded broker only): drop taken messages older than an hour."""
    removed = prune_taken_messages(str(current_app.conf.broker_url))
    if removed:
        log.info("embedded broker: %d taken messages pruned", removed)
    return removed

"""The embedded broker file stops growing: messages already taken by a worker are pruned, pending ones kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kombu import Connection
from sqlalchemy import create_engine, text

from tasks.broker_maintenance import prune_taken_messages


def _rows(url: str) -> dict[bool, int]:
    engine = create_engine(url.split("+", 1)[1])
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT visible, count(*) FROM kombu_message GROUP BY visible")).all()
    finally:
        engine.dispose()
    return {bool(visible): count for visible, count in rows}


def test_taken_messages_are_pruned_and_pending_ones_still_delivered(tmp_path: Path) -> None:
    url = "sqla+sqlite:///" + str(tmp_path / "celery-broker.sqlite3")
    with Connection(url) as connection:
        queue = connection.SimpleQueue("celery")
        for n in range(3):
            queue.put({"n": n})
        for _ in range(2):
            queue.get(timeout=5).ack()
        assert _rows(url) == {False: 2, True: 1}

        assert prune_taken_messages(url) == 0  # taken a moment ago: kept for an hour
        assert prune_taken_messages(url, older_than=timedelta(0)) == 2
        assert _rows(url) == {True: 1}

        message = queue.get(timeout=5)  # the pending message is still there, once
        assert message.payload == {"n": 2}
        message.ack()
        queue.close()


def test_other_brokers_and_a_fresh_file_are_left_alone(tmp_path: Path) -> None:
    assert prune_taken_messages("redis://127.0.0.1:6379/5") == 0
    assert prune_taken_messages("sqla+sqlite:///" + str(tmp_path / "new.sqlite3")) == 0

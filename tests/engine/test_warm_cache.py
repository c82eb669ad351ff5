"""Warm workflows are reused only for exactly the state they were dumped as, on the same compiled spec."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.bpmn import warm_cache


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    warm_cache.forget()
    yield
    warm_cache.forget()


SPEC, OTHER_SPEC = object(), object()


def test_warm_workflow_is_reused_once_when_the_stored_state_is_the_one_it_was_dumped_as() -> None:
    workflow = object()
    warm_cache.put(7, '{"state": 1}', SPEC, workflow)
    assert warm_cache.take(7, '{"state": 1}', SPEC) is workflow
    assert warm_cache.take(7, '{"state": 1}', SPEC) is None  # taken out while its step runs


@pytest.mark.parametrize(("instance_id", "state", "spec"), [
    (7, '{"state": 2}', SPEC),  # another process (or an edit) stored something else since
    (7, '{"state": 1}', OTHER_SPEC),  # the version's compiled spec was rebuilt
    (8, '{"state": 1}', SPEC),  # another instance
])
def test_warm_workflow_is_not_reused_when_state_spec_or_instance_differ(instance_id: int, state: str,
                                                                         spec: object) -> None:
    warm_cache.put(7, '{"state": 1}', SPEC, object())
    assert warm_cache.take(instance_id, state, spec) is None


def test_oldest_warm_workflows_are_dropped_when_the_cache_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_cache, "_CAPACITY", 2)
    for instance_id in (1, 2, 3):
        warm_cache.put(instance_id, "s", SPEC, object())
    assert warm_cache.take(1, "s", SPEC) is None
    assert warm_cache.take(2, "s", SPEC) is not None and warm_cache.take(3, "s", SPEC) is not None


def test_nothing_is_kept_when_the_cache_is_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_cache, "_CAPACITY", 0)
    warm_cache.put(1, "s", SPEC, object())
    assert warm_cache.take(1, "s", SPEC) is None

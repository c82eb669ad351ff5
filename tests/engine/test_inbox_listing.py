"""The inbox listing service: scope, windows and their counts, sorting, pages, one audited read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from engine.db import db
from engine.errors import InvalidInput, NotPermitted
from engine.models import AuditEvent
from engine.services.inbox import list_inbox
from engine.services.inbox_listing import InboxListQuery, list_inbox_page, parse_filter_params
from engine.services.people import add_care_team_member
from engine.types import Actor
from tests.factories import actor
from tests.inbox_data import PARIS, build_known_inbox, paris


def _titles(page) -> list[str]:
    return [r.title for r in page.rows]


def _page(known, clock, **kwargs):
    return list_inbox_page(actor(known.nurse), InboxListQuery(**kwargs), clock=clock, zone=PARIS)


def test_listing_shows_mine_and_my_roles_queue_in_my_care_teams_only(app, clock):
    known = build_known_inbox(clock)
    page = _page(known, clock)
    assert sorted(r.id for r in page.rows) == sorted(i.id for i in known.items.values())
    assert {r.id for r in page.rows}.isdisjoint(i.id for i in known.hidden.values())
    # same scope as the older inbox query (the CLI's), which lists every open item
    assert sorted(r.id for r in page.rows) == sorted(i.id for i in list_inbox(actor(known.nurse), clock=clock))
    mine = {r.title for r in page.rows if r.assigned_to_me}
    assert mine == {"Bilan infirmier", "hier", "ce_soir", "dimanche", "lundi_prochain"}


def test_counts_per_window_on_monday_morning_in_paris(app, clock):
    known = build_known_inbox(clock)
    page = _page(known, clock)
    assert page.counts == {"all": 8, "overdue": 2, "today": 3, "week": 5}
    assert _titles(_page(known, clock, window="overdue")) == ["hier", "ce_matin"]
    assert _titles(_page(known, clock, window="today")) == ["ce_matin", "Bilan infirmier", "ce_soir"]
    # Tuesday 00:00 Paris is still Monday in UTC: not today, but this week
    assert _titles(_page(known, clock, window="week")) == ["ce_matin", "Bilan infirmier", "ce_soir", "minuit",
                                                           "dimanche"]


def test_week_ends_on_sunday_midnight_in_the_viewers_timezone(app, clock):
    known = build_known_inbox(clock)
    clock.set(paris(22, 23, 0))
    page = _page(known, clock, window="week")
    assert "dimanche" in _titles(page) and "lundi_prochain" not in _titles(page)
    assert page.counts["today"] == 1  # dimanche, 23:30
    clock.set(paris(23, 0, 0))  # Monday: a new week
    page = _page(known, clock, window="week")
    assert _titles(page) == ["lundi_prochain"]


def test_sort_by_priority_puts_stat_before_asap_before_urgent_before_routine(app, clock):
    known = build_known_inbox(clock)
    page = _page(known, clock, sort="priority")
    assert [r.priority for r in page.rows] == ["stat", "asap", "asap", "urgent", "urgent", "routine", "routine",
                                               "routine"]
    assert _titles(page)[:3] == ["ce_soir", "lundi_prochain", "sans_echeance"]  # then by due date, none last


def test_pages_are_stable_and_a_page_past_the_end_shows_the_last(app, clock):
    known = build_known_inbox(clock)
    seen = [t for n in (1, 2, 3) for t in _titles(_page(known, clock, page=n, per_page=3))]
    assert seen == _titles(_page(known, clock))
    last = _page(known, clock, page=99, per_page=3)
    assert last.query.page == 3 and last.pages == 3 and _titles(last) == ["lundi_prochain", "sans_echeance"]


def test_pathway_and_patient_filters_narrow_rows_and_counts(app, clock):
    known = build_known_inbox(clock)
    page = _page(known, clock, pathway_key="rappels_taches")
    assert page.counts == {"all": 4, "overdue": 0, "today": 0, "week": 2}
    assert [(o.label, o.count) for o in page.pathways] == [  # every pathway of mine, by title
        ("Auto-mesure du patient et bilan infirmier", 4), ("Bilan infirmier puis synthèse du médecin traitant", 4)]
    assert [o.label for o in page.patients] == ["MARTIN Jeanne"]
    assert _page(known, clock, patient_id=known.hidden["other_patient_queue"].patient_id).rows == []


def test_listing_is_one_audited_read_in_one_query(app, clock):
    known = build_known_inbox(clock)
    nurse = actor(known.nurse)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        list_inbox_page(nurse, InboxListQuery(), clock=clock, zone=PARIS)
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects  # page, counts and filter options from the same rows
    audits = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inbox.listed")).all()
    assert len(audits) == 1
    assert audits[0].actor_label == "infirmier"
    assert audits[0].details["patients"] == [known.patient.id]
    assert audits[0].details["total"] == 8


def test_listing_refuses_an_actor_who_is_not_a_professional(app, clock):
    with pytest.raises(NotPermitted):
        list_inbox_page(Actor.cli(), InboxListQuery(), clock=clock, zone=PARIS)


def test_filter_params_ignore_or_refuse_unknown_values():
    assert parse_filter_params({"window": "overdue", "patient": "12", "page": "2"}) == (
        {"window": "overdue", "patient": 12}, {})
    assert parse_filter_params({"window": "soon", "sort": "name", "patient": "x"})[1] == {
        "window": "soon", "sort": "name", "patient": "x"}
    with pytest.raises(InvalidInput) as refused:
        parse_filter_params({"window": "overdue", "colour": "red"}, strict=True)
    assert refused.value.errors == {"colour": "unknown key"}


def test_overdue_flag_follows_the_clock(app, clock):
    known = build_known_inbox(clock)
    clock.advance(timedelta(hours=9))  # 17:00: the nurse's bilan (16:00) is late now
    rows = {r.title: r for r in _page(known, clock).rows}
    assert rows["Bilan infirmier"].overdue and not rows["ce_soir"].overdue


def test_queue_item_is_listed_once_when_a_membership_is_recorded_twice(app, clock):
    known = build_known_inbox(clock)
    add_care_team_member(known.patient, known.nurse, "infirmier", start=clock.now() - timedelta(days=1))
    db.session.commit()
    page = _page(known, clock)
    assert len(page.rows) == len({r.id for r in page.rows}) == 8
    assert page.counts["all"] == 8

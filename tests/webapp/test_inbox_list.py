"""The inbox list page (/inbox/): what a nurse sees, filters and their counts, sorting, pages, saved filters."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, SavedFilter
from engine.services.people import add_care_team_member, create_professional
from tests.inbox_data import KnownInbox, add_item, build_known_inbox, paris
from tests.webapp.conftest import WebUser, csrf_token

ROW = re.compile(r'<tr data-work-item-id="(\d+)"')
TITLE_LINK = re.compile(r'<a href="/inbox/items/(\d+)">([^<]*)</a>')


def _page(user: WebUser, query: str = "") -> str:
    response = user.client.get(f"/inbox/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _row_ids(html: str) -> list[int]:
    return [int(i) for i in ROW.findall(html)]


def _titles(html: str) -> list[str]:
    return [title for _id, title in TITLE_LINK.findall(html)]


def _row(html: str, item_id: int) -> str:
    start = html.index(f'<tr data-work-item-id="{item_id}"')
    return html[start:html.index("</tr>", start)]


@pytest.fixture
def known(app, clock) -> KnownInbox:
    return build_known_inbox(clock)


@pytest.fixture
def nurse(known, browser_for) -> WebUser:
    return browser_for("infirmier")


def test_signed_out_visitor_is_sent_to_login(app, web):
    response = web.client.get("/inbox/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_nurse_sees_her_items_and_her_roles_queue_in_her_care_teams_only(known, nurse):
    html = _page(nurse)
    assert sorted(_row_ids(html)) == sorted(item.id for item in known.items.values())
    for hidden in known.hidden.values():  # other patient's team, the GP's queue, a colleague's, a done one
        assert f'data-work-item-id="{hidden.id}"' not in html
        assert hidden.title not in _titles(html)
    row = _row(html, known.items["bilan"].id)
    assert f'<a href="/inbox/items/{known.items["bilan"].id}">Bilan infirmier</a>' in row
    assert f'<a href="/patients/{known.patient.id}">Jeanne Martin</a>' in row
    assert "Bilan infirmier puis synthèse du médecin traitant" in row and "Infirmier·ère" in row


def test_rows_mark_mine_with_unclaim_and_the_queue_with_claim(known, nurse):
    html = _page(nurse)
    mine = _row(html, known.items["ce_soir"].id)
    assert "Attribuée à moi" in mine and f'action="/inbox/items/{known.items["ce_soir"].id}/unclaim"' in mine
    assert 'name="csrf_token"' in mine and "Immédiat" in mine
    queued = _row(html, known.items["ce_matin"].id)
    assert "File du rôle" in queued and f'action="/inbox/items/{known.items["ce_matin"].id}/claim"' in queued
    assert 'name="csrf_token"' in queued and "Urgent" in queued


def test_overdue_items_read_late_in_red(known, nurse):
    html = _page(nurse)
    late = _row(html, known.items["hier"].id)
    assert 'class="overdue"' in late and "en retard de 22\N{NO-BREAK SPACE}heures" in late
    assert "aujourd&#39;hui à 18:00" in _row(html, known.items["ce_soir"].id)
    assert 'class="overdue"' not in _row(html, known.items["ce_soir"].id)


def test_filter_chips_show_their_counts_on_monday_morning_in_paris(known, nurse):
    html = _page(nurse)
    for label in ("En retard (2)", "Aujourd'hui (3)", "Cette semaine (5)", "Tout (8)"):
        assert label in html


@pytest.mark.parametrize(("window", "titles"), [
    ("overdue", ["hier", "ce_matin"]),
    ("today", ["ce_matin", "Bilan infirmier", "ce_soir"]),
    ("week", ["ce_matin", "Bilan infirmier", "ce_soir", "minuit", "dimanche"]),
    ("all", ["hier", "ce_matin", "Bilan infirmier", "ce_soir", "minuit", "dimanche", "lundi_prochain",
             "sans_echeance"]),
])
def test_each_window_lists_its_items_soonest_first(known, nurse, window, titles):
    assert _titles(_page(nurse, f"?window={window}")) == titles


def test_week_and_today_follow_the_clock_in_paris(known, nurse, clock):
    clock.set(paris(22, 23, 0))  # Sunday 23:00: 'dimanche' (23:30) is today; next Monday is next week
    html = _page(nurse, "?window=week")
    assert "dimanche" in _titles(html) and "lundi_prochain" not in _titles(html)
    assert "Aujourd'hui (1)" in html
    clock.set(paris(23, 0, 0))
    assert _titles(_page(nurse, "?window=week")) == ["lundi_prochain"]


def test_windows_follow_the_viewers_own_timezone(known, browser_for):
    known.nurse.timezone = "America/Martinique"  # UTC-4: Monday 03:00 there; Tuesday 00:00 Paris is Monday
    db.session.commit()
    html = _page(browser_for("infirmier"), "?window=today")
    assert _titles(html) == ["ce_matin", "Bilan infirmier", "ce_soir", "minuit"]
    assert "Aujourd'hui (4)" in html


def test_sort_by_priority_puts_stat_then_asap_then_urgent_then_routine(known, nurse):
    html = _page(nurse, "?sort=priority")
    assert _titles(html)[:5] == ["ce_soir", "lundi_prochain", "sans_echeance", "ce_matin", "minuit"]
    assert re.findall(r'data-priority="(\w+)"', html) == ["stat", "asap", "asap", "urgent", "urgent", "routine",
                                                          "routine", "routine"]


def test_pathway_and_patient_filters_narrow_the_rows_and_the_counts(known, nurse):
    html = _page(nurse, "?pathway=rappels_taches")
    assert _titles(html) == ["minuit", "dimanche", "lundi_prochain", "sans_echeance"]
    assert "En retard (0)" in html and "Cette semaine (2)" in html and "Tout (4)" in html
    assert 'href="/inbox/?pathway=rappels_taches&amp;window=overdue"' in html  # chips keep the filter
    assert len(_row_ids(_page(nurse, f"?patient={known.patient.id}"))) == 8
    other = known.hidden["other_patient_queue"].patient_id  # never another team's patient, even when asked
    html = _page(nurse, f"?patient={other}")
    assert _row_ids(html) == [] and "Aucune tâche en attente" in html


def test_pages_split_the_list_in_a_stable_order(known, nurse, app, monkeypatch):
    monkeypatch.setitem(app.config, "PARCOURS_INBOX_PAGE_SIZE", 3)
    first = _page(nurse)
    assert len(_row_ids(first)) == 3 and "page 1 sur 3" in first
    assert 'href="/inbox/?page=2"' in first and 'href="/inbox/?page=3"' in first
    pages = [first, _page(nurse, "?page=2"), _page(nurse, "?page=3")]
    assert [t for html in pages for t in _titles(html)] == [
        "hier", "ce_matin", "Bilan infirmier", "ce_soir", "minuit", "dimanche", "lundi_prochain", "sans_echeance"]
    sorted_page = _page(nurse, "?sort=priority&page=2")
    assert 'href="/inbox/?sort=priority&amp;page=3"' in sorted_page and 'rel="prev"' in sorted_page
    beyond = _page(nurse, "?page=40")
    assert _titles(beyond) == ["lundi_prochain", "sans_echeance"]
    assert "dernière page affichée" in beyond


@pytest.mark.parametrize(("query", "message"), [
    ("?page=abc", "Page « abc » non valide"),
    ("?page=0", "Page « 0 » non valide"),
    ("?sort=nom", "Tri « nom » inconnu"),
    ("?window=bientot", "Filtre « bientot » inconnu"),
    ("?patient=x", "Patient « x » non valide"),
])
def test_bad_query_arguments_are_ignored_with_a_message(known, nurse, query, message):
    html = _page(nurse, query)
    assert message in html
    assert len(_row_ids(html)) == 8


def test_empty_inbox_says_there_is_nothing_to_do(known, browser_for):
    html = _page(browser_for("medecin_traitant-P-002"))
    assert _row_ids(html) == []
    assert "Aucune tâche en attente" in html and "Tout (0)" in html


def test_each_listing_is_one_audited_read_naming_the_patients_shown(known, nurse):
    _page(nurse, "?window=today")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inbox.listed")).all()
    assert len(events) == 1
    assert events[0].actor_label == "infirmier" and events[0].details["patients"] == [known.patient.id]
    assert events[0].details["count"] == 3 and events[0].details["filter"] == {"window": "today"}


def test_coordinator_sees_their_own_items_the_same_way(known, browser_for, clock):
    coordinator = create_professional("coord", "Coordinatrice", ["coordinateur"], at=clock.now(), site="MSP Test",
                                      password="demo")
    add_care_team_member(known.patient, coordinator, "coordinateur", start=clock.now())
    instance_id = known.items["bilan"].instance_id
    from engine.models import PathwayInstance

    escalation = add_item(db.session.get(PathwayInstance, instance_id), "Bilan infirmier en retard",
                          role="coordinateur", due=paris(16, 12), clock=clock, priority="urgent")
    escalation.kind = "escalation"
    db.session.commit()
    html = _page(browser_for("coord"))
    assert _row_ids(html) == [escalation.id]
    assert "Escalade" in html and "Tout (1)" in html and "Prendre" in html


# -- saved filters -----------------------------------------------------------------------------------------------

def _save(user: WebUser, name: str, shared: bool = False, **params: object):
    data: dict[str, object] = {"name": name, **params}
    if shared:
        data["shared"] = "1"
    return user.post_form("/inbox/", "/inbox/filters", data)


def _saved_names(html: str) -> list[str]:
    return re.findall(r'<li data-saved-filter-id="\d+">\s*<a href="[^"]*"[^>]*>([^<]*)</a>', html)


def test_saving_a_filter_applies_it_and_lists_it_for_its_owner(known, nurse):
    response = _save(nurse, "Mes urgences", window="overdue", sort="priority")
    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox/?window=overdue&sort=priority"
    html = nurse.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Filtre « Mes urgences » enregistré." in html
    assert _saved_names(html) == ["Mes urgences"]
    assert 'href="/inbox/?window=overdue&amp;sort=priority" aria-current="true">Mes urgences</a>' in html
    saved = db.session.scalar(select(SavedFilter))
    assert saved.params == {"window": "overdue", "sort": "priority"} and not saved.shared


def test_private_filter_stays_private_and_shared_one_reaches_same_site_colleagues(known, nurse, browser_for,
                                                                                 clock):
    _save(nurse, "Privé", window="today")
    _save(nurse, "Équipe", shared=True, pathway="rappels_taches")
    create_professional("ide-lyon", "IDE Lyon", ["infirmier"], at=clock.now(), site="Autre site", password="demo")
    db.session.commit()
    colleague = _page(browser_for("ide-b"))
    assert _saved_names(colleague) == ["Équipe"]
    assert "de Dr infirmier" in colleague and "Supprimer" not in colleague.split("Filtres enregistrés")[1].split(
        "Enregistrer ce filtre")[0]
    assert _saved_names(_page(browser_for("ide-lyon"))) == []
    assert _saved_names(_page(nurse)) == ["Privé", "Équipe"] or _saved_names(_page(nurse)) == ["Équipe", "Privé"]


def test_only_the_owner_may_delete_a_saved_filter(known, nurse, browser_for):
    _save(nurse, "Équipe", shared=True, window="week")
    _save(nurse, "Privé", window="today")
    shared_id, private_id = (f.id for f in db.session.scalars(select(SavedFilter).order_by(SavedFilter.id)))
    colleague = browser_for("ide-b")
    assert colleague.post_form("/inbox/", f"/inbox/filters/{shared_id}/delete", {}).status_code == 403
    assert colleague.post_form("/inbox/", f"/inbox/filters/{private_id}/delete", {}).status_code == 404
    assert db.session.scalar(select(SavedFilter).where(SavedFilter.id == shared_id)) is not None
    response = nurse.post_form("/inbox/", f"/inbox/filters/{shared_id}/delete", {})
    assert response.status_code == 302
    db.session.expire_all()
    assert [f.name for f in db.session.scalars(select(SavedFilter))] == ["Privé"]
    assert "Filtre supprimé." in nurse.client.get("/inbox/").get_data(as_text=True)


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "window": "today"}, "Donnez un nom au filtre"),
    ({"name": "x" * 121}, "Donnez un nom au filtre"),
    ({"name": "Bizarre", "window": "bientot"}, "paramètres inconnus ou non valides : window"),
    ({"name": "Bizarre", "colour": "rouge"}, "paramètres inconnus ou non valides : colour"),
    ({"name": "Bizarre", "patient": "abc"}, "paramètres inconnus ou non valides : patient"),
])
def test_saving_an_invalid_filter_is_refused_with_a_reason(known, nurse, data, message):
    response = nurse.post_form("/inbox/", "/inbox/filters", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(SavedFilter)) is None


def test_saving_a_filter_needs_the_forms_csrf_token(known, nurse):
    response = nurse.client.post("/inbox/filters", data={"name": "Sans jeton"})
    assert response.status_code == 400
    assert db.session.scalar(select(SavedFilter)) is None


def test_saving_again_under_the_same_name_replaces_my_filter(known, nurse):
    _save(nurse, "Le mien", window="today")
    _save(nurse, "Le mien", window="week")
    saved = db.session.scalars(select(SavedFilter)).all()
    assert [(f.name, f.params) for f in saved] == [("Le mien", {"window": "week"})]
    assert csrf_token(nurse.client.get("/inbox/"))

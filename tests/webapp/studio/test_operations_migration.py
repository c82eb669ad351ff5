"""The migration page: the preview (which can move, which cannot and why), moving the selected instances or all
that can, and the explicit refusal (409 / 422) where nothing moves."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, PathwayInstance
from tests.engine.test_version_migration import care_manager, deploy_xml, pathway_xml, two_instances
from tests.webapp.conftest import csrf_token


def _page(v1: int, v2: int) -> str:
    return f"/studio/operations/migrations?from={v1}&to={v2}"


def _post(web, v1: int, v2: int, **data):
    token = csrf_token(web.client.get(_page(v1, v2)))
    return web.client.post(_page(v1, v2), data={**data, "csrf_token": token})


def test_preview_shows_who_can_move_with_checkboxes_and_who_cannot_with_the_reason(app, clock, browser_for):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan=False))
    care_manager(clock)
    response = browser_for("coordinateur").client.get(_page(v1, v2))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    movable = html[html.index('class="movable"'):html.index('class="blocked"')]
    assert f'name="instance" value="{at_relance}"' in movable and "DURAND" in movable
    blocked = html[html.index('class="blocked"'):]
    assert f'data-instance-id="{at_bilan}"' in blocked and "MARTIN" in blocked
    assert "« Bilan infirmier » (bilan) où il se trouve n'existe plus" in blocked
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "migration.previewed")) is not None
    assert 'href="/studio/pathways/suivi_ops/diff?from=1&amp;to=2"' in html  # the library's readable difference


def test_migrating_one_selected_patient_confirms_what_moved(app, clock, browser_for):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    care_manager(clock)
    web = browser_for("coordinateur")
    response = _post(web, v1, v2, instance=str(at_bilan), scope="selected")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="migration-done"' in html and "1 instance(s) déplacée(s) de la version 1 vers la version 2" in html
    assert f'data-instance-id="{at_bilan}"' in html and f'href="/studio/operations/versions/{v2}/"' in html
    assert db.session.get(PathwayInstance, at_bilan).version_id == v2
    assert db.session.get(PathwayInstance, at_relance).version_id == v1
    cohort = web.client.get(f"/studio/operations/versions/{v2}/elements/bilan/").get_data(as_text=True)
    assert "MARTIN" in cohort


def test_migrating_all_moves_every_movable_instance(app, clock, browser_for):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan=False))
    care_manager(clock)
    response = _post(browser_for("coordinateur"), v1, v2, scope="all")
    assert response.status_code == 200
    assert db.session.get(PathwayInstance, at_relance).version_id == v2
    assert db.session.get(PathwayInstance, at_bilan).version_id == v1
    assert "ne pouvaient pas être déplacées" in response.get_data(as_text=True)


def test_a_selection_with_one_instance_that_cannot_move_is_refused_and_nothing_moves(app, clock, browser_for):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan=False))
    care_manager(clock)
    web = browser_for("coordinateur")
    token = csrf_token(web.client.get(_page(v1, v2)))
    response = web.client.post(_page(v1, v2), data={"instance": [str(at_bilan), str(at_relance)], "scope": "selected",
                                                    "csrf_token": token})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="refusal"' in html and "none was moved" in html and "bilan" in html
    assert {db.session.get(PathwayInstance, i).version_id for i in (at_bilan, at_relance)} == {v1}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "instance.migrated")) is None


def test_an_empty_selection_or_another_pathway_is_refused_readably(app, clock, browser_for):
    v1, v2, _a, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    care_manager(clock)
    web = browser_for("coordinateur")
    empty = _post(web, v1, v2, scope="selected")
    assert empty.status_code == 422 and "select at least one instance" in empty.get_data(as_text=True)
    other = deploy_xml(pathway_xml(key="autre_suivi"), clock, filename="autre_suivi.bpmn")
    refused = web.client.get(_page(v1, other))
    assert refused.status_code == 422 and "same pathway" in refused.get_data(as_text=True)
    assert web.client.get("/studio/operations/migrations?from=x&to=2").status_code == 422


def test_another_site_care_manager_cannot_move_these_patients(app, clock, browser_for):
    v1, v2, at_bilan, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    care_manager(clock, login="coord-ailleurs", site="Autre site")
    web = browser_for("coord-ailleurs")
    html = web.client.get(_page(v1, v2)).get_data(as_text=True)
    assert "MARTIN" not in html and "DURAND" not in html
    response = _post(web, v1, v2, instance=str(at_bilan), scope="selected")
    assert response.status_code == 422
    assert db.session.get(PathwayInstance, at_bilan).version_id == v1

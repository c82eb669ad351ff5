"""The pathway studio's modeler in a real browser (bpmn-js Modeler, vendored): a care manager copies rrac_epaule
into a draft, moves the J+1 call timer from J+1 to J+2 in the properties panel, saves, validates (no problem) and
deploys version 2 (the confirmation says the running instances stay on their version); in a second run she deletes
the lanes of a starter draft in the modeler (or, in another test, uploads a .bpmn edited elsewhere) so that a user
task is outside every lane, validates, sees it marked on the diagram with its message and in the list, and the
deploy is refused. Screenshots (bpmn.io watermark visible) in test-artifacts/browser/.

Page contracts: /studio/drafts/ lists `li[data-pathway=KEY]` with an "Éditer une copie" button; the modeler page
has `#canvas[data-ready="1"]` once the diagram is open, `#properties[data-element-id]` (the selected element),
timer inputs `timer_expression`, `#save-state[data-state=saved|unsaved]`, `#save`, `#validate`, `#deploy`,
`#problems-summary[data-count]`, `#problems-list li[data-element-id]`; problems mark `g.djs-element.has-problem`
and add a `.problem-note[data-element-id]` overlay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, func, select

from engine.db import db
from engine.models import PathwayDraft, PathwayVersion
from tests.browser.pages import sign_in
from tests.conftest import REPO

pytestmark = pytest.mark.browser

J1_V1 = "days=1 + nuits_hospitalisation"
J1_V2 = "days=2 + nuits_hospitalisation"
RRAC = REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn"


def _open_copy_of(page: Page, key: str) -> None:
    page.goto("/studio/drafts/")
    page.locator(f'li[data-pathway="{key}"]').get_by_role("button", name="Éditer une copie").click()
    expect(page).to_have_url(re.compile(r"/studio/drafts/\d+/$"))
    expect(page.locator('#canvas[data-ready="1"]')).to_be_attached()
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark, as its licence asks


def _versions(live_server, key: str) -> list[tuple[int, str]]:
    with live_server.database():
        return [(v.version, v.bpmn_xml) for v in db.session.scalars(
            select(PathwayVersion).where(PathwayVersion.key == key).order_by(PathwayVersion.version))]


@pytest.fixture
def versions_restored(live_server) -> Iterator[None]:
    """The versions this test deploys (no instance runs on them) and the drafts are removed afterwards, so the
    session's other browser tests find the shipped versions only, as they expect."""
    with live_server.database():
        known = set(db.session.scalars(select(PathwayVersion.id)))
    yield
    with live_server.database():
        db.session.execute(delete(PathwayDraft))
        db.session.execute(delete(PathwayVersion).where(PathwayVersion.id.not_in(known)))
        db.session.commit()


def test_care_manager_moves_the_j1_call_to_j2_and_deploys_version_2(live_server, open_page, shots,
                                                                    versions_restored):
    before = _versions(live_server, "rrac_epaule")
    page = open_page("coordinateur")
    sign_in(page, "coordinateur")
    _open_copy_of(page, "rrac_epaule")
    shots.take(page, "brouillon-ouvert")

    # 1. She selects the J+1 call's timer on the diagram: the properties panel shows its expression.
    page.locator('#canvas g.djs-element[data-element-id="Timer_J1_PostOp"]').click()
    panel = page.locator('#properties[data-element-id="Timer_J1_PostOp"]')
    expect(panel).to_be_visible()
    expression = panel.locator('input[name="timer_expression"]')
    expect(expression).to_have_value(re.compile(re.escape(J1_V1)))
    expect(panel.locator('button.anchor-chip[data-anchor="date_chirurgie"]')).to_be_visible()

    # 2. J+1 becomes J+2; the page says there are unsaved changes.
    expression.fill(expression.input_value().replace(J1_V1, J1_V2))
    expression.press("Enter")
    expect(page.locator('#save-state[data-state="unsaved"]')).to_be_visible()
    shots.take(page, "minuteur-j2-non-enregistre")

    # 3. Save, then validate: no problem.
    page.locator("#save").click()
    expect(page.locator('#save-state[data-state="saved"]')).to_be_visible()
    page.locator("#validate").click()
    expect(page.locator('#problems-summary[data-count="0"]')).to_contain_text("Aucun problème")
    shots.take(page, "enregistre-et-valide")

    # 4. Deploy: the confirmation says version N+1 and that the running instances stay on their version.
    page.locator("#deploy").click()
    expect(page).to_have_url(re.compile(r"/deploy$"))
    latest = before[-1][0]
    summary = page.locator("#deploy-summary")
    expect(summary).to_contain_text(f"deviendra la version {latest + 1} du parcours rrac_epaule")
    expect(summary.locator(f'li[data-version="{latest}"]')).to_contain_text(
        re.compile(rf"\d+ instances? en cours .* sur la version {latest}"))
    expect(page.locator("#deploy-problems")).to_have_count(0)
    shots.take(page, "confirmation-deploiement")
    page.get_by_role("button", name=f"Déployer la version {latest + 1}").click()
    expect(page.get_by_role("status").filter(has_text=f"Version {latest + 1} de « rrac_epaule » déployée.")
           ).to_be_visible()
    shots.take(page, "version-deployee")

    after = _versions(live_server, "rrac_epaule")
    assert [n for n, _ in after] == [n for n, _ in before] + [latest + 1]
    assert J1_V2 in after[-1][1] and J1_V1 not in after[-1][1]
    assert after[-1][1].count("<spiffworkflow:property ") == before[-1][1].count("<spiffworkflow:property ")


def test_a_user_task_outside_every_lane_is_marked_on_the_diagram_and_deploy_is_refused(live_server, open_page,
                                                                                         shots, tmp_path):
    # bpmn-js keeps every flow element of a pool inside one of its lanes (a drop outside the pool is refused:
    # "Flow elements must be children of pools/participants"), so the task outside every lane comes from a
    # .bpmn edited elsewhere, which the care manager uploads.
    with live_server.database():
        versions_before = db.session.scalar(select(func.count(PathwayVersion.id)))
    edited = tmp_path / "rrac_epaule.bpmn"
    edited.write_bytes(RRAC.read_bytes().replace(b"<bpmn:flowNodeRef>Task_AppelJ1</bpmn:flowNodeRef>", b""))
    page = open_page("coordinateur")
    sign_in(page, "coordinateur")

    # 1. She uploads the file: a draft opens in the modeler.
    page.goto("/studio/drafts/")
    page.locator("#upload-file").set_input_files(str(edited))
    page.locator("#upload-bpmn").get_by_role("button", name="Importer").click()
    expect(page).to_have_url(re.compile(r"/studio/drafts/\d+/$"))
    expect(page.locator('#canvas[data-ready="1"]')).to_be_attached()
    expect(page.locator(".bjs-powered-by")).to_be_visible()

    # 2. Validate: the J+1 call is marked on the diagram, with its message beside it, and listed.
    page.locator("#validate").click()
    task_id = "Task_AppelJ1"
    item = page.locator(f'#problems-list li[data-element-id="{task_id}"]')
    expect(item).to_contain_text("is outside any lane")
    expect(page.locator("#problems-summary")).to_have_attribute("data-count", "1")
    expect(page.locator(f'#canvas g.djs-element.has-problem[data-element-id="{task_id}"]')).to_be_attached()
    note = page.locator(f'.problem-note[data-element-id="{task_id}"]')
    expect(note).to_be_attached()
    expect(note).to_contain_text("is outside any lane")
    item.get_by_role("button").click()  # the list selects the element on the diagram and scrolls to it
    expect(page.locator(f'#properties[data-element-id="{task_id}"]')).to_be_visible()
    expect(note).to_be_visible()
    shots.take(page, "probleme-marque-sur-le-diagramme")
    shots.take_element(page.locator(".modeler-layout"), "diagramme-probleme")

    # 3. Deploy: the confirmation lists the problem; deploying is refused and nothing is stored.
    page.locator("#deploy").click()
    expect(page).to_have_url(re.compile(r"/deploy$"))
    expect(page.locator(f'#deploy-problems li[data-element-id="{task_id}"]')).to_contain_text("outside any lane")
    shots.take(page, "confirmation-avec-probleme")
    page.get_by_role("button", name=re.compile(r"^Déployer la version")).click()
    expect(page.locator("#deploy-refused")).to_contain_text("Déploiement refusé")
    shots.take(page, "deploiement-refuse")
    with live_server.database():
        assert db.session.scalar(select(func.count(PathwayVersion.id))) == versions_before


def test_properties_panel_edits_lane_role_task_properties_and_form_with_undo(live_server, open_page, shots):
    page = open_page("coordinateur")
    sign_in(page, "coordinateur")
    page.goto("/studio/drafts/")
    new = page.locator("#new-from-template")
    new.locator('input[name="template"][value="suivi_minimal"]').check()
    new.get_by_label("Clé du parcours (identifiant)").fill("suivi_telephonique")
    new.get_by_label("Titre").fill("Suivi téléphonique")
    new.get_by_role("button", name="Créer le brouillon").click()
    expect(page.locator('#canvas[data-ready="1"]')).to_be_attached()
    panel = page.locator("#properties")

    # The lane's role is picked from the role catalogue.
    _select_lane(page, "Lane_infirmier", header_y=60)
    panel.locator('select[name="lane_role"]').select_option("kinesitherapeute")
    expect(page.locator('#canvas g.djs-element[data-element-id="Lane_infirmier"]')).to_contain_text("kinesitherapeute")

    # The user task's due date and priority; undo puts the due date back.
    page.locator('#canvas g.djs-element[data-element-id="Task_AppelSuivi"]').click()
    expect(panel).to_have_attribute("data-element-id", "Task_AppelSuivi")
    panel.locator('input[name="due"]').fill("P1D")
    panel.locator('input[name="due"]').press("Enter")
    panel.locator('select[name="priority"]').select_option("urgent")
    expect(panel.locator('select[name="priority"]')).to_have_value("urgent")
    page.locator("#undo").click()
    expect(panel.locator('select[name="priority"]')).to_have_value("routine")
    page.locator("#redo").click()
    expect(panel.locator('select[name="priority"]')).to_have_value("urgent")
    expect(panel.locator('input[name="due"]')).to_have_value("P1D")

    # Its form: the JSON Schema, previewed as the professional will see it; a broken schema says why.
    schema = panel.locator('textarea[name="form_schema"]')
    expect(schema).to_have_value(re.compile("douleur_nrs"))
    panel.get_by_role("button", name="Aperçu du formulaire").click()
    expect(panel.locator(".form-preview")).to_contain_text("Douleur (EN 0-10)")
    expect(panel.locator('.form-preview input[name="douleur_nrs"]')).to_be_visible()
    shots.take(page, "formulaire-apercu")
    text = schema.input_value()
    schema.fill(text.replace('"type": "integer"', '"type": "entier"'))
    panel.get_by_role("button", name="Aperçu du formulaire").click()
    expect(panel.locator(".form-preview.form-preview-error")).to_contain_text("schéma JSON invalide")
    schema.fill(text)

    # The timer offers the pathway's anchor dates by name.
    page.locator('#canvas g.djs-element[data-element-id="Timer_J1"]').click()
    expect(panel.locator('button.anchor-chip[data-anchor="date_inclusion"]')).to_be_visible()

    page.locator("#save").click()
    expect(page.locator('#save-state[data-state="saved"]')).to_be_visible()
    page.locator("#validate").click()
    expect(page.locator('#problems-summary[data-count="0"]')).to_be_visible()
    shots.take(page, "proprietes-enregistrees")
    with live_server.database():
        draft = db.session.scalar(select(PathwayDraft).where(PathwayDraft.key == "suivi_telephonique"))
        assert draft is not None and draft.revision == 2
        assert 'name="kinesitherapeute"' in draft.bpmn_xml
        assert '<spiffworkflow:property name="due" value="P1D"' in draft.bpmn_xml
        assert '<spiffworkflow:property name="priority" value="urgent"' in draft.bpmn_xml
        fields = draft.forms["suivi_minimal_appel"]["properties"]
        assert list(fields) == ["patient_joint", "douleur_nrs", "commentaire"]  # the schema's order is kept
        assert fields["douleur_nrs"]["type"] == "integer"


def test_gateway_conditions_are_edited_on_the_outgoing_flows(live_server, open_page):
    page = open_page("coordinateur")
    sign_in(page, "coordinateur")
    page.goto("/studio/drafts/")
    new = page.locator("#new-from-template")
    new.locator('input[name="template"][value="suivi_avec_decision"]').check()
    new.get_by_label("Clé du parcours (identifiant)").fill("suivi_douleur")
    new.get_by_label("Titre").fill("Suivi de la douleur")
    new.get_by_role("button", name="Créer le brouillon").click()
    expect(page.locator('#canvas[data-ready="1"]')).to_be_attached()
    page.locator('#canvas g.djs-element[data-element-id="Gateway_Douleur"]').click()
    panel = page.locator('#properties[data-element-id="Gateway_Douleur"]')
    condition = panel.locator('input[name="condition_Flow_Douleur_Oui"]')
    expect(condition).to_have_value("douleur_nrs >= seuil_douleur")
    expect(panel.locator('select[name="default_flow"]')).to_have_value("Flow_Douleur_Non")
    condition.fill("douleur_nrs >= seuil_douleur or patient_joint == 'non'")
    condition.press("Enter")
    page.locator("#save").click()
    expect(page.locator('#save-state[data-state="saved"]')).to_be_visible()
    page.locator("#validate").click()
    expect(page.locator('#problems-summary[data-count="0"]')).to_be_visible()
    with live_server.database():
        draft = db.session.scalar(select(PathwayDraft).where(PathwayDraft.key == "suivi_douleur"))
        assert draft is not None
        assert "douleur_nrs &gt;= seuil_douleur or patient_joint == 'non'" in draft.bpmn_xml


def test_a_stale_save_is_refused_and_keeps_the_diagram(live_server, open_page, shots):
    first = open_page("coordinateur")
    sign_in(first, "coordinateur")
    first.goto("/studio/drafts/")
    new = first.locator("#new-from-template")
    new.locator('input[name="template"][value="suivi_minimal"]').check()
    new.get_by_label("Clé du parcours (identifiant)").fill("suivi_conflit")
    new.get_by_label("Titre").fill("Suivi en conflit")
    new.get_by_role("button", name="Créer le brouillon").click()
    expect(first.locator('#canvas[data-ready="1"]')).to_be_attached()
    second = open_page("coordinateur-2")
    sign_in(second, "coordinateur")
    second.goto(first.url)
    expect(second.locator('#canvas[data-ready="1"]')).to_be_attached()

    def rename_task(page: Page, name: str) -> None:
        page.locator('#canvas g.djs-element[data-element-id="Task_AppelSuivi"]').click()
        field = page.locator('#properties[data-element-id="Task_AppelSuivi"] input[name="name"]')
        field.fill(name)
        field.press("Enter")
        page.locator("#save").click()

    rename_task(first, "Appel du premier")
    expect(first.locator('#save-state[data-state="saved"]')).to_be_visible()
    rename_task(second, "Appel du second")
    expect(second.locator("#editor-message")).to_contain_text("Conflit")
    expect(second.locator('#save-state[data-state="unsaved"]')).to_be_visible()
    expect(second.locator('#canvas g.djs-element[data-element-id="Task_AppelSuivi"]')).to_contain_text(
        "Appel du second")  # the diagram is kept
    shots.take(second, "conflit-diagramme-conserve")
    with live_server.database():
        draft = db.session.scalar(select(PathwayDraft).where(PathwayDraft.key == "suivi_conflit"))
        assert draft is not None and "Appel du premier" in draft.bpmn_xml and draft.revision == 2


def _select_lane(page: Page, lane_id: str, header_y: int = 30) -> None:
    """Click a lane's header strip, scrolling the diagram until the header is clear of the palette."""
    lane = page.locator(f'#canvas g.djs-element[data-element-id="{lane_id}"]')
    palette = page.locator(".djs-palette").bounding_box()
    assert palette
    for _ in range(20):
        lane_box = lane.bounding_box()
        assert lane_box
        if lane_box["x"] > palette["x"] + palette["width"] + 20:
            break
        page.mouse.move(palette["x"] + palette["width"] + 200, lane_box["y"] + 40)
        page.mouse.wheel(-100, 0)
        page.wait_for_timeout(50)
    lane.click(position={"x": 12, "y": header_y})
    expect(page.locator("#properties")).to_have_attribute("data-element-id", lane_id)


def test_lanes_removed_in_the_modeler_leave_the_user_task_outside_every_lane_marked_and_deploy_refused(
        live_server, open_page, shots):
    with live_server.database():
        versions_before = db.session.scalar(select(func.count(PathwayVersion.id)))
    page = open_page("coordinateur")
    sign_in(page, "coordinateur")
    page.goto("/studio/drafts/")
    new = page.locator("#new-from-template")
    new.locator('input[name="template"][value="suivi_minimal"]').check()
    new.get_by_label("Clé du parcours (identifiant)").fill("suivi_sans_couloir")
    new.get_by_label("Titre").fill("Suivi sans couloir")
    new.get_by_role("button", name="Créer le brouillon").click()
    expect(page.locator('#canvas[data-ready="1"]')).to_be_attached()

    # 1. In the modeler she deletes both lanes (context pad "delete"): the pool's user task has no lane any more.
    for lane_id in ("Lane_patient", "Lane_infirmier"):
        _select_lane(page, lane_id)
        page.locator('.djs-context-pad [data-action="delete"]').click()
        expect(page.locator(f'#canvas g.djs-element[data-element-id="{lane_id}"]')).to_have_count(0)
    expect(page.locator('#save-state[data-state="unsaved"]')).to_be_visible()

    # 2. Validate: the user task is marked on the diagram with its message beside it, and listed.
    page.locator("#validate").click()
    task_id = "Task_AppelSuivi"
    expect(page.locator(f'#problems-list li[data-element-id="{task_id}"]')).to_contain_text("outside any lane")
    expect(page.locator(f'#canvas g.djs-element.has-problem[data-element-id="{task_id}"]')).to_be_attached()
    expect(page.locator(f'.problem-note[data-element-id="{task_id}"]')).to_contain_text("outside any lane")
    shots.take(page, "couloirs-supprimes-probleme-marque")

    # 3. Saved and sent to deploy: refused, nothing stored.
    page.locator("#save").click()
    expect(page.locator('#save-state[data-state="saved"]')).to_be_visible()
    page.locator("#deploy").click()
    expect(page.locator(f'#deploy-problems li[data-element-id="{task_id}"]')).to_contain_text("outside any lane")
    page.get_by_role("button", name=re.compile(r"^Déployer la version")).click()
    expect(page.locator("#deploy-refused")).to_contain_text("Déploiement refusé")
    shots.take(page, "couloirs-supprimes-deploiement-refuse")
    with live_server.database():
        assert db.session.scalar(select(func.count(PathwayVersion.id))) == versions_before

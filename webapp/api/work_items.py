"""API routes for enrolments and work items: read, list (filters, cursor), claim, complete (ETag / If-Match)."""

from __future__ import annotations

import re

from flask import Response, abort, jsonify, request

from engine.services import patient_reads
from engine.services.inbox import claim_work_item, complete_work_item
from webapp.api import bp
from webapp.api.http import (
    cursor_due,
    cursor_id,
    decode_cursor,
    dump,
    encode_cursor,
    etag,
    flag_arg,
    if_match_version,
    load_body,
    next_link,
)
from webapp.api.schemas import (
    instance_schema,
    step_outcome_schema,
    work_item_complete_schema,
    work_item_detail_schema,
    work_item_page_schema,
)
from webapp.auth.users import current_actor
from webapp.web import clock, int_arg

PATHWAY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,119}")


@bp.get("/enrolments/<id:instance_id>")
def get_enrolment(instance_id: int) -> Response:
    """One enrolment.
    ---
    get:
      tags: [enrolments]
      summary: "Une instance de parcours (statut, contexte, lock_version) ; l'ETag est sa lock_version."
      responses:
        200:
          description: L'instance
          headers: {ETag: {schema: {type: string}}}
          content: {application/json: {schema: InstanceSchema}}
        401: Unauthorized
        404: NotFound
    """
    instance = patient_reads.get_instance(current_actor(), instance_id, clock=clock())
    return dump(instance_schema, instance, headers={"ETag": etag(instance.lock_version)})


@bp.get("/work-items")
def list_work_items() -> Response:
    """My work items.
    ---
    get:
      tags: [work items]
      summary: "Mes tâches ouvertes (les miennes et la file de mes rôles), échéance la plus proche d'abord."
      description: >
        Pagination par curseur opaque : suivre `next` jusqu'à ce qu'il soit null. Chaque tâche apparaît sur
        une seule page, même si des tâches sont ajoutées ou terminées entre deux pages.
      parameters:
        - {name: status, in: query, schema: {type: string, enum: [open, claimed]}}
        - {name: overdue, in: query, schema: {type: boolean}}
        - {name: pathway, in: query, schema: {type: string, pattern: "^[A-Za-z_][A-Za-z0-9_.-]{0,119}$"}}
        - {name: patient, in: query, schema: {type: integer, minimum: 1, maximum: 2147483647}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200, default: 50}}
        - {name: cursor, in: query, schema: {type: string}, description: "Opaque cursor from `next`."}
      responses:
        200: {description: Une page de tâches, content: {application/json: {schema: WorkItemPageSchema}}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
        422: InvalidInput
    """
    pathway = request.args.get("pathway") or None
    if pathway is not None and not PATHWAY_KEY.fullmatch(pathway):
        abort(400, "'pathway' must be a pathway key")
    patient = int_arg("patient", 0, minimum=1, maximum=2_147_483_647) or None
    limit = int_arg("limit", 50, maximum=200)
    cursor = decode_cursor()
    after = (cursor_due(cursor), cursor_id(cursor)) if cursor is not None else None
    query = patient_reads.WorkItemQuery(status=request.args.get("status") or None, overdue=flag_arg("overdue"),
                                          pathway_key=pathway, patient_id=patient, after=after, limit=limit + 1)
    items = patient_reads.list_work_items(current_actor(), query, clock=clock())
    more = len(items) > limit
    items = items[:limit]
    following = None
    if more:
        last = items[-1]
        following = encode_cursor({"d": last.due_at.isoformat() if last.due_at else None, "i": last.id})
    return dump(work_item_page_schema, {"items": items, "next": next_link(following)})


def _detail(work_item_id: int) -> Response:
    item, version = patient_reads.get_work_item(current_actor(), work_item_id, clock=clock())
    body = work_item_detail_schema.dump(item)
    body["version"] = version
    response = jsonify(body)
    response.headers["ETag"] = etag(version)
    return response


@bp.get("/work-items/<id:work_item_id>")
def get_work_item(work_item_id: int) -> Response:
    """One work item.
    ---
    get:
      tags: [work items]
      summary: "Une tâche ; l'ETag (et `version`) est la lock_version de son instance, à renvoyer en If-Match."
      responses:
        200:
          description: La tâche
          headers: {ETag: {schema: {type: string}}}
          content: {application/json: {schema: WorkItemDetailSchema}}
        401: Unauthorized
        404: NotFound
    """
    return _detail(work_item_id)


@bp.post("/work-items/<id:work_item_id>/claim")
def claim(work_item_id: int) -> Response:
    """Claim a work item.
    ---
    post:
      tags: [work items]
      summary: "Prendre une tâche de la file de son rôle (ou confirmer celle qui m'est attribuée)."
      responses:
        200:
          description: Prise
          headers: {ETag: {schema: {type: string}}}
          content: {application/json: {schema: WorkItemDetailSchema}}
        401: Unauthorized
        403: Forbidden
        404: NotFound
        409: Conflict
    """
    claim_work_item(work_item_id, actor=current_actor(), clock=clock())
    return _detail(work_item_id)


@bp.post("/work-items/<id:work_item_id>/complete")
def complete(work_item_id: int) -> Response:
    """Complete a work item.
    ---
    post:
      tags: [work items]
      summary: "Terminer une tâche avec les données de son formulaire ; le parcours avance dans la même transaction."
      description: >
        Concurrence optimiste : envoyer l'ETag lu (`If-Match: "3"`) ou `version` dans le corps. Si l'instance
        a changé depuis, ou si quelqu'un d'autre a terminé la tâche : 409, rien n'est écrit. Sans If-Match ni
        `version`, la complétion se fait sous verrou : une seule de deux complétions simultanées gagne,
        l'autre reçoit 409.
      parameters:
        - {name: If-Match, in: header, schema: {type: string}, description: 'ETag of the work item, e.g. "3".'}
      requestBody:
        required: true
        content: {application/json: {schema: WorkItemCompleteSchema}}
      responses:
        200:
          description: Terminée ; ETag = nouvelle lock_version de l'instance
          headers: {ETag: {schema: {type: string}}}
          content: {application/json: {schema: StepOutcomeSchema}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
        409: Conflict
        415: UnsupportedMediaType
        422: InvalidInput
    """
    expected = if_match_version()
    body = load_body(work_item_complete_schema)
    if body["version"] is not None:
        if expected is not None and expected != body["version"]:
            abort(400, "If-Match and 'version' disagree")
        expected = body["version"]
    outcome = complete_work_item(work_item_id, body["data"], actor=current_actor(), clock=clock(),
                                 expected_lock_version=expected)
    version = patient_reads.lock_version_of(outcome.instance_id)
    return dump(step_outcome_schema, outcome, headers={"ETag": etag(version)} if version is not None else None)

"""API routes under a patient: the patient, their care team, enrolments, messages and reminders."""

from __future__ import annotations

from flask import Response, request, url_for

from engine.services import patient_reads
from engine.services.care_teams import add_member, professional_id_for_login
from engine.services.instances import enrol_patient
from engine.services.messages import deliver_message
from webapp.api import bp
from webapp.api.http import cursor_id, decode_cursor, dump, encode_cursor, etag, load_body, next_link
from webapp.api.schemas import (
    care_team_member_create_schema,
    care_team_member_schema,
    care_team_schema,
    enrolment_create_schema,
    instance_list_schema,
    instance_schema,
    message_create_schema,
    message_outcome_schema,
    patient_page_schema,
    patient_schema,
    reminder_list_schema,
)
from webapp.auth.users import current_actor
from webapp.web import clock, int_arg


@bp.get("/patients")
def list_patients() -> Response:
    """List my patients.
    ---
    get:
      tags: [patients]
      summary: "Mes patients (équipe de soins ; coordinateur : ceux du site), par id, paginés par curseur."
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200, default: 50}}
        - {name: cursor, in: query, schema: {type: string}, description: "Opaque cursor from `next`."}
      responses:
        200: {description: Une page de patients, content: {application/json: {schema: PatientPageSchema}}}
        400: BadRequest
        401: Unauthorized
        422: InvalidInput
    """
    limit = int_arg("limit", 50, maximum=200)
    cursor = decode_cursor()
    after = cursor_id(cursor) if cursor is not None else None
    patients = patient_reads.list_my_patients(current_actor(), clock=clock(), after_id=after, limit=limit + 1)
    more = len(patients) > limit
    patients = patients[:limit]
    following = encode_cursor({"i": patients[-1].id}) if more else None
    return dump(patient_page_schema, {"items": patients, "next": next_link(following)})


@bp.get("/patients/<id:patient_id>")
def get_patient(patient_id: int) -> Response:
    """One patient.
    ---
    get:
      tags: [patients]
      summary: "Identité et préférences de contact d'un patient."
      responses:
        200: {description: Le patient, content: {application/json: {schema: PatientSchema}}}
        401: Unauthorized
        404: NotFound
    """
    return dump(patient_schema, patient_reads.get_patient(current_actor(), patient_id, clock=clock()))


@bp.get("/patients/<id:patient_id>/care-team")
def get_care_team(patient_id: int) -> Response:
    """A patient's care team.
    ---
    get:
      tags: [care teams]
      summary: "L'équipe de soins d'un patient (membres passés et présents)."
      responses:
        200: {description: L'équipe, content: {application/json: {schema: CareTeamSchema}}}
        401: Unauthorized
        404: NotFound
    """
    members = patient_reads.care_team(current_actor(), patient_id, clock=clock())
    return dump(care_team_schema, {"patient_id": patient_id, "members": members})


@bp.post("/patients/<id:patient_id>/care-team")
def add_care_team_member(patient_id: int) -> Response:
    """Add a care-team member.
    ---
    post:
      tags: [care teams]
      summary: "Ajouter un professionnel à l'équipe de soins pour un rôle et une période."
      requestBody:
        required: true
        content: {application/json: {schema: CareTeamMemberCreateSchema}}
      responses:
        201: {description: Membre ajouté, content: {application/json: {schema: CareTeamMemberSchema}}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
        409: Conflict
        415: UnsupportedMediaType
        422: InvalidInput
    """
    body = load_body(care_team_member_create_schema)
    actor = current_actor()
    member = add_member(patient_id, professional_id_for_login(body["professional"]), body["role"],
                        start=body["start"] or clock().now(), end=body["end"], actor=actor, clock=clock())
    row = next(m for m in patient_reads.care_team(actor, patient_id, clock=clock()) if m.id == member.id)
    return dump(care_team_member_schema, row, 201,
                {"Location": url_for("api.get_care_team", patient_id=patient_id)})


@bp.get("/patients/<id:patient_id>/enrolments")
def list_enrolments(patient_id: int) -> Response:
    """A patient's enrolments.
    ---
    get:
      tags: [enrolments]
      summary: "Les parcours (instances) d'un patient, actifs et passés."
      responses:
        200: {description: Les instances, content: {application/json: {schema: InstanceListSchema}}}
        401: Unauthorized
        404: NotFound
    """
    instances = patient_reads.patient_instances(current_actor(), patient_id, clock=clock())
    return dump(instance_list_schema, {"items": instances})


@bp.post("/patients/<id:patient_id>/enrolments")
def enrol(patient_id: int) -> Response:
    """Enrol a patient.
    ---
    post:
      tags: [enrolments]
      summary: "Inscrire un patient dans un parcours avec ses dates d'ancrage (contexte)."
      requestBody:
        required: true
        content: {application/json: {schema: EnrolmentCreateSchema}}
      responses:
        201:
          description: Inscrit ; Location donne l'URL de l'instance.
          headers: {Location: {schema: {type: string}}, ETag: {schema: {type: string}}}
          content: {application/json: {schema: InstanceSchema}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
        409: Conflict
        415: UnsupportedMediaType
        422: InvalidInput
    """
    body = load_body(enrolment_create_schema)
    outcome = enrol_patient(patient_id, body["pathway"], context=body["context"], version_number=body["version"],
                            actor=current_actor(), clock=clock())
    instance = patient_reads.get_instance(current_actor(), outcome.instance_id, clock=clock())
    return dump(instance_schema, instance, 201, {
        "Location": url_for("api.get_enrolment", instance_id=instance.id), "ETag": etag(instance.lock_version)})


@bp.post("/patients/<id:patient_id>/messages")
def post_message(patient_id: int) -> Response:
    """Deliver an external event.
    ---
    post:
      tags: [messages]
      summary: "Remettre un événement externe (un résultat de laboratoire) aux parcours du patient qui l'attendent."
      requestBody:
        required: true
        content: {application/json: {schema: MessageCreateSchema}}
      responses:
        200: {description: Remis, content: {application/json: {schema: MessageOutcomeSchema}}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
        409: Conflict
        415: UnsupportedMediaType
        422: InvalidInput
    """
    body = load_body(message_create_schema)
    outcomes = deliver_message(patient_id, body["name"], body["data"], actor=current_actor(), clock=clock())
    return dump(message_outcome_schema, {"delivered_to": outcomes})


@bp.get("/patients/<id:patient_id>/reminders")
def list_patient_reminders(patient_id: int) -> Response:
    """A patient's reminders.
    ---
    get:
      tags: [reminders]
      summary: "Les rappels d'un patient et leur statut de remise."
      parameters:
        - name: status
          in: query
          schema: {type: string, enum: [pending, sending, sent, delivered, failed, cancelled]}
      responses:
        200: {description: Les rappels, content: {application/json: {schema: ReminderListSchema}}}
        401: Unauthorized
        404: NotFound
        422: InvalidInput
    """
    statuses = tuple(request.args.getlist("status"))
    reminders = patient_reads.patient_reminders(current_actor(), patient_id, clock=clock(), statuses=statuses)
    return dump(reminder_list_schema, {"items": reminders})

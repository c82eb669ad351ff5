"""JSON shapes of the API: <Noun>Schema dumps, <Noun><Verb>Schema loads; explicit fields, module-level instances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

MAX_INT = 2_147_483_647


def _no_nul(value: str) -> None:
    # PostgreSQL refuses NUL in text; an integration sending one gets a field error, not a database error.
    if "\x00" in value:
        raise ValidationError("le caractère NUL n'est pas accepté")


# Dates an integration may send: anything else is a typo (and year 1 in UTC+1 does not fit a datetime).
PLAUSIBLE_DATES = validate.Range(datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC),
                                 error="date hors de la plage acceptée (1900-2200)")


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A required-by-default string of 1..max_length characters, without NUL."""
    kwargs.setdefault("required", True)
    return fields.String(validate=validate.And(validate.Length(min=1, max=max_length), _no_nul), **kwargs)


class LoadSchema(Schema):
    """Input: unknown fields are an error (422 with the field's name), never silently dropped."""

    class Meta:
        unknown = RAISE


# -- dumps ---------------------------------------------------------------------------------------------------------

class ProblemSchema(Schema):
    """RFC 9457 problem details (application/problem+json)."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Not Found"})
    status = fields.Integer(metadata={"example": 404})
    detail = fields.String(metadata={"description": "What went wrong, readable."})
    errors = fields.Dict(keys=fields.String(), metadata={"description": "Field name → message(s) (422)."})
    problems = fields.List(fields.Dict(), metadata={"description": "Located problems of a pathway file (422)."})
    conflict = fields.String(metadata={"description": "'stale' when someone else changed the instance (409)."})


class PatientSchema(Schema):
    """A patient's identity and contact preferences (the INS itself never leaves the server)."""

    id = fields.Integer()
    identifier = fields.String(metadata={"description": "Local file number (IPP)."})
    family_name = fields.String()
    given_name = fields.String()
    birth_date = fields.Date(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    preferred_channel = fields.String(metadata={"enum": ["sms", "email"]})
    opt_out_sms = fields.Boolean()
    opt_out_email = fields.Boolean()
    timezone = fields.String()
    language = fields.String()
    site = fields.String(allow_none=True)
    quiet_hours = fields.String(allow_none=True)
    ins_qualified = fields.Boolean()


class PatientPageSchema(Schema):
    items = fields.List(fields.Nested(PatientSchema))
    next = fields.String(allow_none=True, metadata={"description": "URL of the next page; null on the last."})


class CareTeamMemberSchema(Schema):
    id = fields.Integer()
    professional_id = fields.Integer()
    login = fields.String()
    full_name = fields.String()
    role = fields.String(attribute="role_code")
    period_start = fields.DateTime()
    period_end = fields.DateTime(allow_none=True)
    active = fields.Boolean()


class CareTeamSchema(Schema):
    patient_id = fields.Integer()
    members = fields.List(fields.Nested(CareTeamMemberSchema))


class PathwaySummarySchema(Schema):
    key = fields.String()
    title = fields.String()
    version = fields.Integer(metadata={"description": "Latest version number."})
    versions = fields.Integer(metadata={"description": "How many versions were deployed."})
    deployed_at = fields.String()
    sha256 = fields.String()
    active_instances = fields.Integer()


class PathwayVersionSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    title = fields.String()
    sha256 = fields.String()
    filename = fields.String()
    status = fields.String(metadata={"enum": ["active", "retired"]})
    anchors = fields.List(fields.String(), metadata={"description": "Anchor dates the enrolment context needs."})
    parameters = fields.Dict(keys=fields.String(), metadata={"description": "Parameters and their defaults."})
    deployed_at = fields.DateTime()
    deployed_by = fields.String(attribute="deployed_by_label")


class PathwayVersionListSchema(Schema):
    items = fields.List(fields.Nested(PathwayVersionSchema))


class PathwayListSchema(Schema):
    items = fields.List(fields.Nested(PathwaySummarySchema))


class InstanceSchema(Schema):
    """An enrolment: one patient's run of a pathway version."""

    id = fields.Integer()
    patient_id = fields.Integer()
    pathway = fields.Function(lambda i: i.version.key)
    version = fields.Function(lambda i: i.version.version)
    version_id = fields.Integer()
    status = fields.String(metadata={"enum": ["active", "completed", "suspended", "cancelled", "error"]})
    context = fields.Dict(keys=fields.String())
    lock_version = fields.Integer(metadata={"description": "Changes at every step; the ETag of completions."})
    started_at = fields.DateTime()
    updated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    error_element = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)


class InstanceListSchema(Schema):
    items = fields.List(fields.Nested(InstanceSchema))


class WorkItemSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    patient_id = fields.Integer()
    element_id = fields.String()
    title = fields.String()
    role = fields.String(attribute="role_code")
    assignee_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": ["open", "claimed", "completed", "cancelled"]})
    priority = fields.String()
    kind = fields.String(metadata={"enum": ["task", "escalation", "alert"]})
    form_key = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by_id = fields.Integer(allow_none=True)
    data = fields.Dict(allow_none=True, metadata={"description": "Submitted form data (once completed)."})


class WorkItemDetailSchema(WorkItemSchema):
    version = fields.Integer(metadata={"description": "The instance's lock_version (also the ETag header)."})


class WorkItemPageSchema(Schema):
    items = fields.List(fields.Nested(WorkItemSchema))
    next = fields.String(allow_none=True, metadata={"description": "URL of the next page; null on the last."})


class StepOutcomeSchema(Schema):
    instance_id = fields.Integer()
    status = fields.String()
    opened_work_items = fields.List(fields.Integer())
    error_element = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)


class MessageOutcomeSchema(Schema):
    delivered_to = fields.List(fields.Nested(StepOutcomeSchema))


class ReminderSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer(allow_none=True)
    recipient = fields.String(metadata={"description": "'patient' or a role code."})
    channel = fields.String()
    template = fields.String()
    send_at = fields.DateTime()
    status = fields.String(metadata={"enum": ["pending", "sending", "sent", "delivered", "failed", "cancelled"]})
    attempts = fields.Integer()
    provider_status = fields.String(allow_none=True)
    status_reason = fields.String(allow_none=True)
    fallback_from = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class ReminderListSchema(Schema):
    items = fields.List(fields.Nested(ReminderSchema))


class ReceiptOutcomeSchema(Schema):
    reminder_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "The reminder's status after the receipt."})
    duplicate = fields.Boolean(metadata={"description": "True when this receipt was already recorded."})


# -- loads ---------------------------------------------------------------------------------------------------------

class CareTeamMemberCreateSchema(LoadSchema):
    professional = text(80, metadata={"description": "Login of the professional."})
    role = text(40, metadata={"description": "Role code the professional holds (infirmier, ...)."})
    start = fields.AwareDateTime(default_timezone=UTC, load_default=None, validate=PLAUSIBLE_DATES,
                                 metadata={"description": "Start of the period (default: now)."})
    end = fields.AwareDateTime(default_timezone=UTC, load_default=None, allow_none=True, validate=PLAUSIBLE_DATES)


class EnrolmentCreateSchema(LoadSchema):
    pathway = text(120, metadata={"description": "Pathway key (its BPMN process id)."})
    version = fields.Integer(load_default=None, strict=True, validate=validate.Range(1, MAX_INT),
                             metadata={"description": "Version number (default: the latest active)."})
    context = fields.Dict(keys=text(100), load_default=dict,
                          metadata={"description": "Anchor dates and parameters, e.g. {\"date_chirurgie\": "
                                                   "\"2026-11-20\"}."})


class WorkItemCompleteSchema(LoadSchema):
    data = fields.Dict(keys=text(200), required=True, metadata={"description": "The form's data."})
    version = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, MAX_INT),
                             metadata={"description": "Expected lock_version (same as If-Match)."})


class MessageCreateSchema(LoadSchema):
    name = text(64, metadata={"description": "Message name the pathway waits for (resultat_inr)."})
    data = fields.Dict(keys=text(200), load_default=dict, metadata={"description": "Payload given to the pathway."})


class ReceiptCreateSchema(LoadSchema):
    provider_id = text(200, metadata={"description": "The provider's message id (given when sending)."})
    status = text(40, metadata={"description": "Provider status: DELIVRD, UNDELIV, EXPIRED, ..."})


problem_schema = ProblemSchema()
patient_schema = PatientSchema()
patient_page_schema = PatientPageSchema()
care_team_schema = CareTeamSchema()
care_team_member_schema = CareTeamMemberSchema()
pathway_list_schema = PathwayListSchema()
pathway_version_schema = PathwayVersionSchema()
pathway_version_list_schema = PathwayVersionListSchema()
instance_schema = InstanceSchema()
instance_list_schema = InstanceListSchema()
work_item_detail_schema = WorkItemDetailSchema()
work_item_page_schema = WorkItemPageSchema()
step_outcome_schema = StepOutcomeSchema()
message_outcome_schema = MessageOutcomeSchema()
reminder_list_schema = ReminderListSchema()
receipt_outcome_schema = ReceiptOutcomeSchema()

care_team_member_create_schema = CareTeamMemberCreateSchema()
enrolment_create_schema = EnrolmentCreateSchema()
work_item_complete_schema = WorkItemCompleteSchema()
message_create_schema = MessageCreateSchema()
receipt_create_schema = ReceiptCreateSchema()

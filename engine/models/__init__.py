"""Database models, one aggregate per module; importing this package registers them all."""

from engine.models.access_token import ApiToken
from engine.models.audit_event import AuditEvent
from engine.models.care_team import CareTeamMember
from engine.models.due_timer import DueTimer, TimerStatus
from engine.models.notification import DeliveryReceipt, OutboxMessage, PatientLink
from engine.models.pathway_draft import DraftStatus, PathwayDraft
from engine.models.pathway_instance import RUNNING_STATUSES, InstanceStatus, PathwayInstance
from engine.models.pathway_version import PathwayVersion, VersionStatus
from engine.models.patient import Patient
from engine.models.professional import Professional, ProfessionalRole, Role
from engine.models.reminder import Reminder, ReminderStatus
from engine.models.saved_filter import SavedFilter
from engine.models.work_item import WorkItem, WorkItemComment, WorkItemKind, WorkItemStatus

__all__ = [
    "ApiToken",
    "AuditEvent",
    "CareTeamMember",
    "DeliveryReceipt",
    "DraftStatus",
    "DueTimer",
    "InstanceStatus",
    "OutboxMessage",
    "Patient",
    "PatientLink",
    "PathwayDraft",
    "PathwayInstance",
    "RUNNING_STATUSES",
    "PathwayVersion",
    "Professional",
    "ProfessionalRole",
    "Reminder",
    "ReminderStatus",
    "Role",
    "SavedFilter",
    "TimerStatus",
    "VersionStatus",
    "WorkItem",
    "WorkItemComment",
    "WorkItemKind",
    "WorkItemStatus",
]

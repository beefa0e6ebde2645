"""All tables; importing this module registers them on SQLModel.metadata."""

from kb_service.models.audit import AuditLog, ChangeKind, ChangeLog, ChangeOp
from kb_service.models.departments import Department, DepartmentLevel
from kb_service.models.documents import Document, DocumentStatus, DocumentVersion, Passage
from kb_service.models.entries import Entry, EntryContent, EntryStatus, EntryVersion, SourceRef
from kb_service.models.freshness import Feedback, Obligation
from kb_service.models.queries import QueryLog
from kb_service.models.tickets import (
    IntakeLog,
    Outbox,
    OutboxStatus,
    RuleSetVersion,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from kb_service.models.users import ApiToken, Role, User

__all__ = [
    "ApiToken",
    "AuditLog",
    "ChangeKind",
    "ChangeLog",
    "ChangeOp",
    "Department",
    "DepartmentLevel",
    "Document",
    "DocumentStatus",
    "DocumentVersion",
    "Entry",
    "EntryContent",
    "EntryStatus",
    "EntryVersion",
    "Feedback",
    "IntakeLog",
    "Obligation",
    "Outbox",
    "OutboxStatus",
    "Passage",
    "QueryLog",
    "Role",
    "RuleSetVersion",
    "SourceRef",
    "Ticket",
    "TicketEvent",
    "TicketStatus",
    "User",
]

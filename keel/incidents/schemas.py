"""API shapes for incidents, their transitions, timeline, work log, attachments and the
major-incident procedure (stakeholder updates, linked incidents, the post-incident review).

Times are ISO 8601 with an explicit offset, in the caller's time zone (UTC for tokens).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from django.utils import timezone
from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, PlainSerializer

from keel.catalog.priority import parse_priority
from keel.incidents import lifecycle, sla
from keel.incidents.lifecycle import HoldReason
from keel.incidents.models import Channel, ResolutionCode


def _iso(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str)]


def _priority(value: Any) -> Any:
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_priority(value)
    except ValueError:
        raise ValueError("use P1 to P5") from None


PriorityIn = Annotated[int, BeforeValidator(_priority)]


# --- what the API returns ----------------------------------------------------------------------


class ErrorItem(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem]
    code: str | None = None


class StaleOut(ErrorOut):
    """409: someone changed the incident first; reload, re-apply your text and send this version."""

    current_version: int | None = None


class Ref(Schema):
    id: int
    name: str


class PersonRef(Schema):
    id: int
    username: str
    name: str


class CIRef(Schema):
    id: int
    number: str
    name: str


class SlaOut(Schema):
    state: str = Field(
        description="ok, warning, breached, paused, met, missed, or na (withdrawn before the "
        "target was missed)."
    )
    deadline: Timestamp | None
    seconds_left: int | None


class IncidentOut(Schema):
    id: int
    number: str
    title: str
    description: str
    status: str
    status_label: str
    hold_reason: str
    priority: str = Field(description="P1 (most urgent) … P5.")
    priority_reason: str
    impact: int
    urgency: int
    channel: str
    service: Ref
    category: Ref | None
    team: Ref
    assignee: PersonRef | None
    requester: PersonRef
    reported_by_id: int | None
    department_id: int | None
    created_at: Timestamp
    updated_at: Timestamp
    assigned_at: Timestamp | None
    first_response_at: Timestamp | None
    resolved_at: Timestamp | None
    closed_at: Timestamp | None
    cancelled_at: Timestamp | None
    respond_by: Timestamp | None
    resolve_by: Timestamp | None
    response_breached: bool
    resolution_breached: bool
    sla: SlaOut = Field(description="The resolution clock now.")
    resolution_code: str
    resolution_notes: str
    is_major: bool
    major_manager_id: int | None
    parent_id: int | None
    reassignment_count: int
    reopen_count: int
    escalation_level: int
    rating: int | None
    rating_comment: str
    rated_at: Timestamp | None
    affected_cis: list[CIRef] = Field(description="The configuration items it affects.")
    version: int = Field(description="Send it back with changes; a stale one gets 409.")
    transitions: list[str] = Field(description="Steps the lifecycle allows from this status.")

    @staticmethod
    def resolve_affected_cis(obj) -> list[dict[str, Any]]:
        items = sorted(obj.affected_cis.all(), key=lambda ci: ci.number)
        return [{"id": ci.pk, "number": ci.number, "name": ci.name} for ci in items]

    @staticmethod
    def resolve_priority(obj) -> str:
        return f"P{obj.priority}"

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(lifecycle.Status(obj.status).label)

    @staticmethod
    def resolve_sla(obj) -> dict[str, Any]:
        clock = sla.resolution_clock(obj, timezone.now())
        left = None if clock.seconds_left is None else int(clock.seconds_left)
        return {"state": clock.state, "deadline": clock.deadline, "seconds_left": left}

    @staticmethod
    def resolve_transitions(obj) -> list[str]:
        return [s.name for s in lifecycle.available(obj.status)]


class _AsListedRow:
    """An incident instance read as a row of ``queries.listed_page``: ``service__name`` is
    ``service.name``, every other name the instance's own."""

    __slots__ = ("_incident",)

    def __init__(self, incident: Any) -> None:
        self._incident = incident

    def __getattr__(self, name: str) -> Any:
        value = self._incident
        for part in name.split("__"):
            value = None if value is None else getattr(value, part)
        return value


def incident_data(obj: Any, now: datetime | None = None) -> dict[str, Any]:
    """What :class:`IncidentOut` gives for ``obj``, built directly (by :func:`listed_data`).

    For creations and single incidents, where the generic path (a pydantic validation of every
    attribute through a getter, then a dump) cost more than the query. The related records must
    be loaded (``queries.LIST_RELATED``, the ``affected_cis`` prefetch); a test compares the two
    for incidents in every state, so they stay the same.
    """
    return listed_data([_AsListedRow(obj)], {obj.pk: list(obj.affected_cis.all())}, now)[0]


def listed_data(
    rows: list[Any], cis: dict[int, list[Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """What :class:`IncidentOut` gives for each row of ``queries.listed_page``: the list's answer.

    Built from plain values, without a model instance per incident: the SLA clock reads the row
    itself (it holds every field the clock reads), the related records are the row's joined names,
    and ``cis`` holds each incident's affected items (``queries.affected_cis_of``).
    """
    now = now or timezone.now()
    zone = timezone.get_current_timezone()  # what ``timezone.localtime`` converts to, read once

    def when(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(zone).isoformat()

    steps: dict[str, tuple[str, list[str]]] = {}  # status: its label and transitions
    items = []
    for row in rows:
        status = str(row.status)
        if status not in steps:
            steps[status] = (
                str(lifecycle.Status(status).label),
                [s.name for s in lifecycle.available(status)],
            )
        label, transitions = steps[status]
        clock = sla.resolution_clock(row, now)
        affected = sorted(cis.get(row.id, ()), key=lambda ci: ci.number)
        items.append(
            {
                "id": row.id,
                "number": row.number,
                "title": row.title,
                "description": row.description,
                "status": status,
                "status_label": label,
                "hold_reason": row.hold_reason,
                "priority": f"P{row.priority}",
                "priority_reason": row.priority_reason,
                "impact": row.impact,
                "urgency": row.urgency,
                "channel": str(row.channel),
                "service": {"id": row.service_id, "name": row.service__name},
                "category": None
                if row.category_id is None
                else {"id": row.category_id, "name": row.category__name},
                "team": {"id": row.team_id, "name": row.team__name},
                "assignee": None
                if row.assignee_id is None
                else {
                    "id": row.assignee_id,
                    "username": row.assignee__username,
                    "name": row.assignee__name,
                },
                "requester": {
                    "id": row.requester_id,
                    "username": row.requester__username,
                    "name": row.requester__name,
                },
                "reported_by_id": row.reported_by_id,
                "department_id": row.department_id,
                "created_at": when(row.created_at),
                "updated_at": when(row.updated_at),
                "assigned_at": when(row.assigned_at),
                "first_response_at": when(row.first_response_at),
                "resolved_at": when(row.resolved_at),
                "closed_at": when(row.closed_at),
                "cancelled_at": when(row.cancelled_at),
                "respond_by": when(row.respond_by),
                "resolve_by": when(row.resolve_by),
                "response_breached": row.response_breached,
                "resolution_breached": row.resolution_breached,
                "sla": {
                    "state": clock.state,
                    "deadline": when(clock.deadline),
                    "seconds_left": None if clock.seconds_left is None else int(clock.seconds_left),
                },
                "resolution_code": row.resolution_code,
                "resolution_notes": row.resolution_notes,
                "is_major": row.is_major,
                "major_manager_id": row.major_manager_id,
                "parent_id": row.parent_id,
                "reassignment_count": row.reassignment_count,
                "reopen_count": row.reopen_count,
                "escalation_level": row.escalation_level,
                "rating": row.rating,
                "rating_comment": row.rating_comment,
                "rated_at": when(row.rated_at),
                "affected_cis": [
                    {"id": ci.id, "number": ci.number, "name": ci.name} for ci in affected
                ],
                "version": row.version,
                "transitions": list(transitions),
            }
        )
    return items


class KnownIssueOut(Schema):
    """An open incident on a chosen item, or on something it depends on ("already known?")."""

    number: str
    title: str
    status: str
    status_label: str
    priority: str
    created_at: Timestamp
    service: Ref
    ci: CIRef = Field(description="The item the incident names.")
    direct: bool = Field(description="True: on a chosen item; false: on one it depends on.")


class IncidentPage(Schema):
    items: list[IncidentOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class EventOut(Schema):
    id: int
    at: Timestamp
    kind: str
    actor: PersonRef | None
    public: bool
    body: str
    minutes: int | None
    data: dict[str, Any]


class AttachmentOut(Schema):
    id: int
    name: str
    size: int
    content_type: str
    public: bool
    uploaded_by: PersonRef | None
    uploaded_at: Timestamp


class ReviewActionOut(Schema):
    id: int
    description: str
    owner: PersonRef
    due: date | None
    done_at: Timestamp | None


class ReviewOut(Schema):
    """The post-incident review a major incident needs before it may close."""

    id: int
    timeline: str
    cause: str
    went_well: str
    went_badly: str
    completed_at: Timestamp | None = Field(description="Set once completed; it then cannot change.")
    completed_by: PersonRef | None
    actions: list[ReviewActionOut] = Field(description="Improvements agreed, each with an owner.")


class BulkErrorOut(ErrorOut):
    """A bulk request refused as a whole: the first failing incident's error, and its number."""

    number: str | None = None


# --- what the API accepts ----------------------------------------------------------------------


class IncidentIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    title: str = Field(json_schema_extra={"maxLength": 200})
    description: str = ""
    service: int = Field(description="A service id from GET /api/v1/services.")
    impact: int = Field(description="1 (highest) … the number of levels in use (3 by default).")
    urgency: int = Field(description="1 (highest) … the number of levels in use (3 by default).")
    category: int | None = None
    requester: int | None = Field(None, description="Agents only: who the incident is for.")
    channel: Channel | None = None
    cis: list[int] = Field(
        default_factory=list, description="Ids of the configuration items it affects."
    )


class IncidentUpdateIn(Schema):
    version: int
    title: str | None = None
    description: str | None = None
    category: int | None = None
    impact: int | None = None
    urgency: int | None = None
    priority: PriorityIn | None = Field(None, description="Override the matrix (needs a reason).")
    reason: str | None = None
    cis: list[int] | None = Field(
        None, description="Ids of the configuration items it affects (replaces the list)."
    )


class IncidentListParams(Schema):
    """The console's filters (documented here; read by ``IncidentFilter``)."""

    queue: str | None = Field(None, description="mine, my_teams, unassigned, breaching, open, all.")
    status: str | None = Field(None, description="open, closed_or_cancelled or a status.")
    priority: str | None = Field(None, description="P1 … P5.")
    service: str | None = None
    team: str | None = None
    assignee: str | None = Field(None, description="A person's id, `me` or `none`.")
    category: str | None = Field(None, description="A category id (its children included).")
    requester: str | None = None
    major: str | None = Field(None, description="true or false.")
    q: str | None = Field(None, description="Words in the title, or a number.")
    cursor: str = ""
    limit: int = 50


class VersionIn(Schema):
    version: int | None = Field(None, description="The version you read; stale → 409.")


class AssignIn(VersionIn):
    team: int | None = None
    assignee: int | None = None
    reason: str = Field("", description="Required when it moves away from a team or person.")


class HoldIn(VersionIn):
    model_config = ConfigDict(use_enum_values=True)

    reason: HoldReason
    note: str = ""


class ResumeIn(VersionIn):
    note: str = ""


class ResolveIn(VersionIn):
    model_config = ConfigDict(use_enum_values=True)

    code: ResolutionCode
    notes: str


class ConfirmIn(VersionIn):
    rating: int | None = Field(None, description="1 (poor) … 5 (excellent).")
    comment: str = ""


class ReasonIn(VersionIn):
    reason: str


class RateIn(VersionIn):
    rating: int = Field(description="1 (poor) … 5 (excellent).")
    comment: str = ""


class CommentIn(Schema):
    body: str
    public: bool = Field(True, description="Agents may add internal notes (false).")


class WorklogIn(Schema):
    minutes: int
    body: str = ""
    public: bool = False


class MajorIn(Schema):
    manager: int = Field(description="The person who runs the major-incident procedure.")
    reason: str = ""


class CommunicationIn(Schema):
    body: str = Field(description="The update, as stakeholders will read it.")
    audience: str = Field("stakeholders", description="Who the update is for.")


class ChildIn(Schema):
    number: str = Field(description="The number of an incident caused by the same failure.")


class ReviewIn(Schema):
    """Parts left out (or null) keep their text; ``complete`` needs every part and an action."""

    timeline: str | None = None
    cause: str | None = None
    went_well: str | None = None
    went_badly: str | None = None
    complete: bool = Field(False, description="Complete the review; it then cannot change.")


class ReviewActionIn(Schema):
    description: str
    owner: int = Field(description="The id of the person who sees the action through.")
    due: date | None = None


class BulkAssignIn(Schema):
    numbers: list[str] = Field(min_length=1, max_length=100, description="Incident numbers.")
    team: int | None = None
    assignee: int | None = None
    reason: str = Field("", description="Required when one moves away from a team or person.")


class SatisfactionOut(Schema):
    id: int
    name: str
    average: float
    ratings: int

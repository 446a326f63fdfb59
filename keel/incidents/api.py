"""API for incidents: the queues' filters, recording, updates, every lifecycle step, the timeline,
comments, work log, attachments, assigning many at once, and the major-incident procedure
(stakeholder updates, linked incidents, the post-incident review and its actions).

Handlers parse, fetch with the scoped query (out of scope is 404), call one action, and return
the incident as it now is. A write carrying a stale ``version`` gets 409 with the version that is
current, so the client can keep what the person typed, reload and retry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Status, UploadedFile

from keel.catalog.models import Category, Service
from keel.core.api import _one
from keel.core.errors import DomainError, FieldError, StaleVersion
from keel.core.models import Team, User
from keel.core.permissions import NotFound, require
from keel.incidents import actions, queries
from keel.incidents.models import EventKind, Incident
from keel.incidents.schemas import (
    AssignIn,
    AttachmentOut,
    BulkAssignIn,
    BulkErrorOut,
    ChildIn,
    CommentIn,
    CommunicationIn,
    ConfirmIn,
    EventOut,
    HoldIn,
    IncidentIn,
    IncidentListParams,
    IncidentOut,
    IncidentPage,
    IncidentUpdateIn,
    KnownIssueOut,
    MajorIn,
    RateIn,
    ReasonIn,
    ResolveIn,
    ResumeIn,
    ReviewActionIn,
    ReviewActionOut,
    ReviewIn,
    ReviewOut,
    SatisfactionOut,
    StaleOut,
    VersionIn,
    WorklogIn,
    incident_data,
    listed_data,
)

router = Router(tags=["incidents"])

WRITE = {200: IncidentOut, 409: StaleOut}
REFUSED = frozenset({403, 404, 409, 422})
MAJOR = ["major incidents"]
PRIORITY_FIELDS = {"impact", "urgency", "priority", "reason"}


def keeps_text(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Answer a stale write with 409 and ``current_version``, so the client can retry on it."""

    @functools.wraps(handler)
    def wrapper(request: HttpRequest, number: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(request, number, *args, **kwargs)
        except StaleVersion as exc:
            current = (
                Incident.objects.filter(number=number.strip().upper())
                .values_list("version", flat=True)
                .first()
            )
            return Status(
                409,
                {
                    "detail": str(exc.message),
                    "errors": [{"field": f, "message": str(m)} for f, m in exc.errors],
                    "code": exc.code,
                    "current_version": current,
                },
            )

    return wrapper


def _staff_reads_events(user) -> bool:
    """Staff read the whole timeline; requesters (and department managers) the public part."""
    return user.has_perm("incidents.view_incidentevent")


def _refused(number: str, exc: Exception) -> Status:
    """A bulk request answered as a whole: the error of the incident that failed, naming it."""
    if isinstance(exc, DomainError):
        status, detail, errors, code = exc.status, exc.message, exc.errors, exc.code
    elif isinstance(exc, NotFound):
        status, detail, errors, code = 404, _("Not found."), [], NotFound.code
    else:
        status, detail, errors, code = 403, _("You do not have permission to do this."), [], None
    return Status(
        status,
        {
            "detail": _("%(number)s: %(detail)s") % {"number": number, "detail": detail},
            "errors": [{"field": f, "message": str(m)} for f, m in errors],
            "code": code,
            "number": number,
        },
    )


# --- the list and one incident ------------------------------------------------------------------


@router.get("/incidents", response=IncidentPage)
def list_incidents(request: HttpRequest, params: Query[IncidentListParams]):
    """Incidents you may see, urgent first then by deadline, with the console's filters.

    Without ``queue`` every incident in your scope is listed (the console starts at ``open``).
    Page with ``cursor``: pass the ``next_cursor`` of the previous page.
    """
    flt = queries.IncidentFilter.parse(request.GET, default_queue="all")
    flt.raise_errors()
    rows, next_cursor = queries.listed_page(
        queries.incidents_for(request.user, flt), params.cursor, params.limit
    )
    cis = queries.affected_cis_of([row.id for row in rows])
    data = {"items": listed_data(rows, cis, timezone.now()), "next_cursor": next_cursor}
    return _json(request, data, 200)


def _json(request: HttpRequest, data: Any, status: int) -> HttpResponse:
    """``data``, already in the shape the route declares, as the API renders every answer."""
    from keel.api import api

    return api.create_response(request, data, status=status)


@router.post("/incidents", response={201: IncidentOut})
def create_incident(request: HttpRequest, payload: IncidentIn):
    """Record an incident; the requester is told its number and the committed response time.

    ``requester`` (someone else's id) and ``channel`` are for agents recording on someone's behalf.
    """
    if payload.requester is not None and payload.requester != request.user.pk:
        # Checked before the id is looked up, so requesters cannot probe who exists.
        require(request.user, "incidents.work_incident")
    incident = actions.open_incident(
        actor=request.user,
        title=payload.title,
        description=payload.description,
        service=_service(payload.service),
        impact=payload.impact,
        urgency=payload.urgency,
        category=_one(Category, payload.category, "category"),
        requester=_one(User, payload.requester, "requester"),
        channel=payload.channel,
        cis=payload.cis,
    )
    return _json(request, incident_data(incident), 201)


def _service(pk: int | None) -> Service | None:
    """The service named by id (read at most a few seconds ago), or a 422 naming the field."""
    if pk is None:
        return None
    service = queries.service_for_recording(pk)
    if service is None:
        what = Service._meta.verbose_name
        raise FieldError("service", _("No %(what)s with id %(id)s.") % {"what": what, "id": pk})
    return service


def parse_ci_ids(raw: str, field: str = "cis") -> list[int]:
    """``"1,2,3"`` as ids; anything else names the field."""
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise FieldError(field, _("Give configuration item ids separated by commas."))
    if len(parts) > 100:
        raise FieldError(field, _("Ask about at most 100 items at once."))
    return [int(p) for p in parts]


# Declared before ``/incidents/{number}``, whose path would otherwise take "known-issues".
@router.get("/incidents/known-issues", response=list[KnownIssueOut])
def known_issues(request: HttpRequest, cis: str = ""):
    """ "Is this already known?": open incidents on these items and on what they depend on
    (three relations deep), newest first, at most 10, each with the item it names."""
    require(request.user, "incidents.view_incident")
    return [
        {
            "number": k.incident.number,
            "title": k.incident.title,
            "status": k.incident.status,
            "status_label": k.incident.get_status_display(),
            "priority": k.incident.priority_code,
            "created_at": k.incident.created_at,
            "service": k.incident.service,
            "ci": k.ci,
            "direct": k.direct,
        }
        for k in queries.known_issues(parse_ci_ids(cis), request.user)
    ]


# Declared before ``/incidents/{number}``, whose path would otherwise take "bulk-assign" for a number.
@router.post("/incidents/bulk-assign", response={200: list[IncidentOut], REFUSED: BulkErrorOut})
def bulk_assign(request: HttpRequest, payload: BulkAssignIn):
    """Give several incidents to a team and/or a person in it: all of them, or none.

    If one is refused (out of scope, not allowed, needs a reason…) nothing changes, and the answer
    is that incident's error with its number in ``detail`` and ``number``.
    """
    team = _one(Team, payload.team, "team")
    assignee = _one(User, payload.assignee, "assignee")
    numbers = list(dict.fromkeys(n.strip().upper() for n in payload.numbers))
    assigned, number = [], ""
    try:
        with transaction.atomic():
            for number in numbers:
                incident = queries.incident_for(request.user, number)
                assigned.append(
                    actions.assign(
                        actor=request.user,
                        incident=incident,
                        team=team,
                        assignee=assignee,
                        reason=payload.reason,
                    )
                )
    except (DomainError, NotFound, PermissionDenied) as exc:
        return _refused(number, exc)
    return assigned


@router.get("/incidents/satisfaction", response=list[SatisfactionOut])
def satisfaction(request: HttpRequest, by: str = "service", days: int = 90):
    """Average rating (1–5) and number of ratings per service or per team over the last days."""
    require(request.user, "incidents.view_incidentevent")
    if by not in {"service", "team"}:
        raise FieldError("by", _("Group by service or team."))
    if not 1 <= days <= 3660:
        raise FieldError("days", _("Choose 1 to 3660 days."))
    return queries.satisfaction(by=by, since=timezone.now() - timedelta(days=days))


@router.get("/incidents/{number}", response=IncidentOut)
def get_incident(request: HttpRequest, number: str):
    return queries.incident_for(request.user, number)


@router.patch("/incidents/{number}", response=WRITE)
@keeps_text
def update_incident(request: HttpRequest, number: str, payload: IncidentUpdateIn):
    """Change title, description, category (and impact, urgency or priority with a reason).

    ``version`` is required: the one you read. A priority override needs a ``reason``.
    """
    incident = queries.incident_for(request.user, number)
    values = payload.dict(exclude_unset=True)
    version = values.pop("version")
    reclassify = {k: values.pop(k) for k in PRIORITY_FIELDS & set(values)}
    if reclassify.keys() == {"reason"}:
        raise FieldError("reason", _("Give impact, urgency or priority with the reason."))
    if "category" in values:
        values["category"] = _one(Category, values["category"], "category")
    cis = values.pop("cis", None)
    with transaction.atomic():
        if cis is not None:
            actions.set_affected_cis(
                actor=request.user, incident=incident, cis=cis, version=version
            )
            version = incident.version
        if values or not (reclassify or cis is not None):
            actions.update_incident(
                actor=request.user, incident=incident, version=version, **values
            )
            version = incident.version
        if reclassify:
            actions.change_priority(
                actor=request.user, incident=incident, version=version, **reclassify
            )
    return incident


# --- lifecycle steps ----------------------------------------------------------------------------


@router.post("/incidents/{number}/assign", response=WRITE)
@keeps_text
def assign(request: HttpRequest, number: str, payload: AssignIn):
    """Give it to a team and/or a person in it; moving it away from someone needs a reason."""
    incident = queries.incident_for(request.user, number)
    return actions.assign(
        actor=request.user,
        incident=incident,
        team=_one(Team, payload.team, "team"),
        assignee=_one(User, payload.assignee, "assignee"),
        reason=payload.reason,
        version=payload.version,
    )


@router.post("/incidents/{number}/start", response=WRITE)
@keeps_text
def start(request: HttpRequest, number: str, payload: VersionIn | None = None):
    """Begin work (an unassigned incident becomes yours if you are in its team)."""
    incident = queries.incident_for(request.user, number)
    version = payload.version if payload else None
    return actions.start(actor=request.user, incident=incident, version=version)


@router.post("/incidents/{number}/hold", response=WRITE)
@keeps_text
def hold(request: HttpRequest, number: str, payload: HoldIn):
    """Wait for the requester, a supplier or a change; the resolution clock pauses."""
    incident = queries.incident_for(request.user, number)
    return actions.hold(actor=request.user, incident=incident, **payload.dict())


@router.post("/incidents/{number}/resume", response=WRITE)
@keeps_text
def resume(request: HttpRequest, number: str, payload: ResumeIn | None = None):
    incident = queries.incident_for(request.user, number)
    values = payload.dict() if payload else {}
    return actions.resume(actor=request.user, incident=incident, **values)


@router.post("/incidents/{number}/resolve", response=WRITE)
@keeps_text
def resolve(request: HttpRequest, number: str, payload: ResolveIn):
    """Resolve with a code and notes; the requester is asked to confirm and rate it."""
    incident = queries.incident_for(request.user, number)
    return actions.resolve(actor=request.user, incident=incident, **payload.dict())


@router.post("/incidents/{number}/confirm", response=WRITE)
@keeps_text
def confirm(request: HttpRequest, number: str, payload: ConfirmIn | None = None):
    """The requester confirms the fix (optionally rating it 1–5); the incident closes."""
    incident = queries.incident_for(request.user, number)
    values = payload.dict() if payload else {}
    return actions.confirm(actor=request.user, incident=incident, **values)


@router.post("/incidents/{number}/reject", response=WRITE)
@keeps_text
def reject(request: HttpRequest, number: str, payload: ReasonIn):
    """The requester says it is not fixed: back to work, with a reason."""
    incident = queries.incident_for(request.user, number)
    return actions.reject(actor=request.user, incident=incident, **payload.dict())


@router.post("/incidents/{number}/reopen", response=WRITE)
@keeps_text
def reopen(request: HttpRequest, number: str, payload: ReasonIn):
    """Reopen a resolved incident, or a closed one within the reopen period."""
    incident = queries.incident_for(request.user, number)
    return actions.reopen(actor=request.user, incident=incident, **payload.dict())


@router.post("/incidents/{number}/cancel", response=WRITE)
@keeps_text
def cancel(request: HttpRequest, number: str, payload: ReasonIn):
    """Withdraw an incident recorded by mistake; a reason is required."""
    incident = queries.incident_for(request.user, number)
    return actions.cancel(actor=request.user, incident=incident, **payload.dict())


@router.post("/incidents/{number}/rate", response=WRITE)
@keeps_text
def rate(request: HttpRequest, number: str, payload: RateIn):
    """The requester rates a resolved or closed incident, 1–5 with a comment."""
    incident = queries.incident_for(request.user, number)
    return actions.rate(actor=request.user, incident=incident, **payload.dict())


@router.post("/incidents/{number}/major", response=WRITE, tags=["major incidents"])
@keeps_text
def declare_major(request: HttpRequest, number: str, payload: MajorIn):
    """Start the major-incident procedure with a named manager."""
    incident = queries.incident_for(request.user, number)
    return actions.declare_major(
        actor=request.user,
        incident=incident,
        manager=_one(User, payload.manager, "manager"),
        reason=payload.reason,
    )


# --- timeline, conversation, work and files ------------------------------------------------------


@router.get("/incidents/{number}/events", response=list[EventOut])
def list_events(request: HttpRequest, number: str):
    """The timeline, oldest first; requesters see only what is public."""
    incident = queries.incident_for(request.user, number)
    return queries.timeline(incident, staff=_staff_reads_events(request.user))


@router.get("/incidents/{number}/comments", response=list[EventOut])
def list_comments(request: HttpRequest, number: str):
    incident = queries.incident_for(request.user, number)
    events = queries.timeline(incident, staff=_staff_reads_events(request.user))
    return events.filter(kind=EventKind.COMMENT)


@router.post("/incidents/{number}/comments", response={201: EventOut})
def add_comment(request: HttpRequest, number: str, payload: CommentIn):
    """Add to the conversation (requesters' comments are always public)."""
    incident = queries.incident_for(request.user, number)
    event = actions.comment(actor=request.user, incident=incident, **payload.dict())
    return Status(201, event)


@router.get("/incidents/{number}/worklog", response=list[EventOut])
def list_worklog(request: HttpRequest, number: str):
    incident = queries.incident_for(request.user, number)
    events = queries.timeline(incident, staff=_staff_reads_events(request.user))
    return events.filter(kind=EventKind.WORKLOG)


@router.post("/incidents/{number}/worklog", response={201: EventOut})
def log_work(request: HttpRequest, number: str, payload: WorklogIn):
    """Record minutes spent (agents)."""
    incident = queries.incident_for(request.user, number)
    event = actions.log_work(actor=request.user, incident=incident, **payload.dict())
    return Status(201, event)


@router.get("/incidents/{number}/attachments", response=list[AttachmentOut])
def list_attachments(request: HttpRequest, number: str):
    incident = queries.incident_for(request.user, number)
    return queries.attachments(incident, staff=request.user.has_perm("incidents.view_attachment"))


@router.post("/incidents/{number}/attachments", response={201: AttachmentOut})
def add_attachment(
    request: HttpRequest, number: str, file: File[UploadedFile], public: Form[bool] = True
):
    """Upload ``file`` (multipart) within the size limit and of an accepted type."""
    incident = queries.incident_for(request.user, number)
    attachment = actions.add_attachment(
        actor=request.user, incident=incident, upload=file, public=public
    )
    return Status(201, attachment)


@router.get("/incidents/{number}/attachments/{attachment_id}")
def download_attachment(request: HttpRequest, number: str, attachment_id: int):
    """The file itself, as a download."""
    incident = queries.incident_for(request.user, number)
    staff = request.user.has_perm("incidents.view_attachment")
    attachment = queries.attachments(incident, staff=staff).filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


# --- major incidents: stakeholder updates, linked incidents, the post-incident review -----------


@router.get("/incidents/{number}/communications", response=list[EventOut], tags=MAJOR)
def list_communications(request: HttpRequest, number: str):
    """The major incident's timed updates to stakeholders, oldest first (requesters read them)."""
    incident = queries.incident_for(request.user, number)
    events = queries.timeline(incident, staff=_staff_reads_events(request.user))
    return events.filter(kind=EventKind.COMMUNICATION)


@router.post("/incidents/{number}/communications", response={201: EventOut}, tags=MAJOR)
def add_communication(request: HttpRequest, number: str, payload: CommunicationIn):
    """Post a timed update to stakeholders; only major incidents have them (409 otherwise)."""
    incident = queries.incident_for(request.user, number)
    event = actions.communicate(actor=request.user, incident=incident, **payload.dict())
    return Status(201, event)


@router.get("/incidents/{number}/children", response=list[IncidentOut], tags=MAJOR)
def list_children(request: HttpRequest, number: str):
    """Incidents linked to this major incident, oldest first: those you may see."""
    incident = queries.incident_for(request.user, number)
    return queries.children(incident, request.user)


@router.post("/incidents/{number}/children", response={201: IncidentOut}, tags=MAJOR)
def add_child(request: HttpRequest, number: str, payload: ChildIn):
    """Link an incident caused by the same failure (its ``number``); the child is returned."""
    major = queries.incident_for(request.user, number)
    # Checked before the number is looked up, so requesters are refused the same way every time.
    require(request.user, "incidents.work_incident")
    try:
        child = queries.incident_for(request.user, payload.number)
    except NotFound:
        raise FieldError("number", _("There is no such incident that you can see.")) from None
    return Status(201, actions.link_child(actor=request.user, major=major, child=child))


@router.get("/incidents/{number}/review", response=ReviewOut, tags=MAJOR)
def get_review(request: HttpRequest, number: str):
    """The post-incident review with its actions (staff); 404 unless the incident is major."""
    incident = queries.incident_for(request.user, number)
    require(request.user, "incidents.view_incidentevent")  # internal, as on the incident page
    review = queries.review_for(incident) if incident.is_major else None
    if review is None:
        raise NotFound
    return review


@router.put("/incidents/{number}/review", response=ReviewOut, tags=MAJOR)
def save_review(request: HttpRequest, number: str, payload: ReviewIn):
    """Write the review; parts left out keep their text.

    ``complete: true`` needs every part and at least one action (422 names what is missing); a
    completed review no longer changes (409), and lets the major incident close.
    """
    incident = queries.incident_for(request.user, number)
    actions.save_review(actor=request.user, incident=incident, **payload.dict(exclude_none=True))
    return queries.review_for(incident)


@router.post("/incidents/{number}/review/actions", response={201: ReviewActionOut}, tags=MAJOR)
def add_review_action(request: HttpRequest, number: str, payload: ReviewActionIn):
    """Agree an improvement with an owner (a person's id) and optionally a due date."""
    incident = queries.incident_for(request.user, number)
    # Checked before the id is looked up, so those who may not write cannot probe who exists.
    require(request.user, "incidents.manage_major_incident")
    action = actions.add_review_action(
        actor=request.user,
        incident=incident,
        description=payload.description,
        owner=_one(User, payload.owner, "owner"),
        due=payload.due,
    )
    return Status(201, action)

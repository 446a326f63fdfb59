"""Read paths for incidents: the queues and their filters (one definition for pages and API),
keyset pagination, and the incident page — all scoped, indexed, and free of N+1 queries.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.core.errors import FieldError
from keel.core.permissions import get_visible, roles_of, sees_team, team_ids_of, visible
from keel.incidents.lifecycle import Status
from keel.incidents.models import Attachment, Incident, IncidentEvent

QUEUES = {
    "mine": gettext_lazy("My work"),
    "my_teams": gettext_lazy("My teams"),
    "unassigned": gettext_lazy("Unassigned"),
    "breaching": gettext_lazy("Breaching soon"),
    "open": gettext_lazy("All open"),
    "all": gettext_lazy("Everything"),
}
BREACHING_WITHIN = timedelta(hours=4)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
STATUS_WORDS = {"open", "closed_or_cancelled", *Status.values}


@dataclass
class IncidentFilter:
    """The filters of every incident list: queue page, its htmx table, and ``GET /incidents``."""

    queue: str = "open"
    status: str = ""
    priority: int | None = None
    service: int | None = None
    team: int | None = None
    assignee: str = ""  # a user id, "me" or "none"
    category: int | None = None
    requester: int | None = None
    major: bool | None = None
    q: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any, *, default_queue: str = "open") -> IncidentFilter:
        """Read filters from query parameters; bad values are collected in ``errors``."""
        found = cls(queue=(params.get("queue") or default_queue).strip())
        if found.queue not in QUEUES:
            found.errors.append(
                ("queue", _("Unknown queue; choose one of: %(q)s.") % {"q": ", ".join(QUEUES)})
            )
            found.queue = default_queue
        status = (params.get("status") or "").strip()
        if status and status not in STATUS_WORDS:
            found.errors.append(("status", _("Unknown status.")))
        else:
            found.status = status
        priority = (params.get("priority") or "").strip().upper().removeprefix("P")
        if priority:
            if priority.isdigit() and 1 <= int(priority) <= 5:
                found.priority = int(priority)
            else:
                found.errors.append(("priority", _("Use P1 to P5.")))
        for name in ("service", "team", "category", "requester"):
            raw = (params.get(name) or "").strip()
            if raw:
                if raw.isdigit():
                    setattr(found, name, int(raw))
                else:
                    found.errors.append((name, _("Expected a number.")))
        assignee = (params.get("assignee") or "").strip()
        if assignee and not (assignee in {"me", "none"} or assignee.isdigit()):
            found.errors.append(("assignee", _("Use a person's id, “me” or “none”.")))
        else:
            found.assignee = assignee
        major = (params.get("major") or "").strip().lower()
        if major in {"1", "true", "yes"}:
            found.major = True
        elif major in {"0", "false", "no"}:
            found.major = False
        elif major:
            found.errors.append(("major", _("Use true or false.")))
        found.q = (params.get("q") or "").strip()[:200]
        return found

    def raise_errors(self) -> None:
        if self.errors:
            raise FieldError(errors=self.errors)

    def as_params(self) -> dict[str, str]:
        values = {
            "queue": self.queue,
            "status": self.status,
            "priority": f"P{self.priority}" if self.priority else "",
            "service": self.service or "",
            "team": self.team or "",
            "assignee": self.assignee,
            "category": self.category or "",
            "q": self.q,
        }
        return {k: str(v) for k, v in values.items() if v}


LIST_RELATED = ("requester", "service", "team", "assignee", "category")
QUEUE_ORDER = ("priority", "resolve_by", "id")


def incidents_for(
    viewer: Any, flt: IncidentFilter, *, now: datetime | None = None
) -> QuerySet[Incident]:
    """Incidents the viewer may see, filtered, ordered urgent first and by deadline."""
    now = now or timezone.now()
    queue = flt.queue
    teams = team_ids_of(viewer) if sees_team(viewer) else frozenset()
    # When the filter already keeps to the viewer's teams, the scope condition adds nothing but an
    # OR the planner cannot estimate; leaving it out keeps the team queue on its partial index.
    within_scope = queue == "my_teams" or (flt.team is not None and flt.team in teams)
    base = Incident.objects.all()
    if not (teams and within_scope):
        base = visible(base, viewer)
    qs = base.select_related(*LIST_RELATED)
    if queue == "mine":
        qs = qs.filter(assignee_id=viewer.pk, is_open=True)
    elif queue == "my_teams":
        qs = qs.filter(team_id__in=team_ids_of(viewer), is_open=True)
    elif queue == "unassigned":
        qs = qs.filter(assignee__isnull=True, is_open=True)
    elif queue == "breaching":
        qs = qs.filter(is_open=True, paused_at__isnull=True, resolve_by__lte=now + BREACHING_WITHIN)
    elif queue == "open":
        qs = qs.filter(is_open=True)
    if flt.status == "open":
        qs = qs.filter(is_open=True)
    elif flt.status == "closed_or_cancelled":
        qs = qs.filter(status__in=[Status.CLOSED, Status.CANCELLED])
    elif flt.status:
        qs = qs.filter(status=flt.status)
    if flt.priority:
        qs = qs.filter(priority=flt.priority)
    if flt.service:
        qs = qs.filter(service_id=flt.service)
    if flt.team:
        qs = qs.filter(team_id=flt.team)
    if flt.category:
        qs = qs.filter(Q(category_id=flt.category) | Q(category__parent_id=flt.category))
    if flt.requester:
        qs = qs.filter(requester_id=flt.requester)
    if flt.assignee == "me":
        qs = qs.filter(assignee_id=viewer.pk)
    elif flt.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif flt.assignee:
        qs = qs.filter(assignee_id=int(flt.assignee))
    if flt.major is not None:
        qs = qs.filter(is_major=flt.major)
    if flt.q:
        term = flt.q
        if term.upper().startswith("INC-"):
            qs = qs.filter(number__startswith=term.upper())
        else:
            qs = qs.filter(Q(title__icontains=term) | Q(number__icontains=term))
    return qs.order_by(*QUEUE_ORDER)


# --- keyset pagination over (priority, resolve_by, id) ---------------------------------------


def encode_cursor(incident: Any) -> str:
    """The cursor after ``incident``: an instance, or a row (:func:`listed_page`, :func:`row_keys`)."""
    payload = [
        incident.priority,
        incident.resolve_by.isoformat() if incident.resolve_by else None,
        incident.id,
    ]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        priority, resolve_by, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        deadline = parse_datetime(resolve_by) if resolve_by else None
        return int(priority), deadline, int(pk)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise FieldError(
            "cursor", _("This cursor is not valid; start from the first page.")
        ) from None


def _after(deadline: datetime | None, pk: int, nulls_last: bool) -> Q:
    """Rows of the same priority that come after (deadline, pk) in ``ORDER BY resolve_by, id``.

    Incidents without a deadline sort last on PostgreSQL and first on SQLite, so which side of
    the cursor they are on depends on the database.
    """
    no_deadline = Q(resolve_by__isnull=True)
    if deadline is None:
        after = no_deadline & Q(id__gt=pk)
        return after if nulls_last else after | Q(resolve_by__isnull=False)
    after = Q(resolve_by__gt=deadline) | Q(resolve_by=deadline, id__gt=pk)
    return after | no_deadline if nulls_last else after


def _from_cursor(qs: QuerySet[Any], cursor: str, size: int) -> QuerySet[Any]:
    """``qs`` from just after ``cursor`` (all of it without one); the page size is checked."""
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise FieldError("limit", _("Ask for 1 to %(max)s at a time.") % {"max": MAX_PAGE_SIZE})
    if cursor:
        priority, deadline, pk = decode_cursor(cursor)
        nulls_last = connections[qs.db].features.nulls_order_largest
        qs = qs.filter(
            Q(priority__gt=priority) | (Q(priority=priority) & _after(deadline, pk, nulls_last))
        )
    return qs


def _cut(rows: list[Any], size: int) -> tuple[list[Any], str | None]:
    """The first ``size`` of the ``size + 1`` rows read, and the cursor after them if there are more."""
    if len(rows) > size:
        return rows[:size], encode_cursor(rows[size - 1])
    return rows, None


def page(
    qs: QuerySet[Any], cursor: str = "", size: int = PAGE_SIZE
) -> tuple[list[Any], str | None]:
    """One page after ``cursor`` and the cursor of the next page (``None`` at the end).

    ``qs`` is :func:`incidents_for`'s, as instances or as rows (:func:`row_keys`).
    """
    return _cut(list(_from_cursor(qs, cursor, size)[: size + 1]), size)


# --- lists read as plain rows -------------------------------------------------------------------

# What the API's list answers with (``schemas.listed_data``) and the SLA clock reads: the
# incident's own columns, and the names of the records it refers to, in one query without a model
# instance per row (building 50 incidents with their 5 related records cost more than the query).
LIST_COLUMNS = (
    "id",
    "number",
    "title",
    "description",
    "status",
    "is_open",
    "hold_reason",
    "priority",
    "priority_reason",
    "impact",
    "urgency",
    "channel",
    "service_id",
    "service__name",
    "category_id",
    "category__name",
    "team_id",
    "team__name",
    "assignee_id",
    "assignee__username",
    "assignee__name",
    "requester_id",
    "requester__username",
    "requester__name",
    "reported_by_id",
    "department_id",
    "created_at",
    "updated_at",
    "assigned_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "respond_by",
    "resolve_by",
    "warn_at",
    "paused_at",
    "warned",
    "response_breached",
    "resolution_breached",
    "resolution_code",
    "resolution_notes",
    "is_major",
    "major_manager_id",
    "parent_id",
    "reassignment_count",
    "reopen_count",
    "escalation_level",
    "rating",
    "rating_comment",
    "rated_at",
    "version",
)


def listed_page(
    qs: QuerySet[Incident], cursor: str = "", size: int = PAGE_SIZE
) -> tuple[list[Any], str | None]:
    """:func:`page` of :func:`incidents_for`'s ``qs``, as rows of :data:`LIST_COLUMNS` (named tuples).

    One statement: the page's incidents are picked on their own table (the queue's index, no
    joins), and only those are joined to the records they name. Joined first, PostgreSQL would
    join a team's whole open backlog before keeping the first page of it.
    """
    ids = _from_cursor(qs, cursor, size).values("id")[: size + 1]
    rows = Incident.objects.filter(id__in=ids).order_by(*QUEUE_ORDER)
    return _cut(list(rows.values_list(*LIST_COLUMNS, named=True)), size)


class AffectedCI(NamedTuple):
    id: int
    number: str
    name: str


def affected_cis_of(incident_ids: list[int]) -> dict[int, list[AffectedCI]]:
    """The affected items of each of these incidents (in no particular order), in one query."""
    found: dict[int, list[AffectedCI]] = {}
    if not incident_ids:
        return found
    through = Incident.affected_cis.through
    rows = (
        through.objects.filter(incident_id__in=incident_ids)
        .values_list(
            "incident_id",
            "configurationitem_id",
            "configurationitem__number",
            "configurationitem__name",
        )
        .order_by()
    )
    for incident_id, pk, number, name in rows:
        found.setdefault(incident_id, []).append(AffectedCI(pk, number, name))
    return found


# The queue page keeps each row rendered (``views/_queue_rows.py``): these columns name a row's
# rendering (its version and time of change) and place it in the keyset order.
ROW_KEYS = ("id", "number", "priority", "resolve_by", "version", "updated_at")


def row_keys(qs: QuerySet[Incident]) -> QuerySet[Any]:
    """:func:`incidents_for`'s incidents as rows of :data:`ROW_KEYS` (named tuples)."""
    return qs.values_list(*ROW_KEYS, named=True)


def whole(qs: QuerySet[Incident], ids: list[int]) -> dict[int, Incident]:
    """The incidents of ``qs`` (with its related records) among ``ids``, by id.

    Read through the same scoped, filtered query as the page, so one that left it since (closed,
    moved to another team) is not among them.
    """
    return {i.pk: i for i in qs.filter(pk__in=ids).order_by()}


def queue_counts(viewer: Any, *, now: datetime | None = None) -> dict[str, int]:
    """How many incidents each queue holds for this viewer (one query)."""
    now = now or timezone.now()
    qs = visible(Incident.objects.filter(is_open=True), viewer)
    teams = list(team_ids_of(viewer))
    return qs.aggregate(
        mine=Count("id", filter=Q(assignee_id=viewer.pk)),
        my_teams=Count("id", filter=Q(team_id__in=teams)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        breaching=Count(
            "id", filter=Q(paused_at__isnull=True, resolve_by__lte=now + BREACHING_WITHIN)
        ),
        open=Count("id"),
    )


COUNTS_SECONDS = 20


def counts_seconds() -> int:
    """How long the queue tabs' counts are kept (``KEEL_QUEUE_COUNTS_SECONDS``, 0 = not kept)."""
    return int(getattr(settings, "KEEL_QUEUE_COUNTS_SECONDS", COUNTS_SECONDS))


def recent_queue_counts(viewer: Any, *, now: datetime | None = None) -> dict[str, int]:
    """:func:`queue_counts` as counted at most ``counts_seconds()`` ago.

    Counting a large backlog costs more than the page's list, and the tabs only say how much
    waits: the counts may lag by those seconds, the list never does. Kept in Django's cache (per
    process, or shared through Redis), keyed by the person, their roles and their teams, so a new
    role or team counts afresh at once.
    """
    seconds = counts_seconds()
    if seconds <= 0:
        return queue_counts(viewer, now=now)
    scope = "|".join(
        [
            str(viewer.pk),
            viewer.date_joined.isoformat() if viewer.date_joined else "",
            ",".join(sorted(roles_of(viewer))),
            ",".join(map(str, sorted(team_ids_of(viewer)))),
        ]
    )
    key = "incidents:queue-counts:" + hashlib.sha256(scope.encode()).hexdigest()
    counts = cache.get(key)
    if counts is None:
        counts = queue_counts(viewer, now=now)
        cache.set(key, counts, seconds)
    return counts


# --- the service an incident is recorded on ---------------------------------------------------

SERVICE_SECONDS = 5.0
_services: dict[int, tuple[float, Any]] = {}


def forget_services(**_kwargs: Any) -> None:
    _services.clear()


def service_for_recording(pk: int) -> Any | None:
    """The service (with its team) by id, as read at most ``SERVICE_SECONDS`` ago in this process.

    Every recording names one, and a busy desk records many a second on the same few; reading it
    once a few seconds saves a query per incident. A change to a service or a team here forgets
    them all at once; other processes see it within those seconds (as with the catalogue's
    targets, which they keep for a minute).
    """
    from keel.catalog.models import Service

    hit = _services.get(pk)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return copy.copy(hit[1])
    service = Service.objects.select_related("team").filter(pk=pk).first()
    if service is not None:
        if len(_services) > 10_000:
            _services.clear()
        _services[pk] = (now + SERVICE_SECONDS, copy.copy(service))
    return service


def _connect_forgetting() -> None:
    from keel.catalog.models import Service
    from keel.core.models import Team

    for model in (Service, Team):
        post_save.connect(forget_services, sender=model, dispatch_uid=f"forget-services-{model}")
        post_delete.connect(
            forget_services, sender=model, dispatch_uid=f"forget-services-d-{model}"
        )


_connect_forgetting()


# --- one incident ----------------------------------------------------------------------------


def incident_for(viewer: Any, number: str) -> Incident:
    """The incident by number if the viewer may see it; ``NotFound`` (404) otherwise."""
    qs = Incident.objects.select_related(
        *LIST_RELATED,
        "reported_by",
        "department",
        "major_manager",
        "parent",
        "service__owner",
        "team__next_level",
    )
    qs = qs.prefetch_related(affected_cis_prefetch())
    return get_visible(qs, viewer, number=(number or "").strip().upper())


def may_see(viewer: Any, pk: int) -> bool:
    """Whether the incident (still) lies within what the viewer may see."""
    return visible(Incident.objects.filter(pk=pk), viewer).exists()


def timeline(incident: Incident, *, staff: bool) -> QuerySet[IncidentEvent]:
    """The incident's events, oldest first; requesters see only the public ones."""
    events = incident.events.select_related("actor")
    if not staff:
        events = events.filter(public=True)
    return events.order_by("at", "id")


def attachments(incident: Incident, *, staff: bool) -> QuerySet[Attachment]:
    qs = incident.attachments.select_related("uploaded_by")
    return qs if staff else qs.filter(public=True)


def children(incident: Incident, viewer: Any) -> QuerySet[Incident]:
    """The incidents linked to a major incident that this viewer may see."""
    return (
        visible(incident.children.all(), viewer)
        .select_related(*LIST_RELATED)
        .order_by("created_at")
    )


def review_for(incident: Incident):
    from keel.incidents.models import PostIncidentReview, ReviewAction

    return (
        PostIncidentReview.objects.filter(incident=incident)
        .select_related("completed_by")
        .prefetch_related(
            Prefetch("actions", queryset=ReviewAction.objects.select_related("owner"))
        )
        .first()
    )


def satisfaction(*, by: str = "service", since: datetime | None = None) -> list[dict[str, Any]]:
    """Average rating and count per service or per team (the S5/S6 satisfaction figure)."""
    key = {"service": ("service_id", "service__name"), "team": ("team_id", "team__name")}[by]
    qs = Incident.objects.filter(rating__isnull=False)
    if since:
        qs = qs.filter(rated_at__gte=since)
    rows = qs.values(*key).annotate(average=Avg("rating"), ratings=Count("id")).order_by(key[1])
    return [
        {
            "id": r[key[0]],
            "name": r[key[1]],
            "average": round(r["average"], 2),
            "ratings": r["ratings"],
        }
        for r in rows
    ]


# --- affected configuration items ---------------------------------------------------------------

KNOWN_ISSUES_DEPTH = 3
KNOWN_ISSUES_LIMIT = 10


def affected_cis_prefetch() -> Prefetch:
    """The incident's affected items in number order, in one query for a whole page."""
    from keel.cmdb.models import ConfigurationItem

    return Prefetch(
        "affected_cis", queryset=ConfigurationItem.objects.only("id", "number", "name", "status")
    )


def open_incidents_naming(item_ids: list[int]) -> int:
    """How many open incidents name any of ``item_ids`` (the CMDB refuses to delete those)."""
    return (
        Incident.objects.filter(is_open=True, affected_cis__in=list(item_ids))
        .values("id")
        .distinct()
        .count()
    )


@dataclass(frozen=True)
class KnownIssue:
    """An open incident that may explain a new one: on ``ci`` itself (``direct``) or on an item
    the chosen ones depend on."""

    incident: Incident
    ci: Any
    direct: bool


def known_issues(ci_ids: Any, viewer: Any, *, limit: int = KNOWN_ISSUES_LIMIT) -> list[KnownIssue]:
    """ "Is this already known?": open incidents the viewer may see on the items ``ci_ids`` and on
    what they depend on (three relations deep), newest first, each with the item it names.

    Only the items among ``ci_ids`` the viewer can see are followed. Four queries, whatever the
    number of items or incidents.
    """
    from keel.cmdb import queries as cmdb
    from keel.cmdb.models import ConfigurationItem

    wanted = [int(i) for i in dict.fromkeys(ci_ids or [])][: cmdb.MAX_SEEDS]
    if not wanted:
        return []
    seeds = set(
        visible(ConfigurationItem.objects.filter(pk__in=wanted), viewer).values_list(
            "id", flat=True
        )
    )
    if not seeds:
        return []
    reached = cmdb.dependencies_of(seeds, depth=KNOWN_ISSUES_DEPTH)
    ids = list(reached)
    incidents = list(
        visible(Incident.objects.filter(is_open=True, affected_cis__in=ids), viewer)
        .distinct()
        .select_related("service", "team", "assignee")
        .prefetch_related(
            Prefetch(
                "affected_cis",
                queryset=ConfigurationItem.objects.filter(pk__in=ids).only(
                    "id", "number", "name", "status"
                ),
                to_attr="known_cis",
            )
        )
        .order_by("-created_at", "-id")[:limit]
    )
    found = []
    for incident in incidents:
        cis = sorted(incident.known_cis, key=lambda ci: (ci.pk not in seeds, ci.number))
        if cis:
            found.append(KnownIssue(incident, cis[0], cis[0].pk in seeds))
    return found

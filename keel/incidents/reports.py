"""Incident reports: the figures a desk manager watches, computed in the database.

Counts, the priority distribution and means are aggregates in SQL. The median time to resolve
is exact on both databases: PostgreSQL's ``percentile_cont(0.5)`` over the seconds between
recording and resolution; on SQLite the one or two middle durations (julianday difference,
sorted in SQL) are fetched and averaged here. Reports read every incident and contact, whatever
the reader's queue scope: they show totals, never records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connections
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from keel.core.errors import FieldError
from keel.core.permissions import is_staff_member
from keel.incidents.models import Incident, Interaction

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class IncidentFigures:
    incidents: int  # incidents in scope
    by_priority: dict[int, int]  # {1: n, 2: n, …} every level present in scope
    resolved: int  # incidents with resolved_at set
    median_hours_to_resolve: float | None  # resolved_at - created_at, over resolved ones, hours
    mean_hours_to_resolve: float | None
    reopened: int  # incidents with reopen_count > 0
    mean_reassignments: float | None  # mean of reassignment_count
    interactions: int  # contacts in scope (started_at in range; import_source filter applies)
    first_contact_resolved: int
    first_contact_rate: float | None  # first_contact_resolved / interactions


class _EpochSeconds(Func):
    """PostgreSQL: the seconds between two timestamps, as double precision."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))::double precision"
    arg_joiner = " - "
    output_field = FloatField()


class _JulianSeconds(Func):
    """SQLite: the seconds between two stored timestamps (julianday difference)."""

    template = "((julianday(%(expressions)s)) * 86400.0)"
    arg_joiner = ") - julianday("
    output_field = FloatField()


class _Median(Func):
    """PostgreSQL's exact median (interpolated between the middle two of an even count)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    contains_aggregate = True


def _moment(value: datetime | date | None) -> datetime | None:
    """A date means the start of that day in the current time zone."""
    if value is None or isinstance(value, datetime):
        return value
    return timezone.make_aware(datetime.combine(value, time.min))


def _pk(value: Any) -> Any:
    return getattr(value, "pk", value)


def incidents_in_scope(
    *,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    service: Any = None,
    team: Any = None,
    import_source: str | None = None,
) -> QuerySet[Incident]:
    """Incidents recorded in ``[since, until)``, on a service, owned by a team, from a source."""
    qs = Incident.objects.all()
    start, end = _moment(since), _moment(until)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    if service is not None:
        qs = qs.filter(service_id=_pk(service))
    if team is not None:
        qs = qs.filter(team_id=_pk(team))
    if import_source is not None:
        qs = qs.filter(import_source=import_source)
    return qs.order_by()


def interactions_in_scope(
    *,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    service: Any = None,
    team: Any = None,
    import_source: str | None = None,
) -> QuerySet[Interaction]:
    """Contacts that started in ``[since, until)``; ``service`` is the contact's service and
    ``team`` the team that supports it."""
    qs = Interaction.objects.all()
    start, end = _moment(since), _moment(until)
    if start is not None:
        qs = qs.filter(started_at__gte=start)
    if end is not None:
        qs = qs.filter(started_at__lt=end)
    if service is not None:
        qs = qs.filter(service_id=_pk(service))
    if team is not None:
        qs = qs.filter(service__team_id=_pk(team))
    if import_source is not None:
        qs = qs.filter(import_source=import_source)
    return qs.order_by()


def _seconds_to_resolve(vendor: str) -> Func:
    if vendor == "postgresql":
        return _EpochSeconds(F("resolved_at"), F("created_at"))
    return _JulianSeconds(F("resolved_at"), F("created_at"))


def _median_seconds(resolved: QuerySet[Incident], count: int) -> float | None:
    if count == 0:
        return None
    vendor = connections[resolved.db].vendor
    seconds = _seconds_to_resolve(vendor)
    if vendor == "postgresql":
        value = resolved.aggregate(median=_Median(seconds))["median"]
        return float(value) if value is not None else None
    # The middle one (odd count) or two (even count) of the sorted durations.
    low = (count - 1) // 2
    middle = list(
        resolved.annotate(seconds=seconds)
        .order_by("seconds")
        .values_list("seconds", flat=True)[low : count // 2 + 1]
    )
    return sum(middle) / len(middle)


def _hours(seconds: float | None) -> float | None:
    # Rounded to the millisecond: julianday arithmetic carries float noise below that.
    return None if seconds is None else round(seconds, 3) / SECONDS_PER_HOUR


def incident_figures(
    *,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    service: Any = None,
    team: Any = None,
    import_source: str | None = None,
) -> IncidentFigures:
    """The desk's figures for incidents recorded in ``[since, until)`` and contacts started in
    it. ``service`` and ``team`` (records or ids) narrow both; ``import_source`` (when given,
    ``""`` meaning Keel's own records) filters both tables. Figures over nothing are ``None``."""
    incidents = incidents_in_scope(
        since=since, until=until, service=service, team=team, import_source=import_source
    )
    vendor = connections[incidents.db].vendor
    totals = incidents.aggregate(
        incidents=Count("id"),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        reopened=Count("id", filter=Q(reopen_count__gt=0)),
        mean_reassignments=Avg("reassignment_count"),
        mean_seconds=Avg(_seconds_to_resolve(vendor), filter=Q(resolved_at__isnull=False)),
    )
    by_priority = dict(
        incidents.values_list("priority").annotate(n=Count("id")).order_by("priority")
    )
    resolved = incidents.filter(resolved_at__isnull=False)
    median = _median_seconds(resolved, totals["resolved"])
    contacts = interactions_in_scope(
        since=since, until=until, service=service, team=team, import_source=import_source
    ).aggregate(
        interactions=Count("id"),
        first_contact_resolved=Count("id", filter=Q(resolved_first_contact=True)),
    )
    mean_reassignments = totals["mean_reassignments"]
    return IncidentFigures(
        incidents=totals["incidents"],
        by_priority={int(p): int(n) for p, n in by_priority.items()},
        resolved=totals["resolved"],
        median_hours_to_resolve=_hours(median),
        mean_hours_to_resolve=_hours(
            float(totals["mean_seconds"]) if totals["mean_seconds"] is not None else None
        ),
        reopened=totals["reopened"],
        mean_reassignments=float(mean_reassignments) if mean_reassignments is not None else None,
        interactions=contacts["interactions"],
        first_contact_resolved=contacts["first_contact_resolved"],
        first_contact_rate=(
            contacts["first_contact_resolved"] / contacts["interactions"]
            if contacts["interactions"]
            else None
        ),
    )


@dataclass(frozen=True)
class Month:
    month: date
    incidents: int
    resolved: int
    interactions: int


def monthly_volume(
    *,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    service: Any = None,
    team: Any = None,
    import_source: str | None = None,
) -> list[Month]:
    """Incidents recorded, of them resolved, and contacts, per calendar month (current time
    zone), oldest first, from the first month with either to the last (quiet months as 0).

    The months' bounds are computed here, in the current time zone; each row finds its month
    by a binary search written as nested ``CASE`` (a handful of comparisons), grouped in one
    query per table: exact across time zones and daylight saving, and without a per-row date
    function, which SQLite would run in Python. Four queries in all.
    """
    scope = {
        "since": since,
        "until": until,
        "service": service,
        "team": team,
        "import_source": import_source,
    }
    incidents = incidents_in_scope(**scope)
    contacts = interactions_in_scope(**scope)
    spans = [
        incidents.aggregate(first=Min("created_at"), last=Max("created_at")),
        contacts.aggregate(first=Min("started_at"), last=Max("started_at")),
    ]
    moments = [m for span in spans for m in (span["first"], span["last"]) if m is not None]
    if not moments:
        return []
    months = _months_between(min(moments), max(moments))
    bounds = [_start_of_month(m) for m in [*months, _next_month(months[-1])]]
    counted: dict[int, dict[str, int]] = {}
    if spans[0]["first"] is not None:
        for row in (
            incidents.annotate(m=_month_index("created_at", bounds, 0, len(months)))
            .values("m")
            .annotate(n=Count("id"), resolved=Count("id", filter=Q(resolved_at__isnull=False)))
            .order_by()
        ):
            counted[row["m"]] = {"n": row["n"], "resolved": row["resolved"]}
    contacted: dict[int, int] = {}
    if spans[1]["first"] is not None:
        for contact_row in (
            contacts.annotate(m=_month_index("started_at", bounds, 0, len(months)))
            .values("m")
            .annotate(n=Count("id"))
            .order_by()
        ):
            contacted[contact_row["m"]] = contact_row["n"]
    return [
        Month(
            month=month,
            incidents=counted[n]["n"] if n in counted else 0,
            resolved=counted[n]["resolved"] if n in counted else 0,
            interactions=contacted.get(n, 0),
        )
        for n, month in enumerate(months)
    ]


def _month_index(field_name: str, bounds: list[datetime], low: int, high: int) -> Any:
    """The ``i`` with ``bounds[i] <= field < bounds[i + 1]``, for ``low <= i < high``."""
    if high - low == 1:
        return Value(low, output_field=IntegerField())
    middle = (low + high) // 2
    return Case(
        When(
            **{f"{field_name}__lt": bounds[middle]},
            then=_month_index(field_name, bounds, low, middle),
        ),
        default=_month_index(field_name, bounds, middle, high),
        output_field=IntegerField(),
    )


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _start_of_month(month: date) -> datetime:
    moment = _moment(month)
    assert moment is not None  # noqa: S101  (a date always gives a moment)
    return moment


def _months_between(first: datetime, last: datetime) -> list[date]:
    """The first days of the months from ``first`` to ``last``, in the current time zone."""
    month = timezone.localtime(first).date().replace(day=1)
    end = timezone.localtime(last).date().replace(day=1)
    months = []
    while month <= end:
        months.append(month)
        month = _next_month(month)
    return months


def start_of(day: date) -> datetime:
    """The first moment of ``day`` in the current time zone."""
    moment = _moment(day)
    assert moment is not None  # noqa: S101  (a date always gives a moment)
    return moment


def until_end_of(day: date) -> datetime:
    """The exclusive end of a date range that includes ``day`` (the next midnight)."""
    moment = _moment(day + timedelta(days=1))
    assert moment is not None  # noqa: S101  (a date always gives a moment)
    return moment


def import_sources() -> list[str]:
    """The sources incidents were imported from, for the report's filter."""
    return list(
        Incident.objects.exclude(import_source="")
        .order_by("import_source")
        .values_list("import_source", flat=True)
        .distinct()
    )


def may_read(user: Any) -> bool:
    """Who reads the reports: staff who read incidents (agents, team leads, service owners,
    change managers, auditors, administrators), as for the satisfaction figures. They are
    totals, never records, and an agent is measured on them; requesters never see them."""
    return is_staff_member(user) and user.has_perm("incidents.view_incident")


@dataclass
class ReportFilter:
    """The report's scope from query parameters (the page and ``GET /reports/incidents``):
    ``since`` and ``until`` are days, both included; bad values go to ``errors``."""

    since: date | None = None
    until: date | None = None
    service: int | None = None
    team: int | None = None
    import_source: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any) -> ReportFilter:
        found = cls()
        for name in ("since", "until"):
            raw = (params.get(name) or "").strip()
            if not raw:
                continue
            try:
                day = parse_date(raw)
            except ValueError:
                day = None
            if day is None:
                found.errors.append((name, _("Give a date as YYYY-MM-DD.")))
            else:
                setattr(found, name, day)
        if found.since and found.until and found.until < found.since:
            found.errors.append(("until", _("The end of the range is before its start.")))
            found.until = None
        for name in ("service", "team"):
            raw = (params.get(name) or "").strip()
            if raw:
                if raw.isdigit():
                    setattr(found, name, int(raw))
                else:
                    found.errors.append((name, _("Expected a number.")))
        source = params.get("import_source")
        if source is not None and source.strip():
            # "keel": only what was recorded in Keel itself; else the name of an import source.
            source = source.strip()[:40]
            found.import_source = "" if source == "keel" else source
        return found

    def raise_errors(self) -> None:
        if self.errors:
            raise FieldError(errors=self.errors)

    def scope(self) -> dict[str, Any]:
        """Keyword arguments for :func:`incident_figures` and :func:`monthly_volume`."""
        return {
            "since": self.since,
            "until": until_end_of(self.until) if self.until else None,
            "service": self.service,
            "team": self.team,
            "import_source": self.import_source,
        }

"""SLA clocks for incidents: deadlines on the service's business calendar, pauses, and state.

Deadlines are computed once and stored (``respond_by``, ``resolve_by``, ``warn_at``); they are
recomputed when the priority changes, and the resolution deadline moves out by the business time
an incident spends on hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keel.catalog import queries as catalog
from keel.core import calendars
from keel.core.calendar import CalendarSpec, add_business_minutes, business_minutes_between
from keel.incidents.lifecycle import Status

WARN_FRACTION = 0.75


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime
    resolve_by: datetime
    warn_at: datetime


def spec_for_service(service) -> CalendarSpec:
    return calendars.spec_for(service.calendar_id)


def deadlines(service, priority: int, start: datetime) -> Deadlines:
    """Respond-by, resolve-by and warn-at for an incident on ``service`` recorded at ``start``."""
    respond, resolve = catalog.targets_for(service.pk, priority)
    spec = spec_for_service(service)
    return Deadlines(
        respond_by=add_business_minutes(spec, start, respond),
        resolve_by=add_business_minutes(spec, start, resolve),
        warn_at=add_business_minutes(spec, start, resolve * WARN_FRACTION),
    )


def business_day_minutes(spec: CalendarSpec) -> float:
    """The working minutes of an ordinary working day on this calendar (the average weekday)."""
    days = [sum(_span(start, end) for start, end in periods) for periods in spec.week if periods]
    return sum(days) / len(days) if days else 24 * 60


def _span(start, end) -> float:
    end_minutes = 24 * 60 if (end.hour, end.minute) == (0, 0) else end.hour * 60 + end.minute
    return end_minutes - (start.hour * 60 + start.minute)


def remaining_minutes(service, at: datetime, deadline: datetime) -> float:
    """Business minutes from ``at`` to ``deadline`` (negative once it has passed)."""
    return business_minutes_between(spec_for_service(service), at, deadline)


def resume_deadline(service, at: datetime, remaining: float) -> datetime:
    """The resolution deadline after a pause: the minutes that were left, counted from ``at``."""
    return add_business_minutes(spec_for_service(service), at, remaining)


class State:
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"
    NOT_APPLICABLE = "na"  # withdrawn before the target was missed: nothing was owed


@dataclass(frozen=True)
class Clock:
    """What the SLA clock shows for an incident now: a state and the time left (or over)."""

    state: str
    deadline: datetime | None
    seconds_left: float | None

    @property
    def css(self) -> str:
        return f"sla-{self.state}"


def resolution_clock(incident, now: datetime) -> Clock:
    """The resolution clock, from stored fields only (no queries), for lists and pages."""
    if incident.resolve_by is None:
        return Clock(State.OK, None, None)
    if incident.status == Status.CANCELLED and not incident.resolution_breached:
        return Clock(State.NOT_APPLICABLE, incident.resolve_by, None)
    if not incident.is_open:
        done = incident.resolved_at or incident.closed_at or incident.cancelled_at
        met = done is not None and done <= incident.resolve_by and not incident.resolution_breached
        return Clock(State.MET if met else State.MISSED, incident.resolve_by, None)
    if incident.paused_at is not None:
        return Clock(State.PAUSED, incident.resolve_by, None)
    left = (incident.resolve_by - now).total_seconds()
    if left < 0 or incident.resolution_breached:
        return Clock(State.BREACHED, incident.resolve_by, left)
    if incident.warned or (incident.warn_at is not None and now >= incident.warn_at):
        return Clock(State.WARNING, incident.resolve_by, left)
    return Clock(State.OK, incident.resolve_by, left)

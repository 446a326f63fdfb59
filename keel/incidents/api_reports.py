"""API for incident reports: the desk's figures over a period, a service and a team.

Read by staff who read incidents (see :func:`keel.incidents.reports.may_read`); requesters get 403.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from keel.incidents import reports

router = Router(tags=["reports"])


class ReportParams(Schema):
    since: str | None = Field(
        None, description="Recorded (contacts: started) on or after this date."
    )
    until: str | None = Field(None, description="… and on or before this date (YYYY-MM-DD).")
    service: str | None = Field(None, description="A service id.")
    team: str | None = Field(None, description="A team id.")
    import_source: str | None = Field(
        None,
        description='Only records imported from this source; "keel" for those recorded in Keel.',
    )


class MonthOut(Schema):
    month: date
    incidents: int
    resolved: int
    interactions: int


class IncidentFiguresOut(Schema):
    incidents: int
    by_priority: dict[int, int] = Field(description="Incidents per priority level present.")
    resolved: int
    median_hours_to_resolve: float | None
    mean_hours_to_resolve: float | None
    reopened: int = Field(description="Incidents reopened at least once.")
    mean_reassignments: float | None
    interactions: int = Field(description="Contacts with the desk that started in the period.")
    first_contact_resolved: int
    first_contact_rate: float | None = Field(description="Resolved at first contact / contacts.")
    months: list[MonthOut] = Field(description="Incidents and contacts per month, oldest first.")


@router.get("/reports/incidents", response=IncidentFiguresOut)
def incident_report(request: HttpRequest, params: Query[ReportParams]):
    """The desk's figures: incidents by priority, time to resolve (median and mean), reopened,
    reassignments, contacts and first-contact resolution; ``since``/``until`` are days, both
    included, in your time zone."""
    if not reports.may_read(request.user):
        raise PermissionDenied("incidents.view_incident")
    flt = reports.ReportFilter.parse(request.GET)
    flt.raise_errors()
    figures = reports.incident_figures(**flt.scope())
    return {**figures.__dict__, "months": reports.monthly_volume(**flt.scope())}

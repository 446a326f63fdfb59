"""The incident report page: the desk's figures over a period, a service and a team, with the
priority distribution and the monthly volume as charts (and as tables, for every reader)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.catalog.priority import PRIORITY_LABELS
from keel.core.models import Team
from keel.incidents import reports
from keel.incidents.models import MAX_LEVEL


def _seconds(hours: float | None) -> int | None:
    return None if hours is None else round(hours * reports.SECONDS_PER_HOUR)


@login_required
def incident_report(request: HttpRequest) -> HttpResponse:
    """Figures for staff who read incidents (agents included; requesters never). The priority
    chart and table show every level, the absent ones as 0, so charts compare at a glance."""
    if not reports.may_read(request.user):
        raise PermissionDenied
    flt = reports.ReportFilter.parse(request.GET)
    # A bad filter is named above the figures, which then cover what is left of the scope.
    figures = reports.incident_figures(**flt.scope())
    months = reports.monthly_volume(**flt.scope())
    priorities = [
        {
            "level": level,
            "label": PRIORITY_LABELS.get(level, ""),
            "count": count,
            "share": count / figures.incidents if figures.incidents else 0,
        }
        for level, count in (
            (level, figures.by_priority.get(level, 0)) for level in range(1, MAX_LEVEL + 1)
        )
    ]
    chart: dict[str, Any] = {
        "priorities": {
            "labels": [f"P{p['level']}" for p in priorities],
            "values": [p["count"] for p in priorities],
        },
        "months": {
            "labels": [date_format(m.month, "Y-m") for m in months],
            "incidents": [m.incidents for m in months],
            "resolved": [m.resolved for m in months],
            "interactions": [m.interactions for m in months],
        },
        "names": {
            "incidents": _("Incidents recorded"),
            "resolved": _("Of them resolved"),
            "interactions": _("Contacts"),
        },
    }
    return render(
        request,
        "incidents/reports.html",
        {
            "filter": flt,
            "figures": figures,
            # The times to resolve for people ("1 h 5 min", "2 d 3 h"); the API keeps hours.
            "median_seconds": _seconds(figures.median_hours_to_resolve),
            "mean_seconds": _seconds(figures.mean_hours_to_resolve),
            "fcr_percent": (
                figures.first_contact_rate * 100 if figures.first_contact_rate is not None else None
            ),
            "priorities": priorities,
            "months": months,
            "chart": chart,
            "services": catalog.services(portal_only=False),
            "teams": Team.objects.filter(is_active=True).only("id", "name").order_by("name"),
            "filter_errors": [str(message) for _field, message in flt.errors],
            "sources": reports.import_sources(),
        },
    )

"""Customer satisfaction from the requesters' ratings, per service and per team (S5, S6)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from keel.incidents import queries
from keel.incidents.views._common import require_agent

PERIODS = (30, 90, 365)


@login_required
def satisfaction(request: HttpRequest) -> HttpResponse:
    """Average rating and number of ratings per service and per team over a period."""
    require_agent(request)
    raw = request.GET.get("days", "90")
    days = int(raw) if raw.isdigit() and int(raw) in PERIODS else 90
    since = timezone.now() - timedelta(days=days)
    return render(
        request,
        "incidents/satisfaction.html",
        {
            "days": days,
            "periods": PERIODS,
            "by_service": queries.satisfaction(by="service", since=since),
            "by_team": queries.satisfaction(by="team", since=since),
        },
    )

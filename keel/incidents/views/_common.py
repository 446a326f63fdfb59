"""What every incident page shares: who counts as an agent, the scoped fetch."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse

from keel.core.errors import NotFound
from keel.core.permissions import is_staff_member
from keel.incidents import queries
from keel.incidents.models import Incident

# The session key that makes the next view of a new incident say "recorded; we will respond by".
RECORDED = "keel.incidents.recorded"


def is_agent(user: Any) -> bool:
    """Whether the person works from the console (staff who may read incidents)."""
    return is_staff_member(user) and user.has_perm("incidents.view_incident")


def require_agent(request: HttpRequest) -> None:
    if not is_agent(request.user):
        raise PermissionDenied


def incident_or_404(request: HttpRequest, number: str) -> Incident:
    try:
        return queries.incident_for(request.user, number)
    except NotFound:
        raise Http404 from None


def incident_url(number: str) -> str:
    return reverse("incidents:detail", args=[number])

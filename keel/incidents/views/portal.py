"""The portal's "My incidents": a person's own incidents and their department's."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from keel.core.permissions import managed_department_ids_of, visible
from keel.incidents.models import Incident

MINE_FILTERS = {
    "open": gettext_lazy("Open"),
    "closed": gettext_lazy("Resolved and closed"),
    "all": gettext_lazy("All"),
}


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """A person's own incidents, and their department's when they manage one."""
    user = request.user
    if not user.has_perm("incidents.view_incident"):
        raise PermissionDenied
    show = request.GET.get("show", "open")
    if show not in MINE_FILTERS:
        show = "open"
    departments = managed_department_ids_of(user)
    qs = visible(Incident.objects.all(), user).filter(
        Q(requester_id=user.pk) | Q(department_id__in=departments)
    )
    counts = qs.aggregate(open=Count("id", filter=Q(is_open=True)), all=Count("id"))
    counts["closed"] = counts["all"] - counts["open"]
    if show == "open":
        qs = qs.filter(is_open=True)
    elif show == "closed":
        qs = qs.filter(is_open=False)
    rows = Paginator(
        qs.select_related("service", "requester", "assignee", "team").order_by(
            "-created_at", "-id"
        ),
        25,
    ).get_page(request.GET.get("page"))
    tabs = [
        {"key": key, "label": label, "count": counts[key], "url": f"?show={key}"}
        for key, label in MINE_FILTERS.items()
    ]
    return render(
        request,
        "incidents/mine.html",
        {
            "rows": rows,
            "tabs": tabs,
            "show": show,
            "manages_department": bool(departments),
            "now": timezone.now(),
        },
    )

"""The agent console: queues with counts, one filter definition, the htmx table, bulk assign."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keel.catalog import queries as catalog
from keel.catalog.models import Service
from keel.catalog.priority import PRIORITY_LABELS
from keel.core.errors import DomainError, FieldError, NotFound
from keel.core.models import Team, User
from keel.core.permissions import sees_all, team_ids_of
from keel.incidents import actions, forms, queries
from keel.incidents.lifecycle import Status
from keel.incidents.views._common import require_agent
from keel.incidents.views._queue_rows import queue_rows
from keel.web.htmx import is_htmx, varies_with_htmx
from keel.web.views import safe_next

FILTER_OPTIONS = ("statuses", "priorities", "services", "teams", "categories", "people")


def _lazy_filter_options(user: Any) -> dict[str, Callable[[], Any]]:
    """The filter and bulk-assign choices, read only when the page renders them: their rendered
    lists are kept a minute per process (``{% cache %}`` in the template), so most pages skip
    the four queries and the hundreds of options altogether."""
    loaded: dict[str, Any] = {}

    def option(key: str) -> Callable[[], Any]:
        def read() -> Any:
            if not loaded:
                loaded.update(_filter_options(user))
            return loaded[key]

        return read

    return {key: option(key) for key in FILTER_OPTIONS}


def _scope_key(user: Any) -> str:
    """Whose people the choices list: everyone's, or those of the reader's teams."""
    return "all" if sees_all(user) else ",".join(str(pk) for pk in sorted(team_ids_of(user)))


def _filter_options(user: Any) -> dict[str, Any]:
    teams = list(Team.objects.filter(is_active=True).only("id", "name").order_by("name"))
    if sees_all(user):
        members = User.objects.filter(memberships__team__is_active=True)
    else:
        members = User.objects.filter(memberships__team_id__in=team_ids_of(user))
    members = members.filter(is_active=True).distinct().order_by("name", "username")
    return {
        "statuses": [
            ("open", _("Open")),
            ("closed_or_cancelled", _("Closed or cancelled")),
            *Status.choices,
        ],
        "priorities": [(f"P{p}", f"P{p} · {label}") for p, label in PRIORITY_LABELS.items()],
        "services": list(
            Service.objects.filter(is_active=True).only("id", "name").order_by("name")
        ),
        "teams": teams,
        "categories": catalog.category_choices(),
        "people": list(members.only("id", "name", "username", "first_name", "last_name")),
    }


@login_required
@varies_with_htmx
def queue(request: HttpRequest) -> HttpResponse:
    """The console: queues with counts, filters, and the table (alone for htmx requests)."""
    require_agent(request)
    user = request.user
    now = timezone.now()
    flt = queries.IncidentFilter.parse(request.GET)
    incidents = queries.incidents_for(user, flt, now=now)
    cursor = request.GET.get("cursor", "")
    try:
        page, next_cursor = queries.page(queries.row_keys(incidents), cursor, queries.PAGE_SIZE)
    except FieldError as exc:
        flt.errors.extend(exc.errors)
        cursor = ""
        page, next_cursor = queries.page(queries.row_keys(incidents), size=queries.PAGE_SIZE)
    can_assign = user.has_perm("incidents.assign_incident")
    # The rows' SLA clocks show minutes: a row kept from earlier in this minute is current.
    rows = queue_rows(page, incidents, minute=now.strftime("%Y%m%d%H%M"), can_assign=can_assign)
    params = flt.as_params()
    base = reverse("incidents:queue")
    context: dict[str, Any] = {
        "now": now,
        "filter": flt,
        "selected": params,
        "rows": rows,
        "filter_errors": [str(message) for _field, message in flt.errors],
        "next_url": f"{base}?{urlencode({**params, 'cursor': next_cursor})}" if next_cursor else "",
        "first_url": f"{base}?{urlencode(params)}" if cursor else "",
        "here": request.get_full_path(),
        "can_assign": can_assign,
    }
    if is_htmx(request):
        return render(request, "incidents/_table.html", context)
    counts = queries.recent_queue_counts(user, now=now)
    others = {k: v for k, v in params.items() if k != "queue"}
    context["tabs"] = [
        {
            "key": key,
            "label": label,
            "count": counts.get(key),
            "url": f"{base}?{urlencode({**others, 'queue': key})}",
            "current": key == flt.queue,
        }
        for key, label in queries.QUEUES.items()
    ]
    context["counts_seconds"] = queries.counts_seconds()
    context.update(_lazy_filter_options(user))
    context["scope_key"] = _scope_key(user)
    context["filter_key"] = urlencode(sorted(params.items()))
    context["can_record"] = user.has_perm("incidents.add_incident")
    return render(request, "incidents/queue.html", context)


@login_required
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    """Assign every ticked incident at once: all of them, or none if one cannot be assigned."""
    require_agent(request)
    back = safe_next(request, "incidents:queue")
    form = forms.BulkAssignForm(request.POST, viewer=request.user)
    if not form.is_valid():
        for error in form.non_field_errors() or [_("Check the team and person chosen.")]:
            messages.error(request, error)
        return redirect(back)
    values = form.values()
    numbers = form.cleaned_data["number"]
    current = ""
    try:
        with transaction.atomic():
            for current in numbers:
                incident = queries.incident_for(request.user, current)
                actions.assign(actor=request.user, incident=incident, **values)
    except NotFound:
        messages.error(request, _("%(number)s: there is no such incident.") % {"number": current})
    except DomainError as exc:
        detail = "; ".join(str(m) for _f, m in exc.errors) or str(exc.message)
        messages.error(
            request,
            _("Nothing was assigned. %(number)s: %(problem)s")
            % {"number": current, "problem": detail},
        )
    else:
        messages.success(
            request,
            _("%(count)s incidents assigned.") % {"count": len(numbers)}
            if len(numbers) != 1
            else _("%(number)s assigned.") % {"number": numbers[0]},
        )
    return redirect(back)


@login_required
def assignee_options(request: HttpRequest) -> HttpResponse:
    """``<option>``s of a team's members, when the team of an assignment form changes (htmx).

    The bulk form also offers "Me": with no team chosen (each incident keeps its own), or when
    the viewer is a member of the chosen one (only members may be assigned).
    """
    require_agent(request)
    team = request.GET.get("team", "")
    members = (
        User.objects.filter(memberships__team_id=int(team), is_active=True).order_by(
            "name", "username"
        )
        if team.isdigit()
        else User.objects.none()
    )
    offer_me = request.GET.get("bulk") == "1" and (
        team == "" or (team.isdigit() and int(team) in team_ids_of(request.user))
    )
    return render(
        request,
        "incidents/_assignee_options.html",
        {"members": members, "offer_me": offer_me},
    )

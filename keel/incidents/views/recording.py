"""Recording an incident: the portal's "Report a problem" and an agent recording for someone."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from keel.cmdb import queries as cmdb
from keel.core import queries as people
from keel.core.errors import DomainError
from keel.core.permissions import NotFound
from keel.incidents import actions, forms, queries
from keel.incidents.models import Incident
from keel.incidents.views._common import RECORDED, incident_url, require_agent


def _open(request: HttpRequest, form: forms.ReportForm) -> Incident | None:
    """Record the incident and its attachments together: a bad file leaves nothing behind."""
    values = form.values()
    uploads = form.cleaned_data.get("attachments") or []
    try:
        with transaction.atomic():
            incident = actions.open_incident(actor=request.user, **values)
            for upload in uploads:
                actions.add_attachment(
                    actor=request.user, incident=incident, upload=upload, public=True
                )
    except DomainError as exc:
        form.attach(exc)
        return None
    return incident


def _recording_page(request: HttpRequest, form_class: type, *, agent: bool) -> HttpResponse:
    """The report form (portal) or the record form (console): the same page and the same steps."""
    posted = request.method == "POST"
    form = form_class(
        request.POST if posted else None, request.FILES if posted else None, viewer=request.user
    )
    if posted and form.is_valid():
        incident = _open(request, form)
        if incident is not None:
            request.session[RECORDED] = incident.number
            return redirect(incident_url(incident.number))
    return render(
        request,
        "incidents/report.html",
        {"form": form, "agent": agent},
        status=422 if posted else 200,
    )


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """The portal's "Report a problem": a requester records an incident of their own."""
    if not request.user.has_perm("incidents.add_incident"):
        raise PermissionDenied
    return _recording_page(request, forms.ReportForm, agent=False)


@login_required
def record(request: HttpRequest) -> HttpResponse:
    """An agent records an incident for someone who phoned, walked in, wrote or chatted."""
    require_agent(request)
    if not request.user.has_perm("incidents.add_incident"):
        raise PermissionDenied
    return _recording_page(request, forms.RecordForm, agent=True)


@login_required
def people_options(request: HttpRequest) -> HttpResponse:
    """``<option>``s of people matching ``q``, for the requester field's suggestions (htmx)."""
    require_agent(request)
    q = request.GET.get("requester", request.GET.get("q", "")).strip()[:100]
    found = people.users_for(request.user, q=q)[:15] if len(q) >= 2 else []
    return render(request, "incidents/_people_options.html", {"people": found})


@login_required
def known_issues(request: HttpRequest) -> HttpResponse:
    """The form's "Is this already known?" panel for the item chosen in ``ci`` (htmx partial):
    open incidents on it and on what it depends on."""
    if not request.user.has_perm("incidents.view_incident"):
        raise PermissionDenied
    ref = request.GET.get("ci", "").strip()[:40]
    item = None
    if ref:
        try:
            item = cmdb.item_for(request.user, ref)
        except NotFound:
            item = None
    issues = queries.known_issues([item.pk], request.user) if item is not None else []
    return render(
        request, "incidents/_known_issues.html", {"item": item, "issues": issues, "ref": ref}
    )

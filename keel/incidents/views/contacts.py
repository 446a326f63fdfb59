"""The desk's contacts page: recent contacts with filters, newest first, and "Log a contact"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from keel.core import queries as people
from keel.core.errors import DomainError, FieldError, NotFound
from keel.incidents import actions, contacts
from keel.incidents.forms.contacts import CHANNEL_CHOICES, ContactForm
from keel.incidents.views._common import incident_url
from keel.web.htmx import is_htmx, varies_with_htmx


def _require_reader(request: HttpRequest) -> None:
    if not contacts.may_read(request.user):
        raise PermissionDenied


def _record(request: HttpRequest, form: ContactForm) -> HttpResponse | None:
    try:
        contact = actions.record_interaction(actor=request.user, **form.values())
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        form.attach(exc)
        return None
    if contact.incident is not None and form.cleaned_data["outcome"] == "incident":
        messages.success(
            request,
            _("Contact %(contact)s recorded; incident %(incident)s opened from it.")
            % {"contact": contact.number, "incident": contact.incident.number},
        )
        return redirect(incident_url(contact.incident.number))
    messages.success(request, _("Contact %(number)s recorded.") % {"number": contact.number})
    return redirect(reverse("incidents:contacts"))


@login_required
@varies_with_htmx
def contact_list(request: HttpRequest) -> HttpResponse:
    """Recent contacts (filters: channel, resolved at first contact, dates) and, for agents, the
    form to log one. An htmx request gets the table alone."""
    _require_reader(request)
    may_record = contacts.may_record(request.user)
    form = None
    status = 200
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied
        form = ContactForm(request.POST, viewer=request.user)
        if form.is_valid():
            done = _record(request, form)
            if done is not None:
                return done
        status = 422
    elif may_record:
        form = ContactForm(viewer=request.user)

    flt = contacts.ContactFilter.parse(request.GET)
    cursor = request.GET.get("cursor", "")
    rows: list[Any] = []
    next_cursor = None
    if not flt.errors:
        qs = contacts.contacts_for(request.user, flt)
        try:
            rows, next_cursor = contacts.page(qs, cursor)
        except FieldError as exc:
            flt.errors.extend(exc.errors)
            cursor = ""
            rows, next_cursor = contacts.page(qs)
    params = flt.as_params()
    base = reverse("incidents:contacts")
    context = {
        "rows": rows,
        "filter": flt,
        "selected": params,
        "channels": CHANNEL_CHOICES,
        "filter_errors": [str(message) for _field, message in flt.errors],
        "next_url": f"{base}?{urlencode({**params, 'cursor': next_cursor})}" if next_cursor else "",
        "first_url": f"{base}?{urlencode(params)}" if cursor else "",
        "form": form,
    }
    if is_htmx(request) and request.method == "GET":
        return render(request, "incidents/_contacts_table.html", context)
    return render(request, "incidents/contacts.html", context, status=status)


@login_required
def contact_people(request: HttpRequest) -> HttpResponse:
    """``<option>``s of people matching what is typed in "Who contacted us" (htmx)."""
    if not contacts.may_record(request.user):
        raise PermissionDenied
    q = request.GET.get("contact", "").strip()[:100]
    found = people.users_for(request.user, q=q)[:15] if len(q) >= 2 else []
    return render(request, "incidents/_people_options.html", {"people": found})

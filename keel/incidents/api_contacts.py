"""API for contacts with the service desk (interactions): the list with its filters and cursor,
one contact, recording one (optionally opening an incident from it), and an incident's contacts.

Reading needs ``incidents.view_interaction`` (desk staff; requesters never); recording needs
``incidents.work_incident``. An incident named by number that the caller cannot see is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from keel.catalog.models import Category, Service
from keel.core.api import _one
from keel.core.models import User
from keel.core.permissions import require
from keel.incidents import actions, contacts, queries
from keel.incidents.models import Interaction
from keel.incidents.schemas import CIRef, PersonRef, Ref, Timestamp

router = Router(tags=["contacts"])


class ContactOut(Schema):
    id: int
    number: str
    channel: str
    channel_label: str
    summary: str
    contact: PersonRef | None
    agent: PersonRef | None
    service: Ref | None
    category: Ref | None
    ci: CIRef | None
    started_at: Timestamp
    ended_at: Timestamp | None
    handle_seconds: int | None = Field(description="Time the agent spent on it, in seconds.")
    resolved_first_contact: bool
    incident: str | None = Field(description="The number of the incident it concerns or led to.")
    import_source: str = Field(description="Where an imported contact came from; empty if not.")
    external_id: str
    created_at: Timestamp

    @staticmethod
    def resolve_channel_label(obj: Interaction) -> str:
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_incident(obj: Interaction) -> str | None:
        return obj.incident.number if obj.incident_id and obj.incident else None


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class ContactListParams(Schema):
    """The contact list's filters (documented here; read by ``ContactFilter``)."""

    channel: str | None = Field(None, description="phone, email, chat or walk_in.")
    resolved: str | None = Field(None, description="true: resolved at first contact; false: not.")
    since: str | None = Field(None, description="Started on or after this date (YYYY-MM-DD).")
    until: str | None = Field(None, description="Started on or before this date (YYYY-MM-DD).")
    agent: str | None = Field(None, description="Recorded by this person's id, or `me`.")
    cursor: str = ""
    limit: int = 50


class NewIncidentIn(Schema):
    """The incident to open from the contact: for the contact person, on the contact's service."""

    title: str = Field("", description="Defaults to the first line of the summary.")
    description: str = ""
    impact: int
    urgency: int


class ContactIn(Schema):
    channel: str = Field(description="phone, email, chat or walk_in.")
    summary: str = Field("", description="May be empty only when resolved at first contact.")
    contact: int | None = Field(None, description="The id of the person who contacted the desk.")
    started_at: datetime | None = Field(None, description="Defaults to now.")
    ended_at: datetime | None = None
    handle_seconds: int | None = Field(None, description="Defaults to the time from start to end.")
    service: int | None = None
    category: int | None = None
    ci: int | None = Field(None, description="The id of the configuration item it was about.")
    resolved_first_contact: bool = False
    incident: str | None = Field(None, description="Link it to this incident (its number).")
    new_incident: NewIncidentIn | None = Field(None, description="Open an incident from it.")


def _require_reader(request: HttpRequest) -> None:
    if not contacts.may_read(request.user):
        raise PermissionDenied(contacts.READ_PERMISSION)


@router.get("/contacts", response=ContactPage)
def list_contacts(request: HttpRequest, params: Query[ContactListParams]):
    """Contacts with the desk, newest first. Page with ``cursor``: pass the ``next_cursor`` of
    the previous page."""
    flt = contacts.ContactFilter.parse(request.GET)
    flt.raise_errors()
    items, next_cursor = contacts.page(
        contacts.contacts_for(request.user, flt), params.cursor, params.limit
    )
    return {"items": items, "next_cursor": next_cursor}


@router.post("/contacts", response={201: ContactOut})
def create_contact(request: HttpRequest, payload: ContactIn):
    """Record a contact: linked to an incident (``incident``), opening one (``new_incident``),
    resolved at first contact, or on its own."""
    require(request.user, "incidents.work_incident")
    incident = queries.incident_for(request.user, payload.incident) if payload.incident else None
    values: dict[str, Any] = payload.dict(include={"channel", "summary", "handle_seconds"})
    contact = actions.record_interaction(
        actor=request.user,
        **values,
        contact=_one(User, payload.contact, "contact"),
        started_at=payload.started_at,
        ended_at=payload.ended_at,
        service=_one(Service.objects.select_related("team"), payload.service, "service"),
        category=_one(Category, payload.category, "category"),
        ci=payload.ci,
        resolved_first_contact=payload.resolved_first_contact,
        incident=incident,
        new_incident=payload.new_incident.dict() if payload.new_incident else None,
    )
    return Status(201, contacts.contact_for(request.user, contact.number))


@router.get("/contacts/{number}", response=ContactOut)
def get_contact(request: HttpRequest, number: str):
    return contacts.contact_for(request.user, number)


class LinkIn(Schema):
    incident: str = Field(description="The number of the incident the contact was about.")


@router.post("/contacts/{number}/incident", response=ContactOut)
def link_contact(request: HttpRequest, number: str, payload: LinkIn):
    """Say which incident a contact was about (it moves if it was linked to another)."""
    require(request.user, "incidents.work_incident")
    contact = contacts.contact_for(request.user, number)
    incident = queries.incident_for(request.user, payload.incident)
    actions.link_interaction(actor=request.user, interaction=contact, incident=incident)
    return contacts.contact_for(request.user, number)


@router.get("/incidents/{number}/contacts", response=list[ContactOut])
def incident_contacts(request: HttpRequest, number: str):
    """The contacts about one incident, oldest first."""
    incident = queries.incident_for(request.user, number)
    _require_reader(request)
    return contacts.for_incident(incident).select_related("service", "category", "ci", "incident")

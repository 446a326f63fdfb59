"""What an import can fill in: the Keel records (targets) and the fields a mapping may set.

Each target names its fields, their type (what a cell is converted to before Keel's own checks),
which are required, and which refer to records the import may create when they are missing
(``create_missing``: teams, services, categories, CI types). New processes (changes, requests)
plug in by adding a target here and a writer in ``actions/``; mapping files don't change shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Kind:
    type: str = "text"
    required: bool = False
    creatable: bool = False
    help: str | Promise = ""


@dataclass(frozen=True)
class Target:
    name: str
    label: str | Promise
    fields: dict[str, Kind] = field(default_factory=dict)


_TEXT = Kind()
_WHEN = Kind("datetime")
_COUNT = Kind("int")

CI = Target(
    "cmdb.item",
    _("configuration items"),
    {
        "external_id": Kind(required=True, help=_("the item's id in the source; the import key")),
        "name": Kind(required=True),
        "type": Kind(required=True, creatable=True, help=_("a CI type's code or name")),
        "status": Kind(help=_("planned, in_service, maintenance or retired")),
        "description": _TEXT,
        "team": Kind(creatable=True, help=_("the support team's name or code")),
        "location": _TEXT,
        "supplier": _TEXT,
        "cost": Kind("decimal"),
        "currency": _TEXT,
        "warranty_expires": Kind("date"),
        "licence_expires": Kind("date"),
    },
)

INCIDENT = Target(
    "incident",
    _("incidents"),
    {
        "external_id": Kind(
            required=True, help=_("the incident's id in the source; the import key")
        ),
        "title": Kind(required=True),
        "description": _TEXT,
        "status": Kind(required=True, help=_("new, assigned, in_progress, on_hold, resolved…")),
        "impact": Kind("int", required=True),
        "urgency": Kind("int", required=True),
        "priority": Kind("int", help=_("1 = highest; from the priority matrix when not given")),
        "service": Kind(required=True, creatable=True, help=_("a service's code or name")),
        "category": Kind(creatable=True, help=_("a category's code or name")),
        "team": Kind(creatable=True, help=_("the team's name or code; else the service's team")),
        "requester": Kind(help=_("a user name or e-mail address")),
        "assignee": Kind(help=_("a user name or e-mail address")),
        "channel": Kind(help=_("portal, email, phone, walk_in, chat, api, monitoring, import")),
        "created_at": Kind("datetime", required=True),
        "assigned_at": _WHEN,
        "resolved_at": _WHEN,
        "closed_at": _WHEN,
        "cancelled_at": _WHEN,
        "reopened_at": Kind("datetime", help=_("when set, the incident counts as reopened once")),
        "reopen_count": _COUNT,
        "reassignment_count": _COUNT,
        "resolution_code": _TEXT,
        "resolution_notes": _TEXT,
        "rating": _COUNT,
        "affected_cis": Kind(help=_("configuration items' source ids (use split for several)")),
    },
)

CONTACT = Target(
    "contact",
    _("contacts with the service desk"),
    {
        "external_id": Kind(
            required=True, help=_("the contact's id in the source; the import key")
        ),
        "started_at": Kind("datetime", required=True),
        "ended_at": _WHEN,
        "channel": Kind(required=True),
        "summary": _TEXT,
        "contact": Kind(help=_("a user name or e-mail address")),
        "agent": Kind(help=_("a user name or e-mail address")),
        "service": Kind(creatable=True),
        "category": Kind(creatable=True),
        "ci": Kind(help=_("a configuration item's source id")),
        "handle_seconds": Kind("int"),
        "resolved_first_contact": Kind("bool"),
        "incident": Kind(help=_("the source id of the incident it led to (same source)")),
    },
)

EVENT = Target(
    "incident.event",
    _("incident timeline events"),
    {
        "incident": Kind(required=True, help=_("the incident's source id (same source)")),
        "at": Kind("datetime", required=True),
        "activity": Kind(required=True, help=_("the source's name for what happened")),
        "kind": Kind(
            help=_("a Keel timeline kind: status, assignment, comment, worklog… else activity")
        ),
        "body": _TEXT,
        "team": Kind(creatable=True, help=_("the group that did it; with create_missing, a team")),
        "public": Kind("bool"),
        "minutes": _COUNT,
    },
)

TARGETS: dict[str, Target] = {t.name: t for t in (CI, INCIDENT, CONTACT, EVENT)}

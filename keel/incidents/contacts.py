"""Read paths for contacts with the desk (interactions): who may read them, the list's filters
(one definition for the page and ``GET /contacts``), and keyset pages newest first.

Contacts are the desk's log, not a team's records: every staff member who may read contacts sees
all of them (a linked incident outside their scope still answers 404 when they open it).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from keel.core.errors import FieldError, NotFound
from keel.core.permissions import is_staff_member
from keel.incidents import reports
from keel.incidents.actions import CONTACT_CHANNELS
from keel.incidents.models import Incident, Interaction

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
READ_PERMISSION = "incidents.view_interaction"
RELATED = ("contact", "agent", "service", "incident")


def may_read(user: Any) -> bool:
    """Staff who may read the desk's contacts (agents, leads, service owners, auditors)."""
    return is_staff_member(user) and user.has_perm(READ_PERMISSION)


def may_record(user: Any) -> bool:
    return is_staff_member(user) and user.has_perm("incidents.work_incident")


@dataclass
class ContactFilter:
    """The contact list's filters, read from query parameters; bad values go to ``errors``."""

    channel: str = ""
    resolved: bool | None = None  # resolved at first contact
    since: date | None = None
    until: date | None = None  # inclusive
    agent: str = ""  # "me" or a user id
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any) -> ContactFilter:
        found = cls()
        channel = (params.get("channel") or "").strip()
        if channel and channel not in CONTACT_CHANNELS:
            found.errors.append(("channel", _("Unknown channel.")))
        else:
            found.channel = channel
        resolved = (params.get("resolved") or "").strip().lower()
        if resolved in {"1", "true", "yes"}:
            found.resolved = True
        elif resolved in {"0", "false", "no"}:
            found.resolved = False
        elif resolved:
            found.errors.append(("resolved", _("Use true or false.")))
        for name in ("since", "until"):
            raw = (params.get(name) or "").strip()
            if raw:
                day = _parse_day(raw)
                if day is None:
                    found.errors.append((name, _("Give a date as YYYY-MM-DD.")))
                else:
                    setattr(found, name, day)
        if found.since and found.until and found.until < found.since:
            found.errors.append(("until", _("The end of the range is before its start.")))
            found.until = None
        agent = (params.get("agent") or "").strip()
        if agent and not (agent == "me" or agent.isdigit()):
            found.errors.append(("agent", _("Use a person's id or “me”.")))
        else:
            found.agent = agent
        return found

    def raise_errors(self) -> None:
        if self.errors:
            raise FieldError(errors=self.errors)

    def as_params(self) -> dict[str, str]:
        values = {
            "channel": self.channel,
            "resolved": "" if self.resolved is None else ("yes" if self.resolved else "no"),
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "agent": self.agent,
        }
        return {k: v for k, v in values.items() if v}


def _parse_day(raw: str) -> date | None:
    try:
        return parse_date(raw)
    except ValueError:
        return None


def contacts_for(viewer: Any, flt: ContactFilter) -> QuerySet[Interaction]:
    """Contacts newest first, filtered; refused (``PermissionDenied``) to those who may not read."""
    if not may_read(viewer):
        raise PermissionDenied(READ_PERMISSION)
    qs = Interaction.objects.select_related(*RELATED)
    if flt.channel:
        qs = qs.filter(channel=flt.channel)
    if flt.resolved is not None:
        qs = qs.filter(resolved_first_contact=flt.resolved)
    if flt.since:
        qs = qs.filter(started_at__gte=reports.start_of(flt.since))
    if flt.until:
        qs = qs.filter(started_at__lt=reports.until_end_of(flt.until))
    if flt.agent == "me":
        qs = qs.filter(agent_id=viewer.pk)
    elif flt.agent:
        qs = qs.filter(agent_id=int(flt.agent))
    return qs.order_by("-started_at", "-id")


def for_incident(incident: Incident) -> QuerySet[Interaction]:
    """An incident's contacts, oldest first (the caller checks who may read them)."""
    return incident.interactions.select_related("contact", "agent").order_by("started_at", "id")


def contact_for(viewer: Any, number: str) -> Interaction:
    """One contact by number; ``NotFound`` if there is none or the viewer may not read contacts."""
    if not may_read(viewer):
        raise NotFound
    found = (
        Interaction.objects.select_related(*RELATED, "category", "ci")
        .filter(number=(number or "").strip().upper())
        .first()
    )
    if found is None:
        raise NotFound
    return found


# --- keyset pagination over (started_at DESC, id DESC) -----------------------------------------


def encode_cursor(row: Interaction) -> str:
    payload = [row.started_at.isoformat(), row.pk]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        started, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = parse_datetime(started)
        if moment is None:
            raise ValueError(started)
        return moment, int(pk)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise FieldError(
            "cursor", _("This cursor is not valid; start from the first page.")
        ) from None


def page(
    qs: QuerySet[Interaction], cursor: str = "", size: int = PAGE_SIZE
) -> tuple[list[Interaction], str | None]:
    """One page after ``cursor`` and the cursor of the next page (``None`` at the end)."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise FieldError("limit", _("Ask for 1 to %(max)s at a time.") % {"max": MAX_PAGE_SIZE})
    if cursor:
        started, pk = decode_cursor(cursor)
        qs = qs.filter(Q(started_at__lt=started) | Q(started_at=started, id__lt=pk))
    rows = list(qs[: size + 1])
    if len(rows) > size:
        return rows[:size], encode_cursor(rows[size - 1])
    return rows, None

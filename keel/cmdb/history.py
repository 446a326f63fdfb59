"""An item's history, read back from the audit trail: its events, and what it looked like on a date.

Every action on an item records the full old and new value of each field it changed (attributes
as a whole object), and every relation added or removed records its two ends and kind. So the
state on a date is today's state with every later change undone, newest first.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from keel.cmdb.models import ConfigurationItem, Relation
from keel.core.models import AuditEvent

ITEM_TYPE = "cmdb.configurationitem"
RELATION_TYPE = "cmdb.relation"
CREATED = "ci.created"
RELATION_ADDED = "relation.added"
RELATION_REMOVED = "relation.removed"

# The fields recorded for every change (``used_by_departments`` as a sorted list of ids).
TRACKED = [
    "name",
    "type",
    "type_version",
    "status",
    "description",
    "owner",
    "team",
    "assigned_to",
    "department",
    "location",
    "supplier",
    "cost",
    "currency",
    "warranty_expires",
    "licence_expires",
    "attributes",
    "external_id",
    "service",
    "used_by_departments",
]
SCALAR = [f for f in TRACKED if f != "used_by_departments"]


_ATTNAMES = [
    (name, getattr(ConfigurationItem._meta.get_field(name), "attname", name)) for name in SCALAR
]


def _recorded(value: Any) -> Any:
    """A field's value as the audit trail stores it (dates and amounts as text)."""
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, date | Decimal):
        return str(value)
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def snapshot(item: ConfigurationItem, departments: list[int] | None = None) -> dict[str, Any]:
    """Every tracked field of ``item`` in its recorded form.

    ``departments`` (the ``used_by_departments`` ids) saves a query when the caller knows them.
    """
    values = {name: _recorded(getattr(item, attname)) for name, attname in _ATTNAMES}
    if departments is None:
        departments = list(item.used_by_departments.values_list("id", flat=True))
    values["used_by_departments"] = sorted(departments)
    return values


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for each tracked field that differs."""
    return {f: [before.get(f), after.get(f)] for f in TRACKED if before.get(f) != after.get(f)}


def _moment(when: date | datetime) -> datetime:
    """A date means the end of that day, in the current time zone."""
    if isinstance(when, datetime):
        return when if timezone.is_aware(when) else timezone.make_aware(when)
    return timezone.make_aware(datetime.combine(when, time.max))


def _touching(item_id: int) -> Q:
    return (
        Q(changes__source__0=item_id)
        | Q(changes__source__1=item_id)
        | Q(changes__target__0=item_id)
        | Q(changes__target__1=item_id)
    )


def _relation_events(item_id: int) -> Any:
    return AuditEvent.objects.filter(object_type=RELATION_TYPE).filter(_touching(item_id))


def events_of(item: ConfigurationItem, *, limit: int = 500) -> list[AuditEvent]:
    """The item's own events and those of relations to or from it, newest first."""
    own = list(
        AuditEvent.objects.filter(object_type=ITEM_TYPE, object_id=str(item.pk)).order_by("-seq")[
            :limit
        ]
    )
    related = list(_relation_events(item.pk).order_by("-seq")[:limit])
    return sorted(own + related, key=lambda e: -e.seq)[:limit]


def _relation_row(relation_id: int, changes: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "id": relation_id,
        "kind": changes.get("kind", [None, None])[index],
        "source": changes.get("source", [None, None])[index],
        "target": changes.get("target", [None, None])[index],
    }


def as_of(item: ConfigurationItem, when: date | datetime) -> dict[str, Any] | None:
    """What ``item`` looked like at ``when`` (a date: at the end of that day), with its relations.

    ``None`` when it did not exist yet. Fields are in their recorded form (references as ids,
    dates as ``YYYY-MM-DD``).
    """
    moment = _moment(when)
    if moment < item.created_at:
        return None
    state = snapshot(item)
    later = AuditEvent.objects.filter(
        object_type=ITEM_TYPE, object_id=str(item.pk), at__gt=moment
    ).order_by("-seq")
    for event in later.iterator():
        if event.action == CREATED:
            return None
        for name, change in (event.changes or {}).items():
            if name in state and isinstance(change, list) and len(change) == 2:
                state[name] = change[0]
    relations = {
        rel["id"]: {
            "id": rel["id"],
            "kind": rel["kind__code"],
            "source": rel["source"],
            "target": rel["target"],
        }
        for rel in Relation.objects.filter(Q(source=item) | Q(target=item)).values(
            "id", "kind__code", "source", "target"
        )
    }
    for event in _relation_events(item.pk).filter(at__gt=moment).order_by("-seq").iterator():
        relation_id = int(event.object_id)
        if event.action == RELATION_ADDED:
            relations.pop(relation_id, None)
        elif event.action == RELATION_REMOVED:
            relations[relation_id] = _relation_row(relation_id, event.changes, 0)
    return {
        "id": item.pk,
        "number": item.number,
        "at": moment.isoformat(),
        **state,
        "relations": sorted(relations.values(), key=lambda r: r["id"]),
    }

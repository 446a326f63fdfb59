"""Configuration items: recorded, changed, retired and (when recorded by mistake) deleted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog.models import Service
from keel.cmdb import attributes as attrs
from keel.cmdb import history, lifecycle, references
from keel.cmdb.access import require_change
from keel.cmdb.actions._base import _stale
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem, Relation
from keel.cmdb.validation import check_type_in_use, clean_fields
from keel.core import audit
from keel.core.errors import Conflict, FieldError, StaleVersion
from keel.core.numbering import next_number
from keel.core.permissions import require

NUMBER_KEY = "CI"


def _check_version(item: ConfigurationItem, version: int | None) -> None:
    if version is not None and version != item.version:
        raise _stale(item.number, version, item.version)


def _check_links(item_id: int | None, values: dict[str, Any]) -> None:
    """External ids and catalogue services name one item each."""
    others = ConfigurationItem.objects.all()
    if item_id is not None:
        others = others.exclude(pk=item_id)
    if values.get("external_id") and others.filter(external_id=values["external_id"]).exists():
        raise Conflict(
            _("Another item has this external id."),
            errors=[("external_id", _("Already in use."))],
        )
    service = values.get("service")
    if service is not None:
        if not isinstance(service, Service):
            raise FieldError("service", _("Choose a service of the catalogue."))
        if others.filter(service=service).exists():
            raise Conflict(
                _("Another item already stands for this service."),
                errors=[("service", _("Already in use."))],
            )


def _clean_attributes(
    ci_type: CIType, values: Any, errors: list[tuple[str, Any]]
) -> dict[str, Any]:
    cleaned, problems = attrs.clean_values(ci_type.attributes, values)
    errors += problems
    return cleaned


@transaction.atomic
def create_ci(
    *, actor: Any, name: str, ci_type: CIType, reason: str = "", **values: Any
) -> ConfigurationItem:
    """Record a new item (number ``CI-000001`` …), its attributes checked against its type.

    Requires ``cmdb.add_configurationitem``. ``used_by_departments`` takes departments.
    """
    require(actor, "cmdb.add_configurationitem")
    fields, errors = clean_fields({"name": name, "type": ci_type, **values}, creating=True)
    attributes = {}
    if isinstance(ci_type, CIType):
        check_type_in_use(ci_type, errors)
        attributes = _clean_attributes(ci_type, values.get("attributes"), errors)
    if errors:
        raise FieldError(errors=errors)
    _check_links(None, fields)
    departments = list(fields.pop("used_by_departments", None) or [])
    fields.pop("attributes", None)
    fields.pop("type", None)
    now = timezone.now()
    item = ConfigurationItem.objects.create(
        number=next_number(NUMBER_KEY),
        type=ci_type,
        type_version=ci_type.version,
        attributes=attributes,
        created_at=now,
        updated_at=now,
        **fields,
    )
    if departments:
        item.used_by_departments.set(departments)
    after = history.snapshot(item, [d.pk for d in departments])
    audit.record(
        actor,
        history.CREATED,
        item,
        changes={k: [None, v] for k, v in after.items()},
        reason=reason,
    )
    return item


def _write(item: ConfigurationItem, fields: Sequence[str], now: datetime) -> None:
    """Write ``fields`` if nobody wrote since ``item`` was read, and move its version on."""
    item.updated_at = now
    values = {f: getattr(item, f) for f in {*fields, "updated_at"}}
    rows = ConfigurationItem.objects.filter(pk=item.pk, version=item.version).update(
        **values, version=F("version") + 1
    )
    if rows != 1:
        raise StaleVersion(
            _("Someone else changed %(number)s at the same moment. Reload it and try again.")
            % {"number": item.number}
        )
    item.version += 1


@transaction.atomic
def update_ci(
    *,
    actor: Any,
    item: ConfigurationItem,
    version: int | None = None,
    reason: str = "",
    **values: Any,
) -> ConfigurationItem:
    """Change an item's fields; a status change follows the lifecycle.

    Attributes, when given, replace the item's attributes and are checked against the current
    definitions of its (possibly new) type; a new type without attributes re-checks the ones it
    has. Requires ``cmdb.change_configurationitem`` on an item of the actor's team.
    """
    require_change(actor, "cmdb.change_configurationitem", item)
    _check_version(item, version)
    cleaned, errors = clean_fields(values, creating=False)
    new_type = cleaned.get("type")
    if not isinstance(new_type, CIType):
        new_type = item.type
    if new_type.pk != item.type_id:
        check_type_in_use(new_type, errors)
    if "attributes" in values or new_type.pk != item.type_id:
        source = values.get("attributes", item.attributes)
        cleaned["attributes"] = _clean_attributes(new_type, source, errors)
        cleaned["type_version"] = new_type.version
    if errors:
        raise FieldError(errors=errors)
    if "status" in cleaned:
        lifecycle.check(item.status, cleaned["status"])
    _check_links(item.pk, cleaned)
    departments = cleaned.pop("used_by_departments", None)
    before = history.snapshot(item)
    for name, value in cleaned.items():
        setattr(item, name, value)
    after = history.snapshot(
        item,
        [d.pk for d in departments] if departments is not None else before["used_by_departments"],
    )
    changes = history.changes_between(before, after)
    if not changes:
        return item
    written = [f for f in cleaned if f in history.SCALAR and f in changes] + (
        ["type_version"] if "type_version" in changes else []
    )
    _write(item, list(dict.fromkeys(written)), timezone.now())
    if departments is not None and "used_by_departments" in changes:
        item.used_by_departments.set(departments)
    audit.record(actor, "ci.updated", item, changes=changes, reason=reason)
    return item


@transaction.atomic
def retire_ci(
    *, actor: Any, item: ConfigurationItem, version: int | None = None, reason: str = ""
) -> ConfigurationItem:
    """Take an item out of use for good. Its relations and history stay, for the record."""
    require_change(actor, "cmdb.change_configurationitem", item)
    _check_version(item, version)
    lifecycle.check(item.status, Status.RETIRED)
    if item.status == Status.RETIRED:
        return item
    before = item.status
    item.status = Status.RETIRED
    _write(item, ["status"], timezone.now())
    audit.record(
        actor, "ci.retired", item, changes={"status": [before, Status.RETIRED]}, reason=reason
    )
    return item


def _references_text(found: list[tuple[object, int]]) -> str:
    return ", ".join(f"{count} {label}" for label, count in found)


@transaction.atomic
def delete_ci(*, actor: Any, item: ConfigurationItem, reason: str = "") -> None:
    """Remove an item recorded by mistake. Refused while it has relations or open records name
    it (incidents, problems, changes …): retire it instead, which keeps the record."""
    require_change(actor, "cmdb.delete_configurationitem", item)
    related = Relation.objects.filter(Q(source=item) | Q(target=item)).count()
    if related:
        raise Conflict(
            _("%(number)s has %(n)s relations; remove them first, or retire it instead.")
            % {"number": item.number, "n": related},
            errors=[("relations", _("Still related to other items."))],
        )
    found = references.open_references([item.pk])
    if found:
        raise Conflict(
            _("%(number)s is named by %(records)s; retire it instead.")
            % {"number": item.number, "records": _references_text(found)},
            errors=[("item", _("Open records name this item."))],
        )
    before = history.snapshot(item)
    audit.record(
        actor, "ci.deleted", item, changes={k: [v, None] for k, v in before.items()}, reason=reason
    )
    item.delete()

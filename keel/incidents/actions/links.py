"""Which configuration items an incident names (the CMDB's "affected CIs")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.cmdb.lifecycle import Status as CIStatus
from keel.cmdb.models import ConfigurationItem
from keel.core import audit
from keel.core.errors import FieldError
from keel.core.permissions import require, visible
from keel.incidents.actions._base import _check_version, _event, _save
from keel.incidents.models import EventKind, Incident

MAX_CIS = 50


def resolve_cis(actor: Any, cis: Iterable[Any] | None) -> list[ConfigurationItem]:
    """The items ``cis`` names (items or ids), checked: each one visible to ``actor`` and not
    retired. Anything else raises ``FieldError`` on ``cis``; an item out of scope reads as
    unknown, so nobody learns which numbers exist."""
    wanted: list[int] = []
    for ci in cis or []:
        pk = getattr(ci, "pk", ci)
        if isinstance(pk, bool) or not isinstance(pk, int):
            raise FieldError("cis", _("Give configuration items by their ids."))
        if pk not in wanted:
            wanted.append(pk)
    if not wanted:
        return []
    if len(wanted) > MAX_CIS:
        raise FieldError("cis", _("Name at most %(n)s configuration items.") % {"n": MAX_CIS})
    found = {
        ci.pk: ci for ci in visible(ConfigurationItem.objects.all(), actor).filter(pk__in=wanted)
    }
    errors: list[tuple[str, Any]] = []
    for pk in wanted:
        ci = found.get(pk)
        if ci is None:
            errors.append(
                ("cis", _("There is no configuration item %(id)s that you can see.") % {"id": pk})
            )
        elif ci.status == CIStatus.RETIRED:
            errors.append(
                (
                    "cis",
                    _("%(number)s is retired; choose an item in use.") % {"number": ci.number},
                )
            )
    if errors:
        raise FieldError(errors=errors)
    return [found[pk] for pk in wanted]


@transaction.atomic
def set_affected_cis(
    *, actor: Any, incident: Incident, cis: Iterable[Any], version: int | None = None
) -> Incident:
    """Say which configuration items the incident affects (replacing the list); staff only.

    Each item must be one the actor can see and not retired. Recorded in the timeline and the
    audit trail; the version moves on.
    """
    require(actor, "incidents.change_incident", incident)
    _check_version(incident, version)
    items = resolve_cis(actor, cis)
    before = {ci.pk: ci.number for ci in incident.affected_cis.all()}
    after = {ci.pk: ci.number for ci in items}
    if before.keys() == after.keys():
        return incident
    now = timezone.now()
    incident.affected_cis.set(items)
    _save(incident, [], now)
    added = sorted(n for pk, n in after.items() if pk not in before)
    removed = sorted(n for pk, n in before.items() if pk not in after)
    _event(
        incident, actor, EventKind.LINK, now, details={"cis_added": added, "cis_removed": removed}
    )
    audit.record(
        actor,
        "incident.cis_changed",
        incident,
        changes={"affected_cis": [sorted(before.values()), sorted(after.values())]},
        at=now,
    )
    return incident

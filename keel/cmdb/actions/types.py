"""CI types: administrators define kinds of item and their typed, versioned attributes.

Every change to a type raises its version and keeps the definitions it replaced; items keep the
version their attributes were last checked against. A type items still use cannot be deleted: it
is taken out of use instead, which keeps its items but records no new ones.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keel.cmdb import attributes as attrs
from keel.cmdb.actions._base import (
    DESCRIPTION_MAX,
    NAME_MAX,
    _clean_code,
    _clean_text,
    _stale,
)
from keel.cmdb.models import CIType, CITypeVersion
from keel.core import audit
from keel.core.errors import Conflict, FieldError
from keel.core.permissions import require

TYPE_FIELDS = ["name", "code", "description", "attributes", "is_service"]


def _clean_type(values: dict[str, Any], errors: list[tuple[str, Any]]) -> dict[str, Any]:
    cleaned = dict(values)
    _clean_text(cleaned, "name", NAME_MAX, errors)
    _clean_code(cleaned, errors)
    _clean_text(cleaned, "description", DESCRIPTION_MAX, errors, required=False)
    if "attributes" in values:
        cleaned["attributes"], problems = attrs.validate_definitions(values["attributes"])
        errors += problems
    if "is_service" in values and not isinstance(values["is_service"], bool):
        errors.append(("is_service", _("Use true or false.")))
    return cleaned


def _type_taken(ci_type: CIType | None, name: str | None, code: str | None) -> None:
    """A Conflict naming the code and the name another type already has."""
    others = CIType.objects.all() if ci_type is None else CIType.objects.exclude(pk=ci_type.pk)
    errors: list[tuple[str, Any]] = []
    if code and others.filter(code=code).exists():
        errors.append(("code", _("Another CI type already has the code “%(c)s”.") % {"c": code}))
    if name and others.filter(name=name).exists():
        errors.append(("name", _("Another CI type is already called “%(n)s”.") % {"n": name}))
    if errors:
        raise Conflict(_("A CI type with this code or name exists."), errors=errors)


def _keep_version(ci_type: CIType, actor: Any) -> None:
    CITypeVersion.objects.create(
        type=ci_type,
        version=ci_type.version,
        attributes=ci_type.attributes,
        changed_at=timezone.now(),
        changed_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def create_ci_type(
    *,
    actor: Any,
    name: str,
    code: str,
    description: str = "",
    attributes: list[dict[str, Any]] | None = None,
    is_service: bool = False,
) -> CIType:
    """A new kind of item with its attribute definitions, at version 1 (administrators)."""
    require(actor, "cmdb.add_citype")
    errors: list[tuple[str, Any]] = []
    values = _clean_type(
        {
            "name": name,
            "code": code,
            "description": description or "",
            "attributes": attributes or [],
            "is_service": is_service,
        },
        errors,
    )
    if errors:
        raise FieldError(errors=errors)
    _type_taken(None, values["name"], values["code"])
    ci_type = CIType.objects.create(**values, version=1)
    _keep_version(ci_type, actor)
    audit.record(
        actor, "citype.created", ci_type, changes={k: [None, v] for k, v in values.items()}
    )
    return ci_type


@transaction.atomic
def update_ci_type(
    *, actor: Any, ci_type: CIType, version: int | None = None, **values: Any
) -> CIType:
    """Change a type; each change raises its version and keeps the definitions it replaced.

    Items keep the version their attributes were checked against until they are next edited.
    """
    require(actor, "cmdb.change_citype")
    errors: list[tuple[str, Any]] = [
        (f, _("Unknown field.")) for f in sorted(set(values) - set(TYPE_FIELDS))
    ]
    cleaned = _clean_type({k: v for k, v in values.items() if k in TYPE_FIELDS}, errors)
    if errors:
        raise FieldError(errors=errors)
    locked = CIType.objects.select_for_update().get(pk=ci_type.pk)
    if version is not None and version != locked.version:
        raise _stale(str(locked), version, locked.version)
    changes = {k: [getattr(locked, k), v] for k, v in cleaned.items() if getattr(locked, k) != v}
    if not changes:
        return locked
    _type_taken(locked, cleaned.get("name"), cleaned.get("code"))
    for name, value in cleaned.items():
        setattr(locked, name, value)
    locked.version += 1
    locked.save()
    _keep_version(locked, actor)
    changes["version"] = [locked.version - 1, locked.version]
    audit.record(actor, "citype.updated", locked, changes=changes)
    return locked


@transaction.atomic
def set_ci_type_active(*, actor: Any, ci_type: CIType, active: bool, reason: str = "") -> CIType:
    """Take a type out of use (its items stay, no new ones are recorded or imported) or back in.

    Its version stays: the definitions do not change.
    """
    require(actor, "cmdb.change_citype")
    if not isinstance(active, bool):
        raise FieldError("is_active", _("Use true or false."))
    locked = CIType.objects.select_for_update().get(pk=ci_type.pk)
    if locked.is_active == active:
        return locked
    locked.is_active = ci_type.is_active = active
    locked.save(update_fields=["is_active", "updated_at"])
    audit.record(
        actor,
        "citype.reactivated" if active else "citype.deactivated",
        locked,
        changes={"is_active": [not active, active]},
        reason=reason,
    )
    return locked


@transaction.atomic
def delete_ci_type(*, actor: Any, ci_type: CIType, reason: str = "") -> None:
    """Remove a type defined by mistake, with its versions. Refused while items are of this type
    (take it out of use instead) or relation kinds name it among their allowed types (deleting
    it would quietly widen them to any type)."""
    require(actor, "cmdb.delete_citype")
    locked = CIType.objects.select_for_update().get(pk=ci_type.pk)
    used = locked.items.count()
    if used:
        raise Conflict(
            ngettext(
                "“%(type)s” cannot be deleted: %(n)s item is of this type. "
                "Take the type out of use instead; its items stay, and no new ones are recorded.",
                "“%(type)s” cannot be deleted: %(n)s items are of this type. "
                "Take the type out of use instead; its items stay, and no new ones are recorded.",
                used,
            )
            % {"type": locked.name, "n": used},
            errors=[("type", _("Still used by items."))],
        )
    kinds = sorted(
        {k.name for k in locked.kinds_from.all()} | {k.name for k in locked.kinds_to.all()}
    )
    if kinds:
        raise Conflict(
            _(
                "“%(type)s” cannot be deleted: the relation kinds %(kinds)s allow it. "
                "Take it out of their allowed types first."
            )
            % {"type": locked.name, "kinds": ", ".join(f"“{k}”" for k in kinds)},
            errors=[("type", _("Named by relation kinds."))],
        )
    audit.record(
        actor,
        "citype.deleted",
        locked,
        changes={
            "name": [locked.name, None],
            "code": [locked.code, None],
            "attributes": [locked.attributes, None],
            "version": [locked.version, None],
        },
        reason=reason,
    )
    locked.delete()

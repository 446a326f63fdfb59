"""CI types: administrators define kinds of item and their typed, versioned attributes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.cmdb import attributes as attrs
from keel.cmdb.actions._base import _stale
from keel.cmdb.models import CIType, CITypeVersion
from keel.core import audit
from keel.core.errors import Conflict, FieldError
from keel.core.permissions import require


def _clean_type(values: dict[str, Any], errors: list[tuple[str, Any]]) -> dict[str, Any]:
    cleaned = dict(values)
    for name in ("name", "code"):
        if name in values:
            text = values[name].strip() if isinstance(values[name], str) else ""
            if not text:
                errors.append((name, _("This field is required.")))
            cleaned[name] = text
    if "attributes" in values:
        cleaned["attributes"], problems = attrs.validate_definitions(values["attributes"])
        errors += problems
    if "is_service" in values and not isinstance(values["is_service"], bool):
        errors.append(("is_service", _("Use true or false.")))
    return cleaned


def _type_taken(ci_type: CIType | None, name: str | None, code: str | None) -> None:
    others = CIType.objects.all() if ci_type is None else CIType.objects.exclude(pk=ci_type.pk)
    if code and others.filter(code=code).exists():
        raise Conflict(
            _("A CI type with this code exists."), errors=[("code", _("Already in use."))]
        )
    if name and others.filter(name=name).exists():
        raise Conflict(
            _("A CI type with this name exists."), errors=[("name", _("Already in use."))]
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
    CITypeVersion.objects.create(
        type=ci_type,
        version=1,
        attributes=ci_type.attributes,
        changed_at=timezone.now(),
        changed_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(
        actor, "citype.created", ci_type, changes={k: [None, v] for k, v in values.items()}
    )
    return ci_type


TYPE_FIELDS = ["name", "code", "description", "attributes", "is_service"]


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
    CITypeVersion.objects.create(
        type=locked,
        version=locked.version,
        attributes=locked.attributes,
        changed_at=timezone.now(),
        changed_by=actor if getattr(actor, "pk", None) else None,
    )
    changes["version"] = [locked.version - 1, locked.version]
    audit.record(actor, "citype.updated", locked, changes=changes)
    return locked

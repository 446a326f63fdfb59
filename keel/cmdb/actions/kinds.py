"""Relation kinds: runs on, depends on, hosts …; which way failure travels, and loops."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keel.cmdb.actions._base import NAME_MAX, _changed, _clean_code, _clean_text, _path_text
from keel.cmdb.models import CIType, Dependency, Relation, RelationKind
from keel.core import audit
from keel.core.errors import Conflict, FieldError
from keel.core.permissions import require

KIND_FIELDS = ["name", "reverse_name", "dependency", "acyclic", "source_types", "target_types"]


def _clean_kind(values: dict[str, Any], errors: list[tuple[str, Any]]) -> dict[str, Any]:
    cleaned = dict(values)
    _clean_code(cleaned, errors)
    _clean_text(cleaned, "name", NAME_MAX, errors)
    _clean_text(cleaned, "reverse_name", NAME_MAX, errors)
    if "dependency" in values and values["dependency"] not in Dependency.values:
        errors.append(
            ("dependency", _("Choose one of: %(v)s.") % {"v": ", ".join(Dependency.values)})
        )
    if "acyclic" in values and not isinstance(values["acyclic"], bool):
        errors.append(("acyclic", _("Use true or false.")))
    for name in ("source_types", "target_types"):
        if name in values:
            cleaned[name] = list(values[name] or [])
            if not all(isinstance(t, CIType) for t in cleaned[name]):
                errors.append((name, _("Choose CI types.")))
    return cleaned


def _kind_taken(kind: RelationKind | None, code: str | None, name: str | None) -> None:
    """A Conflict naming the code and the name another kind already has."""
    others = RelationKind.objects.all()
    if kind is not None:
        others = others.exclude(pk=kind.pk)
    errors: list[tuple[str, Any]] = []
    if code and others.filter(code=code).exists():
        errors.append(
            ("code", _("Another relation kind already has the code “%(c)s”.") % {"c": code})
        )
    if name and others.filter(name=name).exists():
        errors.append(("name", _("Another relation kind is already called “%(n)s”.") % {"n": name}))
    if errors:
        raise Conflict(_("A relation kind with this code or name exists."), errors=errors)


def _check_existing_ends(kind: RelationKind) -> None:
    """Refuse allowed types that relations of the kind already break (naming one of them)."""
    for end, allowed in (
        ("source", list(kind.source_types.all())),
        ("target", list(kind.target_types.all())),
    ):
        if not allowed:
            continue
        outside = (
            Relation.objects.filter(kind=kind)
            .exclude(**{f"{end}__type__in": allowed})
            .select_related("source", "target")
        )
        example = outside.first()
        if example is not None:
            count = outside.count()
            raise FieldError(
                f"{end}_types",
                ngettext(
                    "%(n)s relation of this kind has a %(end)s of another type (%(example)s); "
                    "remove it first, or allow its type.",
                    "%(n)s relations of this kind have a %(end)s of another type "
                    "(such as %(example)s); remove them first, or allow their types.",
                    count,
                )
                % {
                    "n": count,
                    "end": _("source") if end == "source" else _("target"),
                    "example": f"{example.source.number} {kind.name} {example.target.number}",
                },
            )


def _kind_snapshot(kind: RelationKind) -> dict[str, Any]:
    return {
        "name": kind.name,
        "reverse_name": kind.reverse_name,
        "dependency": kind.dependency,
        "acyclic": kind.acyclic,
        "source_types": sorted(t.code for t in kind.source_types.all()),
        "target_types": sorted(t.code for t in kind.target_types.all()),
    }


@transaction.atomic
def create_relation_kind(
    *,
    actor: Any,
    code: str,
    name: str,
    reverse_name: str,
    dependency: str = Dependency.NONE,
    acyclic: bool = False,
    source_types: Iterable[CIType] = (),
    target_types: Iterable[CIType] = (),
) -> RelationKind:
    """A new kind of relation (administrators). Empty type lists allow any type."""
    require(actor, "cmdb.add_relationkind")
    errors: list[tuple[str, Any]] = []
    values = _clean_kind(
        {
            "code": code,
            "name": name,
            "reverse_name": reverse_name,
            "dependency": dependency,
            "acyclic": acyclic,
            "source_types": source_types,
            "target_types": target_types,
        },
        errors,
    )
    if errors:
        raise FieldError(errors=errors)
    _kind_taken(None, values["code"], values["name"])
    sources, targets = values.pop("source_types"), values.pop("target_types")
    kind = RelationKind.objects.create(**values)
    kind.source_types.set(sources)
    kind.target_types.set(targets)
    audit.record(
        actor,
        "relationkind.created",
        kind,
        changes={k: [None, v] for k, v in _kind_snapshot(kind).items()},
    )
    return kind


def _find_cycle(kind: RelationKind) -> list[int] | None:
    """A loop among the relations of ``kind``, as item ids (first = last), or None."""
    edges: dict[int, list[int]] = {}
    for source, target in Relation.objects.filter(kind=kind).values_list("source_id", "target_id"):
        edges.setdefault(source, []).append(target)
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for root in list(edges):
        if state.get(root):
            continue
        stack: list[tuple[int, Iterable[int]]] = [(root, iter(edges.get(root, [])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges.get(child, []))))
    return None


@transaction.atomic
def update_relation_kind(*, actor: Any, kind: RelationKind, **values: Any) -> RelationKind:
    """Change a relation kind. A new ``dependency`` re-points every relation of the kind for
    impact analysis; ``acyclic`` can only be switched on while its relations form no loop."""
    require(actor, "cmdb.change_relationkind")
    errors: list[tuple[str, Any]] = [
        (f, _("Unknown field.")) for f in sorted(set(values) - set(KIND_FIELDS))
    ]
    cleaned = _clean_kind({k: v for k, v in values.items() if k in KIND_FIELDS}, errors)
    if errors:
        raise FieldError(errors=errors)
    kind = RelationKind.objects.select_for_update().get(pk=kind.pk)
    before = _kind_snapshot(kind)
    _kind_taken(kind, None, cleaned.get("name"))
    sources, targets = cleaned.pop("source_types", None), cleaned.pop("target_types", None)
    for name, value in cleaned.items():
        setattr(kind, name, value)
    kind.save()
    if sources is not None:
        kind.source_types.set(sources)
    if targets is not None:
        kind.target_types.set(targets)
    if sources or targets:
        _check_existing_ends(kind)
    if kind.acyclic and not before["acyclic"]:
        loop = _find_cycle(kind)
        if loop:
            raise FieldError(
                "acyclic",
                _("These relations already form a loop: %(path)s.") % {"path": _path_text(loop)},
            )
    if kind.dependency != before["dependency"]:
        relations = Relation.objects.filter(kind=kind)
        if kind.dependency == Dependency.SOURCE_ON_TARGET:
            relations.update(dependent=F("source"), dependency=F("target"))
        elif kind.dependency == Dependency.TARGET_ON_SOURCE:
            relations.update(dependent=F("target"), dependency=F("source"))
        else:
            relations.update(dependent=None, dependency=None)
    changes = _changed(before, _kind_snapshot(kind))
    if changes:
        audit.record(actor, "relationkind.updated", kind, changes=changes)
    return kind


@transaction.atomic
def set_relation_kind_active(
    *, actor: Any, kind: RelationKind, active: bool, reason: str = ""
) -> RelationKind:
    """Take a kind out of use (its relations stay and still count for impact analysis; no new
    ones are added) or back in."""
    require(actor, "cmdb.change_relationkind")
    if not isinstance(active, bool):
        raise FieldError("is_active", _("Use true or false."))
    locked = RelationKind.objects.select_for_update().get(pk=kind.pk)
    if locked.is_active == active:
        return locked
    locked.is_active = kind.is_active = active
    locked.save(update_fields=["is_active"])
    audit.record(
        actor,
        "relationkind.reactivated" if active else "relationkind.deactivated",
        locked,
        changes={"is_active": [not active, active]},
        reason=reason,
    )
    return locked

"""Relations between items, checked against their kind's types and loops."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.cmdb import history, queries
from keel.cmdb.access import require_change
from keel.cmdb.actions._base import _path_text
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import ConfigurationItem, Dependency, Relation, RelationKind
from keel.core import audit
from keel.core.errors import Conflict, FieldError
from keel.core.permissions import require


def _ends(kind_dependency: str, source_id: int, target_id: int) -> tuple[int | None, int | None]:
    """(dependent, dependency) of a relation of a kind with this dependency."""
    if kind_dependency == Dependency.SOURCE_ON_TARGET:
        return source_id, target_id
    if kind_dependency == Dependency.TARGET_ON_SOURCE:
        return target_id, source_id
    return None, None


def _check_types(kind: RelationKind, source: ConfigurationItem, target: ConfigurationItem) -> None:
    for end, item, allowed in (
        ("source", source, list(kind.source_types.all())),
        ("target", target, list(kind.target_types.all())),
    ):
        if allowed and item.type_id not in {t.pk for t in allowed}:
            raise FieldError(
                "kind",
                _("“%(kind)s” cannot have a %(type)s as its %(end)s; allowed: %(allowed)s.")
                % {
                    "kind": kind.name,
                    "type": item.type.name,
                    "end": _("source") if end == "source" else _("target"),
                    "allowed": ", ".join(sorted(t.name for t in allowed)),
                },
            )


def _relation_repr(relation: Relation) -> str:
    return f"{relation.source.name} {relation.kind.name} {relation.target.name}"[:300]


@transaction.atomic
def add_relation(
    *,
    actor: Any,
    source: ConfigurationItem,
    target: ConfigurationItem,
    kind: RelationKind,
    reason: str = "",
) -> Relation:
    """Relate ``source`` to ``target`` ("app runs on server").

    Refused: an item related to itself, a kind not allowed between these types, a retired end,
    a repeat, and — for acyclic kinds — a relation that would close a loop (the loop is named).
    Requires ``cmdb.add_relation`` on a source of the actor's team.
    """
    require_change(actor, "cmdb.add_relation", source)
    require(actor, None, target)
    if source.pk == target.pk:
        raise FieldError("target", _("An item cannot be related to itself."))
    for end, item in (("source", source), ("target", target)):
        if item.status == Status.RETIRED:
            raise FieldError(end, _("%(number)s is retired.") % {"number": item.number})
    if not kind.is_active:
        raise FieldError("kind", _("“%(kind)s” is no longer in use.") % {"kind": kind.name})
    _check_types(kind, source, target)
    if kind.acyclic:
        # One writer per acyclic kind at a time, so two additions cannot close a loop together.
        RelationKind.objects.select_for_update().filter(pk=kind.pk).first()
        path = queries.path_between(target.pk, source.pk, kind)
        if path:
            raise FieldError(
                "target",
                _("“%(kind)s” cannot loop back: %(path)s.")
                % {"kind": kind.name, "path": _path_text([source.pk, *path])},
            )
    if Relation.objects.filter(source=source, target=target, kind=kind).exists():
        raise Conflict(
            _("This relation exists already."), errors=[("target", _("Already related."))]
        )
    dependent, dependency = _ends(kind.dependency, source.pk, target.pk)
    relation = Relation.objects.create(
        source=source,
        target=target,
        kind=kind,
        dependent_id=dependent,
        dependency_id=dependency,
        created_at=timezone.now(),
    )
    audit.record(
        actor,
        history.RELATION_ADDED,
        relation,
        object_repr=_relation_repr(relation),
        changes={
            "source": [None, source.pk],
            "target": [None, target.pk],
            "kind": [None, kind.code],
        },
        reason=reason,
    )
    return relation


@transaction.atomic
def remove_relation(*, actor: Any, relation: Relation, reason: str = "") -> None:
    """Remove a relation; its addition and removal stay in both items' history."""
    require_change(actor, "cmdb.delete_relation", relation.source)
    audit.record(
        actor,
        history.RELATION_REMOVED,
        relation,
        object_repr=_relation_repr(relation),
        changes={
            "source": [relation.source_id, None],
            "target": [relation.target_id, None],
            "kind": [relation.kind.code, None],
        },
        reason=reason,
    )
    relation.delete()

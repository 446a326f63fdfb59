"""Every change to the CMDB: types, relation kinds, items, relations, imports and expiry reminders.

Each action is one transaction: it checks permission and scope (changing an item needs its
support team, see ``access``), validates every field and names the ones that are wrong, checks
the version the caller read (a stale write gets ``StaleVersion``, HTTP 409), writes, and records
the audit event with the full old and new value of everything it changed, so ``history.as_of``
can answer what an item looked like on any date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog.models import Service
from keel.cmdb import attributes as attrs
from keel.cmdb import history, lifecycle, queries, references
from keel.cmdb.access import require_change
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import (
    CIType,
    CITypeVersion,
    ConfigurationItem,
    Dependency,
    ExpiryKind,
    ExpiryReminder,
    Relation,
    RelationKind,
)
from keel.cmdb.validation import clean_fields
from keel.core import audit
from keel.core.errors import Conflict, FieldError, StaleVersion
from keel.core.numbering import next_number
from keel.core.permissions import require

NUMBER_KEY = "CI"
DEFAULT_REMINDER_DAYS = 30


# --- CI types ---------------------------------------------------------------------------------


def _stale(what: str, sent: int, now: int) -> StaleVersion:
    return StaleVersion(
        _("Someone else changed %(what)s after you opened it. Reload it and try again.")
        % {"what": what},
        errors=[
            (
                "version",
                _("You sent version %(sent)s; it is now at %(now)s.") % {"sent": sent, "now": now},
            )
        ],
    )


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


# --- relation kinds ---------------------------------------------------------------------------

KIND_FIELDS = ["name", "reverse_name", "dependency", "acyclic", "source_types", "target_types"]


def _clean_kind(values: dict[str, Any], errors: list[tuple[str, Any]]) -> dict[str, Any]:
    cleaned = dict(values)
    for name in ("code", "name", "reverse_name"):
        if name in values:
            text = values[name].strip() if isinstance(values[name], str) else ""
            if not text:
                errors.append((name, _("This field is required.")))
            cleaned[name] = text
    if "dependency" in values and values["dependency"] not in Dependency.values:
        errors.append(
            ("dependency", _("Choose one of: %(v)s.") % {"v": ", ".join(Dependency.values)})
        )
    if "acyclic" in values and not isinstance(values["acyclic"], bool):
        errors.append(("acyclic", _("Use true or false.")))
    for name in ("source_types", "target_types"):
        if name in values:
            cleaned[name] = list(values[name] or [])
    return cleaned


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
    if RelationKind.objects.filter(Q(code=values["code"]) | Q(name=values["name"])).exists():
        raise Conflict(
            _("A relation kind with this code or name exists."),
            errors=[("code", _("Already in use."))],
        )
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


def _ends(kind_dependency: str, source_id: int, target_id: int) -> tuple[int | None, int | None]:
    """(dependent, dependency) of a relation of a kind with this dependency."""
    if kind_dependency == Dependency.SOURCE_ON_TARGET:
        return source_id, target_id
    if kind_dependency == Dependency.TARGET_ON_SOURCE:
        return target_id, source_id
    return None, None


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
    if (
        "name" in cleaned
        and RelationKind.objects.exclude(pk=kind.pk).filter(name=cleaned["name"]).exists()
    ):
        raise Conflict(
            _("A relation kind with this name exists."), errors=[("name", _("Already in use."))]
        )
    sources, targets = cleaned.pop("source_types", None), cleaned.pop("target_types", None)
    for name, value in cleaned.items():
        setattr(kind, name, value)
    kind.save()
    if sources is not None:
        kind.source_types.set(sources)
    if targets is not None:
        kind.target_types.set(targets)
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


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


# --- configuration items ----------------------------------------------------------------------


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


# --- relations --------------------------------------------------------------------------------


def _path_text(ids: list[int]) -> str:
    names = queries.names_of(ids)
    return " → ".join(names.get(i, str(i)) for i in ids)


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


# --- import -----------------------------------------------------------------------------------


def _adapter(field: Any) -> Callable[[Any], Any]:
    """How one column's value goes to the database (what ``get_db_prep_save`` does, minus the
    generic overhead that dominates a 50,000-row import)."""
    ops = connection.ops
    kind = field.get_internal_type()
    if kind == "DateField":
        return ops.adapt_datefield_value
    if kind == "DateTimeField":
        return ops.adapt_datetimefield_value
    if kind == "DecimalField":
        return lambda v: ops.adapt_decimalfield_value(v, field.max_digits, field.decimal_places)
    if kind == "JSONField":
        return lambda v: field.get_db_prep_save(v, connection)
    return lambda v: v


def _insert_many(items: list[ConfigurationItem]) -> None:
    """Insert new items with one parameterised statement run for all rows, then give each
    its id (looked up by its unique number)."""
    if not items:
        return
    fields = [f for f in ConfigurationItem._meta.concrete_fields if not f.primary_key]
    adapters = [(f.attname, _adapter(f)) for f in fields]
    quote = connection.ops.quote_name
    table = quote(ConfigurationItem._meta.db_table)
    columns = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    rows = [tuple(adapt(getattr(item, name)) for name, adapt in adapters) for item in items]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
    by_number = {item.number: item for item in items}
    numbers = list(by_number)
    for start in range(0, len(numbers), 5000):
        chunk = numbers[start : start + 5000]
        for pk, number in ConfigurationItem.objects.filter(number__in=chunk).values_list(
            "id", "number"
        ):
            item = by_number[number]
            item.pk = pk
            item._state.adding = False
            item._state.db = connection.alias


@dataclass
class ImportRow:
    """One checked row of an import: the item it updates (None: a new one) and its values."""

    row: int
    values: dict[str, Any]
    item: ConfigurationItem | None = None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    numbers: list[str] = field(default_factory=list)


@transaction.atomic
def import_items(
    *, actor: Any, ci_type: CIType, rows: Sequence[ImportRow], source: str = ""
) -> ImportResult:
    """Write the checked rows of an import, all or nothing: new items are created, items found
    by external id are updated, each with its own audit event.

    ``rows`` come from ``importing`` (which checks every cell first and names the row and column
    of each problem); a failure part-way rolls back every row.
    """
    require(actor, "cmdb.import_configurationitem")
    require(actor, "cmdb.add_configurationitem")
    reason = _("imported from %(source)s") % {"source": source} if source else _("imported")
    from keel.core.numbering import next_numbers

    now = timezone.now()
    result = ImportResult()
    new_rows = [row for row in rows if row.item is None]
    # One statement reserves every new number, and one advances the audit chain for all events:
    # a statement per row on these two rows grows quadratically within one transaction.
    new_items = [
        ConfigurationItem(
            number=number,
            type=ci_type,
            type_version=ci_type.version,
            created_at=now,
            updated_at=now,
            **row.values,
        )
        for row, number in zip(new_rows, next_numbers(NUMBER_KEY, len(new_rows)), strict=True)
    ]
    _insert_many(new_items)
    entries: list[dict[str, Any]] = []
    for item in new_items:
        after = history.snapshot(item, [])
        entries.append(
            {
                "action": history.CREATED,
                "obj": item,
                "changes": {k: [None, v] for k, v in after.items()},
                "reason": reason,
            }
        )
        result.numbers.append(item.number)
    result.created = len(new_items)
    changed: list[ConfigurationItem] = []
    written: set[str] = set()
    for row in rows:
        if row.item is None:
            continue
        item = row.item
        require_change(actor, "cmdb.change_configurationitem", item)
        if "status" in row.values:
            lifecycle.check(item.status, row.values["status"])
        before = history.snapshot(item, [])
        for name, value in row.values.items():
            setattr(item, name, value)
        item.type_version = ci_type.version
        changes = history.changes_between(before, history.snapshot(item, []))
        changes.pop("used_by_departments", None)
        if not changes:
            result.unchanged += 1
            continue
        item.updated_at = now
        item.version += 1
        written.update(changes)
        changed.append(item)
        entries.append({"action": "ci.updated", "obj": item, "changes": changes, "reason": reason})
        result.numbers.append(item.number)
    audit.record_many(actor, entries)
    if changed:
        ConfigurationItem.objects.bulk_update(
            changed, [*sorted(written), "updated_at", "version"], batch_size=1000
        )
    result.updated = len(changed)
    return result


# --- expiry reminders -------------------------------------------------------------------------


def reminder_days() -> int:
    return int(getattr(settings, "KEEL_CMDB_REMINDER_DAYS", DEFAULT_REMINDER_DAYS))


@transaction.atomic
def plan_expiry_reminders(
    *, actor: Any, today: date | None = None, days: int | None = None
) -> list[int]:
    """Note a reminder for every warranty and licence ending within ``days`` (default 30) that
    has none yet for that date, and e-mail each after commit. Returns the new reminders' ids.

    A reminder is sent once per item, kind and expiry date: a renewed date gets a new one.
    """
    require(actor, "cmdb.change_configurationitem")
    today = today or timezone.localdate()
    days = reminder_days() if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        raise FieldError("days", _("Use 0 to 3650 days."))
    until = today + timedelta(days=days)
    planned: list[ExpiryReminder] = []
    entries: list[dict[str, Any]] = []
    for item in queries.expiring(today, until):
        for kind, expires in (
            (ExpiryKind.WARRANTY, item.warranty_expires),
            (ExpiryKind.LICENCE, item.licence_expires),
        ):
            if expires is None or not today <= expires <= until:
                continue
            if ExpiryReminder.objects.filter(item=item, kind=kind, expires_on=expires).exists():
                continue
            reminder = ExpiryReminder.objects.create(
                item=item, kind=kind, expires_on=expires, created_at=timezone.now()
            )
            entries.append(
                {
                    "action": "ci.expiry_reminder",
                    "obj": item,
                    "changes": {f"{kind}_reminder": [None, expires.isoformat()]},
                }
            )
            planned.append(reminder)
    audit.record_many(actor, entries)
    from keel.cmdb import notify

    for reminder in planned:
        notify.after_commit(notify.expiry_reminder, reminder.pk)
    return [r.pk for r in planned]


@transaction.atomic
def note_reminder_sent(*, reminder: ExpiryReminder, to: list[str]) -> None:
    """Record that the reminder's e-mail went out, and to whom."""
    ExpiryReminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now(), sent_to=to)

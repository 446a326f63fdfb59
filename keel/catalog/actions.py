"""Every change to services, service-level targets, the priority matrix and categories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from django.db import transaction
from django.utils.translation import gettext as _

from keel.catalog import queries
from keel.catalog.models import (
    MAX_LEVELS,
    MIN_LEVELS,
    Category,
    Criticality,
    PriorityRule,
    PriorityScale,
    Service,
    ServiceTarget,
)
from keel.core import audit
from keel.core.errors import Conflict, FieldError
from keel.core.permissions import require

SERVICE_FIELDS = [
    "name",
    "code",
    "description",
    "owner",
    "team",
    "calendar",
    "criticality",
    "is_active",
    "in_portal",
]


def _is_whole(value: object) -> TypeGuard[int]:
    """A whole number given as such (not ``True``, ``"3"`` or ``3.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_service(values: Mapping[str, Any], errors: list[tuple[str, Any]]) -> None:
    if "name" in values and not str(values["name"]).strip():
        errors.append(("name", _("This field is required.")))
    if "code" in values and not str(values["code"]).strip():
        errors.append(("code", _("This field is required.")))
    if "team" in values and values["team"] is None:
        errors.append(("team", _("A service needs a support team.")))
    if "criticality" in values and values["criticality"] not in Criticality.values:
        errors.append(("criticality", _("Choose low, medium, high or critical.")))


@transaction.atomic
def create_service(*, actor: Any, name: str, code: str, team: Any, **values: Any) -> Service:
    """A new service, routed to ``team``. Requires ``catalog.add_service``."""
    require(actor, "catalog.add_service")
    fields = {"name": name, "code": code, "team": team, **values}
    errors: list[tuple[str, Any]] = []
    _validate_service(fields, errors)
    unknown = set(values) - set(SERVICE_FIELDS)
    errors += [(f, _("Unknown field.")) for f in sorted(unknown)]
    if errors:
        raise FieldError(errors=errors)
    if Service.objects.filter(code=code).exists() or Service.objects.filter(name=name).exists():
        raise Conflict(
            _("A service with this name or code already exists."),
            errors=[("code", _("Already in use."))],
        )
    service = Service.objects.create(**fields)
    audit.record(
        actor,
        "service.created",
        service,
        changes={f: [None, v] for f, v in audit.snapshot(service, SERVICE_FIELDS).items()},
    )
    return service


@transaction.atomic
def update_service(*, actor: Any, service: Service, **values: Any) -> Service:
    require(actor, "catalog.change_service")
    errors: list[tuple[str, Any]] = [
        (f, _("Unknown field.")) for f in sorted(set(values) - set(SERVICE_FIELDS))
    ]
    _validate_service(values, errors)
    if errors:
        raise FieldError(errors=errors)
    before = audit.snapshot(service, SERVICE_FIELDS)
    for field, value in values.items():
        setattr(service, field, value)
    changes = audit.diff(service, before, SERVICE_FIELDS)
    if changes:
        service.save(update_fields=list(values))
        audit.record(actor, "service.updated", service, changes=changes)
        transaction.on_commit(queries.invalidate)
    return service


@transaction.atomic
def set_service_targets(
    *, actor: Any, service: Service | None, targets: Mapping[int, tuple[int, int]]
) -> None:
    """Set (respond, resolve) business minutes per priority for a service (or the defaults)."""
    require(actor, "catalog.change_servicetarget" if service else "catalog.change_priorityrule")
    errors: list[tuple[str, Any]] = []
    for priority, pair in targets.items():
        field = f"targets.P{priority}"
        respond, resolve = pair if isinstance(pair, tuple | list) and len(pair) == 2 else (0, 0)
        if not _is_whole(priority) or not 1 <= priority <= MAX_LEVELS:
            errors.append((field, _("Priority must be P1 to P5.")))
        elif not (_is_whole(respond) and _is_whole(resolve)) or respond <= 0 or resolve <= 0:
            errors.append((field, _("Targets must be positive numbers of minutes.")))
        elif respond > resolve:
            errors.append(
                (field, _("The response target cannot be later than the resolution target."))
            )
    if errors:
        raise FieldError(errors=errors)
    before = {
        t.priority: [t.respond_minutes, t.resolve_minutes]
        for t in ServiceTarget.objects.filter(service=service)
    }
    for priority, (respond, resolve) in targets.items():
        ServiceTarget.objects.update_or_create(
            service=service,
            priority=priority,
            defaults={"respond_minutes": respond, "resolve_minutes": resolve},
        )
    after = {p: list(v) for p, v in targets.items()}
    audit.record(
        actor,
        "service.targets_set",
        service,
        object_type=None if service else "catalog.servicetarget",
        object_id=None if service else "defaults",
        object_repr=None if service else "default targets",
        changes={f"P{p}": [before.get(p), after[p]] for p in after if before.get(p) != after[p]},
    )
    transaction.on_commit(queries.invalidate)


@transaction.atomic
def set_priority_matrix(*, actor: Any, levels: int, rules: Mapping[tuple[int, int], int]) -> None:
    """Replace the priority matrix: ``levels`` impact/urgency levels and every cell's priority."""
    require(actor, "catalog.change_priorityrule")
    if not _is_whole(levels) or not MIN_LEVELS <= levels <= MAX_LEVELS:
        raise FieldError("levels", _("Use between 2 and 5 levels."))
    cells = [(i, u) for i in range(1, levels + 1) for u in range(1, levels + 1)]
    errors: list[tuple[str, Any]] = []
    for impact, urgency in cells:
        value = rules.get((impact, urgency))
        if not _is_whole(value) or not 1 <= value <= MAX_LEVELS:
            errors.append((f"rules.{impact}.{urgency}", _("Give a priority from P1 to P5.")))
    if errors:
        raise FieldError(errors=errors)
    # Level 1 is the most impact and the most urgent: a worse impact or urgency than a
    # neighbouring cell must never give a less urgent priority than that cell.
    for impact, urgency in cells:
        for worse in ((impact - 1, urgency), (impact, urgency - 1)):
            if min(worse) >= 1 and rules[worse] > rules[(impact, urgency)]:
                errors.append(
                    (
                        f"rules.{worse[0]}.{worse[1]}",
                        _("A higher impact or urgency cannot give a lower priority."),
                    )
                )
    if errors:
        raise FieldError(errors=errors)
    before = queries.matrix()
    PriorityScale.objects.update_or_create(id=1, defaults={"levels": levels})
    PriorityRule.objects.all().delete()
    PriorityRule.objects.bulk_create(
        [
            PriorityRule(impact=i, urgency=u, priority=rules[(i, u)])
            for i in range(1, levels + 1)
            for u in range(1, levels + 1)
        ]
    )
    audit.record(
        actor,
        "priority_matrix.changed",
        object_type="catalog.priorityrule",
        object_id="matrix",
        object_repr="priority matrix",
        changes={
            "levels": [len({i for i, _u in before}), levels],
            "rules": [
                {f"{i}x{u}": p for (i, u), p in before.items()},
                {f"{i}x{u}": p for (i, u), p in rules.items()},
            ],
        },
    )
    queries.invalidate()
    transaction.on_commit(queries.invalidate)


@transaction.atomic
def create_category(
    *, actor: Any, name: str, code: str, parent: Category | None = None
) -> Category:
    require(actor, "catalog.add_category")
    if not name.strip():
        raise FieldError("name", _("This field is required."))
    if Category.objects.filter(code=code).exists():
        raise Conflict(
            _("A category with this code already exists."), errors=[("code", _("Already in use."))]
        )
    if Category.objects.filter(parent=parent, name=name.strip()).exists():
        raise Conflict(
            _("This category already exists here."), errors=[("name", _("Already in use."))]
        )
    category = Category.objects.create(name=name.strip(), code=code, parent=parent)
    audit.record(
        actor,
        "category.created",
        category,
        changes={"name": [None, category.name], "parent": [None, getattr(parent, "pk", None)]},
    )
    return category

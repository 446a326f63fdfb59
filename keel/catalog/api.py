"""API for the service catalogue: services with their SLA targets, categories, priority matrix."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status

from keel.catalog import actions, queries
from keel.catalog.models import Service
from keel.catalog.priority import (
    IMPACT_HELP,
    PRIORITY_LABELS,
    URGENCY_HELP,
    level_label,
    priority_code,
)
from keel.catalog.schemas import (
    CategoryOut,
    PriorityMatrixOut,
    ServiceIn,
    ServiceOut,
    ServiceUpdateIn,
    targets_of,
)
from keel.core.api import _one
from keel.core.models import BusinessCalendar, Team, User
from keel.core.permissions import NotFound, require

router = Router(tags=["catalogue"])


def _with_targets(qs: QuerySet[Service]) -> QuerySet[Service]:
    return qs.select_related("team", "calendar", "owner").prefetch_related("targets")


def _service(user, service_id: int) -> Service:
    """An active service; retired ones only for those who may change services."""
    qs = Service.objects.all() if user.has_perm("catalog.change_service") else queries.services()
    service = _with_targets(qs).filter(pk=service_id).first()
    if service is None:
        raise NotFound
    return service


@router.get("/services", response=list[ServiceOut])
def list_services(request: HttpRequest, portal: bool = False):
    """Services in operation with their effective SLA targets (``portal``: only those shown there)."""
    require(request.user, "catalog.view_service")
    return queries.services(portal_only=portal)


@router.get("/services/{service_id}", response=ServiceOut)
def get_service(request: HttpRequest, service_id: int):
    require(request.user, "catalog.view_service")
    return _service(request.user, service_id)


@router.post("/services", response={201: ServiceOut})
def create_service(request: HttpRequest, payload: ServiceIn):
    """Add a service (administrators), optionally with its own targets per priority."""
    require(request.user, "catalog.add_service")
    with transaction.atomic():
        service = actions.create_service(
            actor=request.user,
            name=payload.name,
            code=payload.code,
            team=_one(Team, payload.team, "team"),
            description=payload.description,
            owner=_one(User, payload.owner, "owner"),
            calendar=_one(BusinessCalendar, payload.calendar, "calendar"),
            criticality=payload.criticality,
            in_portal=payload.in_portal,
        )
        if payload.targets:
            actions.set_service_targets(
                actor=request.user, service=service, targets=targets_of(payload.targets)
            )
    return Status(201, _service(request.user, service.pk))


@router.patch("/services/{service_id}", response=ServiceOut)
def update_service(request: HttpRequest, service_id: int, payload: ServiceUpdateIn):
    """Change a service; ``targets`` replaces the targets of the priorities it names."""
    require(request.user, "catalog.change_service")
    service = _service(request.user, service_id)
    values = payload.dict(exclude_unset=True)
    targets = values.pop("targets", None)
    for field, model in (("team", Team), ("owner", User), ("calendar", BusinessCalendar)):
        if field in values:
            values[field] = _one(model, values[field], field)
    with transaction.atomic():
        if values:
            actions.update_service(actor=request.user, service=service, **values)
        if targets:
            actions.set_service_targets(
                actor=request.user, service=service, targets=targets_of(payload.targets)
            )
    return _service(request.user, service_id)


@router.get("/categories", response=list[CategoryOut])
def list_categories(request: HttpRequest):
    """Every category in use, parents before their children, each with its full path."""
    require(request.user, "catalog.view_category")
    by_id = {c.pk: c for c in queries.categories()}
    return [
        {
            "id": pk,
            "name": by_id[pk].name,
            "code": by_id[pk].code,
            "parent_id": by_id[pk].parent_id,
            "path": path,
        }
        for pk, path in queries.category_choices()
        if pk in by_id
    ]


@router.get("/priority-matrix", response=PriorityMatrixOut)
def priority_matrix(request: HttpRequest):
    """Impact × urgency → priority, with the labels of each level (level 1 is the highest)."""
    levels = queries.levels()

    def scale(helps: dict) -> list[dict]:
        return [
            {"level": n, "label": level_label(n, levels), "help": str(helps.get(n, ""))}
            for n in range(1, levels + 1)
        ]

    return {
        "levels": levels,
        "impact": scale(IMPACT_HELP if levels == 3 else {}),
        "urgency": scale(URGENCY_HELP if levels == 3 else {}),
        "priorities": [
            {"priority": priority_code(p), "label": str(label)}
            for p, label in PRIORITY_LABELS.items()
        ],
        "rules": [
            {"impact": i, "urgency": u, "priority": priority_code(p)}
            for (i, u), p in sorted(queries.matrix().items())
        ],
    }

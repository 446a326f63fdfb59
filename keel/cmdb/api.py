"""API for the CMDB: CI types, relation kinds, items, relations, impact analysis, history,
export and import.

Handlers parse, fetch with the scoped query (an item out of scope is 404), call one action or
query, and return the record as it now is. Items are named by id or number (``CI-000123``). A
write carrying a stale ``version`` gets 409 with ``current_version``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Status, UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from keel.catalog.models import Service
from keel.cmdb import actions, exporting, history, importing, queries
from keel.cmdb.models import CIType, ConfigurationItem, RelationKind
from keel.cmdb.schemas import (
    ColumnsOut,
    HistoryOut,
    ImpactOut,
    ImportOut,
    ItemIn,
    ItemListParams,
    ItemOut,
    ItemUpdateIn,
    KindIn,
    KindOut,
    KindUpdateIn,
    PreviewOut,
    RelationIn,
    RelationOut,
    RetireIn,
    StaleOut,
    TypeIn,
    TypeOut,
    TypeUpdateIn,
    TypeVersionOut,
)
from keel.core.api import _many, _one
from keel.core.errors import FieldError, StaleVersion
from keel.core.models import Department, Team, User
from keel.core.permissions import NotFound, require

router = Router(tags=["configuration"])

REFERENCES: dict[str, type] = {
    "owner": User,
    "team": Team,
    "assigned_to": User,
    "department": Department,
    "service": Service,
    "type": CIType,
}


def stale_as_409(current: Callable[..., int | None]) -> Callable[..., Any]:
    """Answer a stale write with 409 and ``current_version`` (read by ``current(**path)``)."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return handler(request, *args, **kwargs)
            except StaleVersion as exc:
                return Status(
                    409,
                    {
                        "detail": str(exc.message),
                        "errors": [{"field": f, "message": str(m)} for f, m in exc.errors],
                        "code": exc.code,
                        "current_version": current(**kwargs),
                    },
                )

        return wrapper

    return decorate


def _resolve(values: dict[str, Any]) -> dict[str, Any]:
    """Ids in a request body as the records the actions take (422 naming a dangling id)."""
    for name, model in REFERENCES.items():
        if name in values:
            values[name] = _one(model, values[name], name)
    if values.get("used_by_departments") is not None:
        values["used_by_departments"] = _many(
            Department, values["used_by_departments"], "used_by_departments"
        )
    return values


def _item(request: HttpRequest, ref: str) -> ConfigurationItem:
    require(request.user, "cmdb.view_configurationitem")
    return queries.item_for(request.user, ref)


def _item_version(ref: str, **_kwargs: Any) -> int | None:
    text = str(ref).strip().upper()
    lookup = {"pk": int(text)} if text.isdigit() else {"number": text}
    return ConfigurationItem.objects.filter(**lookup).values_list("version", flat=True).first()


def _type_version(type_id: int, **_kwargs: Any) -> int | None:
    return CIType.objects.filter(pk=type_id).values_list("version", flat=True).first()


# --- CI types -----------------------------------------------------------------------------------


@router.get("/cmdb/types", response=list[TypeOut])
def list_types(request: HttpRequest):
    """Every CI type with its current attribute definitions."""
    require(request.user, "cmdb.view_citype")
    return queries.types()


@router.post("/cmdb/types", response={201: TypeOut})
def create_type(request: HttpRequest, payload: TypeIn):
    """Define a CI type and its typed attributes (administrators)."""
    return Status(201, actions.create_ci_type(actor=request.user, **payload.dict()))


@router.get("/cmdb/types/{type_id}", response=TypeOut)
def get_type(request: HttpRequest, type_id: int):
    require(request.user, "cmdb.view_citype")
    return CIType.objects.get(pk=type_id)


@router.patch("/cmdb/types/{type_id}", response={200: TypeOut, 409: StaleOut})
@stale_as_409(_type_version)
def update_type(request: HttpRequest, type_id: int, payload: TypeUpdateIn):
    """Change a type; its version goes up and the definitions it replaced are kept."""
    require(request.user, "cmdb.change_citype")
    ci_type = CIType.objects.get(pk=type_id)
    values = payload.dict(exclude_unset=True)
    active = values.pop("is_active", None)
    with transaction.atomic():
        ci_type = actions.update_ci_type(actor=request.user, ci_type=ci_type, **values)
        if active is not None:
            ci_type = actions.set_ci_type_active(actor=request.user, ci_type=ci_type, active=active)
    return ci_type


@router.delete("/cmdb/types/{type_id}", response={204: None})
def delete_type(request: HttpRequest, type_id: int, reason: str = ""):
    """Delete a type defined by mistake; 409 while items are of it (set ``is_active`` false
    instead) or relation kinds allow it."""
    require(request.user, "cmdb.delete_citype")
    ci_type = CIType.objects.get(pk=type_id)
    actions.delete_ci_type(actor=request.user, ci_type=ci_type, reason=reason)
    return Status(204, None)


@router.get("/cmdb/types/{type_id}/versions", response=list[TypeVersionOut])
def type_versions(request: HttpRequest, type_id: int):
    """Every version of a type's attribute definitions, newest first."""
    require(request.user, "cmdb.view_citypeversion")
    ci_type = CIType.objects.get(pk=type_id)
    return ci_type.versions.select_related("changed_by").order_by("-version")


# --- relation kinds -------------------------------------------------------------------------------


@router.get("/cmdb/kinds", response=list[KindOut])
def list_kinds(request: HttpRequest):
    """Relation kinds: which way failure travels (``dependency``) and whether loops are refused."""
    require(request.user, "cmdb.view_relationkind")
    return queries.kinds()


@router.post("/cmdb/kinds", response={201: KindOut})
def create_kind(request: HttpRequest, payload: KindIn):
    require(request.user, "cmdb.add_relationkind")
    values = payload.dict()
    values["source_types"] = _many(CIType, values["source_types"], "source_types")
    values["target_types"] = _many(CIType, values["target_types"], "target_types")
    kind = actions.create_relation_kind(actor=request.user, **values)
    return Status(201, queries.kinds().get(pk=kind.pk))


@router.patch("/cmdb/kinds/{kind_id}", response=KindOut)
def update_kind(request: HttpRequest, kind_id: int, payload: KindUpdateIn):
    require(request.user, "cmdb.change_relationkind")
    kind = RelationKind.objects.get(pk=kind_id)
    values = payload.dict(exclude_unset=True)
    for name in ("source_types", "target_types"):
        if values.get(name) is not None:
            values[name] = _many(CIType, values[name], name)
    active = values.pop("is_active", None)
    with transaction.atomic():
        actions.update_relation_kind(actor=request.user, kind=kind, **values)
        if active is not None:
            actions.set_relation_kind_active(actor=request.user, kind=kind, active=active)
    return queries.kinds().get(pk=kind_id)


# --- items ----------------------------------------------------------------------------------------


@router.get("/cmdb/items", response=list[ItemOut])
@paginate(LimitOffsetPagination)
def list_items(
    request: HttpRequest,
    q: str = "",
    type: str = "",
    status: str = "",
    team: str = "",
    owner: str = "",
    assigned_to: str = "",
    department: str = "",
    expires_before: str = "",
):
    """Items you may see, in number order: staff see all, requesters those assigned to them.

    ``q``: name, number, external id or location; ``type``: id or code; ``status``: a status or
    ``active`` (all but retired); ``assigned_to``: a person's id or ``me`` (the portal's "my
    devices"); ``expires_before``: warranty or licence ends by this date.
    """
    require(request.user, "cmdb.view_configurationitem")
    flt = queries.ItemFilter.parse(request.GET)
    flt.raise_errors()
    return queries.items_for(request.user, flt)


@router.get("/cmdb/items/export", response={200: None})
def export_items(request: HttpRequest, params: Query[ItemListParams], format: str = "csv"):
    """The list with the same filters, as CSV or XLSX (columns import back unchanged)."""
    require(request.user, "cmdb.view_configurationitem")
    if format not in exporting.FORMATS:
        raise FieldError("format", _("Use csv or xlsx."))
    flt = queries.ItemFilter.parse(request.GET)
    flt.raise_errors()
    items = queries.items_for(request.user, flt).prefetch_related(None)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if format == "xlsx":
        response: HttpResponse | StreamingHttpResponse = HttpResponse(
            exporting.to_xlsx(items),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = StreamingHttpResponse(
            exporting.to_csv(items), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="configuration-items-{stamp}.{format}"'
    return response


@router.post("/cmdb/items", response={201: ItemOut})
def create_item(request: HttpRequest, payload: ItemIn):
    """Record an item; its attributes are checked against its type's definitions."""
    require(request.user, "cmdb.add_configurationitem")
    values = _resolve(payload.dict())
    item = actions.create_ci(
        actor=request.user, name=values.pop("name"), ci_type=values.pop("type"), **values
    )
    return Status(201, queries.item_for(request.user, item.pk))


@router.get("/cmdb/items/{ref}", response=ItemOut)
def get_item(request: HttpRequest, ref: str):
    return _item(request, ref)


@router.patch("/cmdb/items/{ref}", response={200: ItemOut, 409: StaleOut})
@stale_as_409(_item_version)
def update_item(request: HttpRequest, ref: str, payload: ItemUpdateIn):
    """Change an item. Send the ``version`` you read; a stale one gets 409."""
    item = _item(request, ref)
    values = payload.dict(exclude_unset=True)
    version, reason = values.pop("version"), values.pop("reason", "")
    if "type" in values and values["type"] is None:
        raise FieldError("type", _("Choose the item's type."))
    with transaction.atomic():
        actions.update_ci(
            actor=request.user, item=item, version=version, reason=reason, **_resolve(values)
        )
    return queries.item_for(request.user, item.pk)


@router.post("/cmdb/items/{ref}/retire", response={200: ItemOut, 409: StaleOut})
@stale_as_409(_item_version)
def retire_item(request: HttpRequest, ref: str, payload: RetireIn):
    """Take an item out of use for good; its relations and history stay."""
    item = _item(request, ref)
    actions.retire_ci(actor=request.user, item=item, version=payload.version, reason=payload.reason)
    return queries.item_for(request.user, item.pk)


@router.delete("/cmdb/items/{ref}", response={204: None})
def delete_item(request: HttpRequest, ref: str, reason: str = ""):
    """Delete an item recorded by mistake; 409 while related or named by open records."""
    item = _item(request, ref)
    actions.delete_ci(actor=request.user, item=item, reason=reason)
    return Status(204, None)


@router.get("/cmdb/items/{ref}/impact", response=ImpactOut)
def item_impact(
    request: HttpRequest,
    ref: str,
    direction: str = queries.UP,
    depth: int = queries.DEFAULT_DEPTH,
    max_nodes: int = queries.DEFAULT_GRAPH_NODES,
):
    """``up``: everything that depends on the item, up to the business services and the
    departments that use them. ``down``: what it is made of. Nodes and edges for a graph."""
    require(request.user, "cmdb.view_relation")
    item = _item(request, ref)
    return queries.impact_graph(item.pk, direction, depth, max_nodes=max_nodes)


def _moment(text: str) -> Any:
    value: Any = None
    try:
        value = parse_datetime(text) or parse_date(text)
    except ValueError:
        value = None
    if value is None:
        raise FieldError("as_of", _("Expected a date (YYYY-MM-DD) or a date and time."))
    if isinstance(value, datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@router.get("/cmdb/items/{ref}/history", response=HistoryOut)
def item_history(request: HttpRequest, ref: str, as_of: str = ""):
    """The item's changes and its relations', newest first; with ``as_of`` (a date, meaning
    the end of that day, or a date and time) also what it looked like then."""
    require(request.user, "cmdb.view_relation")
    item = _item(request, ref)
    state = history.as_of(item, _moment(as_of)) if as_of else None
    return {"item": item, "events": history.events_of(item), "as_of": state}


# --- relations ----------------------------------------------------------------------------------


def _kind(value: int | str) -> RelationKind:
    kind = (
        RelationKind.objects.filter(pk=value).first()
        if isinstance(value, int)
        else RelationKind.objects.filter(code=value).first()
    )
    if kind is None:
        raise FieldError("kind", _("No relation kind %(k)s.") % {"k": value})
    return kind


def _end(request: HttpRequest, pk: int, name: str) -> ConfigurationItem:
    try:
        return queries.item_for(request.user, pk)
    except NotFound:
        raise FieldError(name, _("No configuration item with id %(id)s.") % {"id": pk}) from None


@router.get("/cmdb/relations", response=list[RelationOut])
@paginate(LimitOffsetPagination)
def list_relations(request: HttpRequest, item: int | None = None, kind: str = ""):
    """Relations, optionally those to or from one item (``item``) or of one kind (a code)."""
    require(request.user, "cmdb.view_relation")
    return queries.relations_for(request.user, item=item, kind=kind)


@router.post("/cmdb/relations", response={201: RelationOut})
def create_relation(request: HttpRequest, payload: RelationIn):
    """Relate two items ("app runs on server"); loops in acyclic kinds are refused, named."""
    require(request.user, "cmdb.add_relation")
    relation = actions.add_relation(
        actor=request.user,
        source=_end(request, payload.source, "source"),
        target=_end(request, payload.target, "target"),
        kind=_kind(payload.kind),
        reason=payload.reason,
    )
    return Status(201, queries.relations_for(request.user).get(pk=relation.pk))


@router.delete("/cmdb/relations/{relation_id}", response={204: None})
def delete_relation(request: HttpRequest, relation_id: int, reason: str = ""):
    require(request.user, "cmdb.delete_relation")
    relation = queries.relations_for(request.user).get(pk=relation_id)
    actions.remove_relation(actor=request.user, relation=relation, reason=reason)
    return Status(204, None)


# --- import ---------------------------------------------------------------------------------------


def _mapping(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise FieldError(
            "mapping", _('Send the mapping as JSON: {"column": "field", …}.')
        ) from None


@router.post("/cmdb/import/columns", response=ColumnsOut)
def import_columns(request: HttpRequest, file: File[UploadedFile], type: Form[int]):
    """Step 1: the file's columns and what each can be mapped to."""
    require(request.user, "cmdb.import_configurationitem")
    ci_type = _one(CIType, type, "type")
    found = importing.columns(file, file.name or "")
    targets = importing.targets(ci_type)
    return {
        "columns": found,
        "targets": targets,
        "suggested": {c: c for c in found if c in targets},
    }


@router.post("/cmdb/import/preview", response=PreviewOut)
def import_preview(
    request: HttpRequest, file: File[UploadedFile], mapping: Form[str], type: Form[int]
):
    """Step 2: a dry run. Every problem with its row and column; nothing is written."""
    require(request.user, "cmdb.import_configurationitem")
    return importing.preview(
        file,
        _mapping(mapping),
        _one(CIType, type, "type"),
        actor=request.user,
        filename=file.name or "",
    )


@router.post("/cmdb/import/run", response={201: ImportOut})
def import_run(request: HttpRequest, file: File[UploadedFile], mapping: Form[str], type: Form[int]):
    """Step 3: import every row in one transaction, or nothing when any row has a problem
    (422, each named ``rows.<row>.<column>``)."""
    require(request.user, "cmdb.import_configurationitem")
    result = importing.run(
        file,
        _mapping(mapping),
        _one(CIType, type, "type"),
        actor=request.user,
        filename=file.name or "",
    )
    return Status(201, result)

"""API shapes for CI types, relation kinds, configuration items, relations, impact analysis,
history and import.

Times are ISO 8601 with an explicit offset, in the caller's time zone (UTC for tokens); amounts
are strings ("1200.00") so no precision is lost.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.utils import timezone
from ninja import Field, Schema
from pydantic import ConfigDict, PlainSerializer

from keel.cmdb.lifecycle import Status
from keel.cmdb.models import Dependency


def _iso(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str)]
Amount = Annotated[Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str)]
CODE = r"^[-a-zA-Z0-9_]+$"


class ErrorItem(Schema):
    field: str
    message: str


class StaleOut(Schema):
    """409: someone changed the record first; reload it, re-apply your change, send this version."""

    detail: str
    errors: list[ErrorItem]
    code: str | None = None
    current_version: int | None = None


class Ref(Schema):
    id: int
    name: str
    code: str


class PersonRef(Schema):
    id: int
    username: str
    name: str


class ItemRef(Schema):
    id: int
    number: str
    name: str


# --- types and kinds --------------------------------------------------------------------------


class AttributeDefinition(Schema):
    key: str
    label: str
    type: str
    required: bool = False
    choices: list[str] | None = None
    help: str | None = None


class TypeOut(Schema):
    id: int
    name: str
    code: str
    description: str
    is_service: bool
    is_active: bool = Field(description="False: taken out of use; no new items of it.")
    version: int
    attributes: list[AttributeDefinition]


class TypeIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    description: str = ""
    is_service: bool = False
    attributes: list[dict[str, Any]] = Field(
        default_factory=list,
        description='[{"key": "ram_gb", "label": "RAM (GB)", "type": "integer", "required": true}]; '
        "types: text, integer, decimal, boolean, date, choice (with `choices`), email, url.",
    )


class TypeUpdateIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    code: str | None = Field(None, min_length=1, max_length=40, pattern=CODE)
    description: str | None = None
    is_service: bool | None = None
    attributes: list[dict[str, Any]] | None = None
    is_active: bool | None = Field(
        None, description="false takes the type out of use (its items stay); true brings it back."
    )
    version: int | None = Field(None, description="The version you read; a stale one gets 409.")


class TypeVersionOut(Schema):
    version: int
    attributes: list[AttributeDefinition]
    changed_at: Timestamp
    changed_by: PersonRef | None


class KindOut(Schema):
    id: int
    code: str
    name: str
    reverse_name: str
    dependency: str
    acyclic: bool
    is_active: bool = Field(description="False: taken out of use; no new relations of it.")
    source_types: list[Ref]
    target_types: list[Ref]

    @staticmethod
    def resolve_source_types(obj) -> list:
        return list(obj.source_types.all())

    @staticmethod
    def resolve_target_types(obj) -> list:
        return list(obj.target_types.all())


class KindIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    reverse_name: str = Field(min_length=1, max_length=100)
    dependency: Dependency = Dependency.NONE
    acyclic: bool = False
    source_types: list[int] = Field(default_factory=list, description="CI type ids; empty: any.")
    target_types: list[int] = Field(default_factory=list, description="CI type ids; empty: any.")


class KindUpdateIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    name: str | None = Field(None, min_length=1, max_length=100)
    reverse_name: str | None = Field(None, min_length=1, max_length=100)
    dependency: Dependency | None = None
    acyclic: bool | None = None
    is_active: bool | None = Field(
        None,
        description="false takes the kind out of use (its relations stay); true brings it back.",
    )
    source_types: list[int] | None = None
    target_types: list[int] | None = None


# --- items ------------------------------------------------------------------------------------


class ItemOut(Schema):
    id: int
    number: str
    name: str
    type: Ref
    type_version: int
    status: str
    description: str
    owner: PersonRef | None
    team: Ref | None
    assigned_to: PersonRef | None
    department: Ref | None
    used_by_departments: list[Ref]
    location: str
    supplier: str
    cost: Amount | None
    currency: str
    warranty_expires: date | None
    licence_expires: date | None
    attributes: dict[str, Any]
    external_id: str
    service: Ref | None
    created_at: Timestamp
    updated_at: Timestamp
    version: int

    @staticmethod
    def resolve_used_by_departments(obj) -> list:
        return sorted(obj.used_by_departments.all(), key=lambda d: d.name)


class ItemIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    name: str = Field(min_length=1, max_length=200)
    type: int
    status: Status = Status.PLANNED
    description: str = ""
    owner: int | None = None
    team: int | None = None
    assigned_to: int | None = None
    department: int | None = None
    used_by_departments: list[int] = Field(default_factory=list)
    location: str = Field("", max_length=200)
    supplier: str = Field("", max_length=200)
    cost: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: str = Field("", max_length=3)
    warranty_expires: date | None = None
    licence_expires: date | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    external_id: str = Field("", max_length=200)
    service: int | None = None


class ItemUpdateIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    version: int = Field(description="The version you read; a stale one gets 409.")
    name: str | None = Field(None, min_length=1, max_length=200)
    type: int | None = None
    status: Status | None = None
    description: str | None = None
    owner: int | None = None
    team: int | None = None
    assigned_to: int | None = None
    department: int | None = None
    used_by_departments: list[int] | None = None
    location: str | None = Field(None, max_length=200)
    supplier: str | None = Field(None, max_length=200)
    cost: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(None, max_length=3)
    warranty_expires: date | None = None
    licence_expires: date | None = None
    attributes: dict[str, Any] | None = None
    external_id: str | None = Field(None, max_length=200)
    service: int | None = None
    reason: str = ""


class RetireIn(Schema):
    version: int | None = None
    reason: str = ""


class ItemListParams(Schema):
    """The list's filters (documented here; read by ``queries.ItemFilter``)."""

    q: str | None = Field(None, description="Name, number, external id or location.")
    type: str | None = Field(None, description="A CI type id or code.")
    status: str | None = Field(None, description="A status, or `active` (all but retired).")
    team: str | None = None
    owner: str | None = None
    assigned_to: str | None = Field(None, description="A person's id or `me`.")
    department: str | None = None
    expires_before: str | None = Field(None, description="Warranty or licence ends by (date).")


# --- relations and impact ---------------------------------------------------------------------


class KindRef(Schema):
    id: int
    code: str
    name: str
    reverse_name: str


class RelationOut(Schema):
    id: int
    source: ItemRef
    target: ItemRef
    kind: KindRef
    created_at: Timestamp


class RelationIn(Schema):
    source: int
    target: int
    kind: int | str = Field(description="A relation kind's id or code (`runs-on`).")
    reason: str = ""


class NodeOut(Schema):
    id: int
    number: str
    name: str
    type: str
    type_name: str
    status: str
    depth: int = Field(description="Relations away from the item (0: the item itself).")
    via: int | None = Field(description="The relation it was first reached by.")


class EdgeOut(Schema):
    id: int
    source: int
    target: int
    kind: str
    label: str


class ServiceNodeOut(Schema):
    id: int
    number: str
    name: str
    status: str
    service_id: int | None = Field(description="The catalogue service it stands for, if any.")


class DepartmentRef(Schema):
    id: int
    name: str
    code: str


class ImpactOut(Schema):
    root: int
    direction: str
    depth: int
    total: int = Field(description="Items reached, the item itself included.")
    truncated: bool = Field(description="More were reached than `nodes` lists (see `max_nodes`).")
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    services: list[ServiceNodeOut]
    departments: list[DepartmentRef]


# --- history ----------------------------------------------------------------------------------


class EventOut(Schema):
    seq: int
    at: Timestamp
    actor: str = Field(alias="actor_label")
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]
    reason: str


class HistoryOut(Schema):
    item: ItemRef
    events: list[EventOut] = Field(description="Newest first: the item's and its relations'.")
    as_of: dict[str, Any] | None = Field(
        None,
        description="With `?as_of=`: the item's fields and relations then; null if it did not "
        "exist yet.",
    )


# --- import -----------------------------------------------------------------------------------


class ColumnsOut(Schema):
    columns: list[str]
    targets: list[str] = Field(description="What a column can be mapped to for this type.")
    suggested: dict[str, str] = Field(description="Columns whose name is a target already.")


class RowErrorOut(Schema):
    row: int = Field(description="As the spreadsheet numbers it (the header is row 1).")
    column: str
    field: str
    message: str


class PreviewOut(Schema):
    columns: list[str]
    rows: int
    create: int
    update: int
    errors: list[RowErrorOut]


class ImportOut(Schema):
    created: int
    updated: int
    unchanged: int

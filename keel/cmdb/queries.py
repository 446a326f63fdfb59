"""Read paths of the CMDB: the item list and its filters, impact analysis, and cycle checks.

Impact analysis is one recursive SQL query over the relations' ``dependent``/``dependency``
columns (indexed both ways), the same text on SQLite and PostgreSQL; the graph is never loaded
into Python. Other processes call these functions directly:

* :func:`impact_set` — what is hit when an item fails (``"up"``), or what it is made of
  (``"down"``), with the distance of each; changes judge risk and conflicts with it;
* :func:`dependencies_of` — everything some items depend on, for the incident form's "is this
  already known?" panel (open records on the item and on what it depends on);
* :func:`impact_graph` — nodes and edges for the ECharts graph, with the business services and
  departments reached.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem, Relation, RelationKind
from keel.core.errors import FieldError
from keel.core.permissions import NotFound, get_visible, is_staff_member, visible

UP = "up"
DOWN = "down"
DIRECTIONS = (UP, DOWN)
DEFAULT_DEPTH = 6
MAX_DEPTH = 12
MAX_SEEDS = 1000
DEFAULT_GRAPH_NODES = 500
MAX_GRAPH_NODES = 5000
CHUNK = 5000

_CI = ConfigurationItem._meta.db_table
_REL = Relation._meta.db_table

# Which column leads from an item to its neighbours, per direction. "up" (what depends on me):
# relations where I am the dependency lead to their dependent; "down" the other way round.
_COLUMNS = {UP: ("dependency_id", "dependent_id"), DOWN: ("dependent_id", "dependency_id")}


# The nearest row of each item is kept by packing (depth, relation id) into one number and taking
# the minimum: cheaper than a window function on both databases. Relation ids stay below 2**40.
_PACK = 2**40


def _impact_sql(direction: str, seeds: int) -> str:
    here, there = _COLUMNS[direction]
    marks = ", ".join(["%s"] * seeds)
    # Rows are (item, depth, relation it was reached by); UNION drops repeats and the depth
    # limit ends cycles. Table and column names are the models' own constants, never input;
    # values are bound parameters.
    return f"""
        WITH RECURSIVE reach(id, depth, via) AS (
            SELECT id, 0, CAST(0 AS BIGINT) FROM {_CI} WHERE id IN ({marks})
            UNION
            SELECT r.{there}, reach.depth + 1, r.id
            FROM reach JOIN {_REL} r ON r.{here} = reach.id
            WHERE reach.depth < %s
        )
        SELECT id, MIN(depth * {_PACK} + via) FROM reach GROUP BY id
    """  # noqa: S608


@dataclass(frozen=True)
class Reached:
    """An item reached by impact analysis: how far away, and by which relation (None: a start)."""

    id: int
    depth: int
    via: int | None


def _check(direction: str, depth: int) -> None:
    errors = []
    if direction not in DIRECTIONS:
        errors.append(("direction", _("Use up (what depends on it) or down (what it needs).")))
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        errors.append(("depth", _("Use a depth from 1 to %(n)s.") % {"n": MAX_DEPTH}))
    if errors:
        raise FieldError(errors=errors)


def impact(
    ci_ids: int | Iterable[int], direction: str = UP, depth: int = DEFAULT_DEPTH
) -> list[Reached]:
    """Every item within ``depth`` relations of ``ci_ids`` (themselves included, at depth 0).

    ``up``: what depends on them, transitively (what breaks when they fail). ``down``: what they
    depend on (what a service is made of). Relations of kinds without a dependency are not
    followed. One query, whatever the size of the estate.
    """
    _check(direction, depth)
    seeds = [ci_ids] if isinstance(ci_ids, int) else list(dict.fromkeys(ci_ids))
    if not seeds:
        return []
    if len(seeds) > MAX_SEEDS:
        raise FieldError("ci_ids", _("At most %(n)s items at once.") % {"n": MAX_SEEDS})
    with connection.cursor() as cursor:
        cursor.execute(_impact_sql(direction, len(seeds)), [*seeds, depth])
        rows = cursor.fetchall()
    reached = (Reached(int(i), int(p) // _PACK, int(p) % _PACK or None) for i, p in rows)
    return sorted(reached, key=lambda r: (r.depth, r.id))


def impact_set(ci_id: int, direction: str = UP, depth: int = DEFAULT_DEPTH) -> dict[int, int]:
    """``{item id: distance}`` of everything ``ci_id`` reaches (``ci_id`` itself at 0).

    Change management asks this of each change's items; two changes conflict when one's items
    lie in the other's set in overlapping windows.
    """
    return {r.id: r.depth for r in impact(ci_id, direction, depth)}


def dependencies_of(ci_ids: Iterable[int], depth: int = DEFAULT_DEPTH) -> set[int]:
    """The items ``ci_ids`` depend on, transitively, together with ``ci_ids`` themselves.

    For the incident form's "is this already known?" panel: open incidents on any of these are
    candidates for the cause.
    """
    return {r.id for r in impact(list(ci_ids), DOWN, depth)}


def _chunks(ids: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def impact_graph(
    ci_id: int,
    direction: str = UP,
    depth: int = DEFAULT_DEPTH,
    *,
    max_nodes: int = DEFAULT_GRAPH_NODES,
) -> dict[str, Any]:
    """Impact analysis shaped for the ECharts graph and the table beside it.

    ``nodes`` are the nearest ``max_nodes`` items reached (``truncated`` says when there were
    more, ``total`` how many); ``edges`` the dependency relations between them, as stored
    (source → target); ``services`` the business services reached and ``departments`` those
    that use any item reached.
    """
    if not 1 <= max_nodes <= MAX_GRAPH_NODES:
        raise FieldError("max_nodes", _("Use 1 to %(n)s.") % {"n": MAX_GRAPH_NODES})
    reached = impact(ci_id, direction, depth)
    all_ids = [r.id for r in reached]
    shown = reached[:max_nodes]
    depth_of = {r.id: r.depth for r in shown}
    via_of = {r.id: r.via for r in shown}
    items = (
        ConfigurationItem.objects.filter(pk__in=list(depth_of))
        .select_related("type")
        .only("id", "number", "name", "status", "service_id", "type__code", "type__name")
    )
    nodes = sorted(
        (
            {
                "id": ci.pk,
                "number": ci.number,
                "name": ci.name,
                "type": ci.type.code,
                "type_name": ci.type.name,
                "status": ci.status,
                "depth": depth_of[ci.pk],
                "via": via_of[ci.pk],
            }
            for ci in items
        ),
        key=lambda n: (n["depth"], n["number"]),
    )
    ids = list(depth_of)
    edges = [
        {
            "id": rel.pk,
            "source": rel.source_id,
            "target": rel.target_id,
            "kind": rel.kind.code,
            "label": rel.kind.name,
        }
        for rel in Relation.objects.filter(dependent_id__in=ids, dependency_id__in=ids)
        .select_related("kind")
        .order_by("id")
    ]
    services: list[dict[str, Any]] = []
    departments: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(all_ids):
        services += [
            dict(row)
            for row in ConfigurationItem.objects.filter(pk__in=chunk)
            .filter(Q(type__is_service=True) | Q(service__isnull=False))
            .values("id", "number", "name", "status", "service_id")
        ]
        through = ConfigurationItem.used_by_departments.through
        for row in (
            through.objects.filter(configurationitem_id__in=chunk)
            .values("department_id", "department__name", "department__code")
            .distinct()
        ):
            departments[row["department_id"]] = {
                "id": row["department_id"],
                "name": row["department__name"],
                "code": row["department__code"],
            }
    return {
        "root": ci_id,
        "direction": direction,
        "depth": depth,
        "total": len(reached),
        "truncated": len(reached) > len(shown),
        "nodes": nodes,
        "edges": edges,
        "services": sorted(services, key=lambda s: s["number"]),
        "departments": sorted(departments.values(), key=lambda d: d["name"]),
    }


def path_between(start: int, end: int, kind: RelationKind | int) -> list[int] | None:
    """A shortest chain of ``kind`` relations from ``start`` to ``end`` (source → target), as
    item ids from ``start`` to ``end``; ``None`` when there is none.

    Adding ``end → start`` of an acyclic kind would close a loop exactly when this finds a path.
    The recursive query visits each relation of the kind reachable from ``start`` once.
    """
    if start == end:
        return [start]
    kind_id = kind.pk if isinstance(kind, RelationKind) else kind
    sql = f"""
        WITH RECURSIVE walk(id, parent) AS (
            SELECT CAST(%s AS BIGINT), CAST(NULL AS BIGINT)
            UNION
            SELECT r.target_id, r.source_id
            FROM walk JOIN {_REL} r ON r.source_id = walk.id AND r.kind_id = %s
        )
        SELECT id, parent FROM walk WHERE parent IS NOT NULL
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, kind_id])
        rows = cursor.fetchall()
    parents: dict[int, list[int]] = defaultdict(list)
    for child, parent in rows:
        parents[int(child)].append(int(parent))
    if end not in parents:
        return None
    # Breadth-first from the end back to the start, over the edges found: a shortest path.
    previous: dict[int, int] = {end: end}
    queue = deque([end])
    while queue:
        node = queue.popleft()
        if node == start:
            break
        for parent in parents.get(node, []):
            if parent not in previous:
                previous[parent] = node
                queue.append(parent)
    if start not in previous:
        return None
    path = [start]
    while path[-1] != end:
        path.append(previous[path[-1]])
    return path


def names_of(ids: Iterable[int]) -> dict[int, str]:
    return dict(ConfigurationItem.objects.filter(pk__in=list(ids)).values_list("id", "name"))


# --- lists and single items -----------------------------------------------------------------


@dataclass
class ItemFilter:
    """The filters of every item list: the list page, its htmx table, ``GET /cmdb/items`` and
    the export."""

    q: str = ""
    type: str = ""
    status: str = ""
    team: int | None = None
    owner: int | None = None
    assigned_to: str = ""  # a person's id or "me"
    department: int | None = None
    expires_before: date | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any) -> ItemFilter:
        """Read filters from query parameters; bad values are collected in ``errors``."""
        found = cls(q=(params.get("q") or "").strip()[:200])
        found.type = (params.get("type") or "").strip()
        status = (params.get("status") or "").strip()
        if status and status not in {*Status.values, "active"}:
            found.errors.append(("status", _("Unknown status.")))
        else:
            found.status = status
        for name in ("team", "owner", "department"):
            raw = (params.get(name) or "").strip()
            if raw:
                if raw.isdigit():
                    setattr(found, name, int(raw))
                else:
                    found.errors.append((name, _("Expected a number.")))
        assigned = (params.get("assigned_to") or "").strip()
        if assigned and not (assigned == "me" or assigned.isdigit()):
            found.errors.append(("assigned_to", _("Use a person's id or “me”.")))
        else:
            found.assigned_to = assigned
        raw_date = (params.get("expires_before") or "").strip()
        if raw_date:
            try:
                found.expires_before = parse_date(raw_date)
            except ValueError:
                found.expires_before = None
            if found.expires_before is None:
                found.errors.append(("expires_before", _("Expected a date as YYYY-MM-DD.")))
        return found

    def raise_errors(self) -> None:
        if self.errors:
            raise FieldError(errors=self.errors)


LIST_RELATED = ("type", "owner", "team", "assigned_to", "department", "service")


def items_for(viewer: Any, flt: ItemFilter | None = None) -> QuerySet[ConfigurationItem]:
    """Items the viewer may see, filtered, in number order, without N+1 on the list."""
    flt = flt or ItemFilter()
    qs = visible(ConfigurationItem.objects.all(), viewer).select_related(*LIST_RELATED)
    qs = qs.prefetch_related("used_by_departments")
    if flt.q:
        qs = qs.filter(
            Q(name__icontains=flt.q)
            | Q(number__iexact=flt.q)
            | Q(external_id=flt.q)
            | Q(location__icontains=flt.q)
        )
    if flt.type:
        qs = (
            qs.filter(type_id=int(flt.type))
            if flt.type.isdigit()
            else qs.filter(type__code=flt.type)
        )
    if flt.status == "active":
        qs = qs.exclude(status=Status.RETIRED)
    elif flt.status:
        qs = qs.filter(status=flt.status)
    if flt.team:
        qs = qs.filter(team_id=flt.team)
    if flt.owner:
        qs = qs.filter(owner_id=flt.owner)
    if flt.assigned_to:
        person = viewer.pk if flt.assigned_to == "me" else int(flt.assigned_to)
        qs = qs.filter(assigned_to_id=person)
    if flt.department:
        qs = qs.filter(department_id=flt.department)
    if flt.expires_before:
        qs = qs.filter(
            Q(warranty_expires__lte=flt.expires_before) | Q(licence_expires__lte=flt.expires_before)
        )
    return qs.order_by("number")


def devices_of(person: Any) -> QuerySet[ConfigurationItem]:
    """The portal's "my devices": items in use by ``person``, not retired."""
    return (
        ConfigurationItem.objects.filter(assigned_to_id=person.pk)
        .exclude(status=Status.RETIRED)
        .select_related("type")
        .order_by("name")
    )


def item_for(viewer: Any, ref: int | str) -> ConfigurationItem:
    """One item by id or number (``CI-000123``) if the viewer may see it; NotFound otherwise."""
    qs = ConfigurationItem.objects.select_related(*LIST_RELATED).prefetch_related(
        "used_by_departments"
    )
    text = str(ref).strip()
    if text.isdigit():
        return get_visible(qs, viewer, pk=int(text))
    if not text:
        raise NotFound
    return get_visible(qs, viewer, number=text.upper())


def types() -> QuerySet[CIType]:
    return CIType.objects.order_by("name")


def kinds() -> QuerySet[RelationKind]:
    return RelationKind.objects.prefetch_related("source_types", "target_types").order_by("name")


def relations_for(viewer: Any, *, item: int | None = None, kind: str = "") -> QuerySet[Relation]:
    """Relations whose ends the viewer may both see (staff: all), optionally of one item."""
    qs = Relation.objects.select_related("source", "target", "kind")
    if not is_staff_member(viewer):  # staff read the whole CMDB; others only between their items
        seen = visible(ConfigurationItem.objects.all(), viewer)
        qs = qs.filter(source__in=seen, target__in=seen)
    if item is not None:
        qs = qs.filter(Q(source_id=item) | Q(target_id=item))
    if kind:
        qs = qs.filter(kind__code=kind)
    return qs.order_by("id")


def expiring(today: date, until: date) -> QuerySet[ConfigurationItem]:
    """Items in use whose warranty or licence ends between ``today`` and ``until``."""
    window = Q(warranty_expires__range=(today, until)) | Q(licence_expires__range=(today, until))
    return (
        ConfigurationItem.objects.filter(window)
        .exclude(status=Status.RETIRED)
        .select_related("owner", "team", "team__lead")
        .order_by("id")
    )

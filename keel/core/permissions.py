"""Who may do what, on which records: the one place roles and object scope are enforced.

Permissions (from roles) answer "may this person resolve incidents at all?"; object scope
answers "may they see *this* incident?":

* **own** — records they requested or are named on;
* **department** — records of the departments they manage;
* **team** — records owned by their teams (agents and team leads);
* **all** — every record (change managers, service owners, auditors, administrators).

A model opts in by declaring ``scope = ScopeRules(...)``. Actions call :func:`require`, queries
call :func:`visible`; out-of-scope records are reported as missing (404), never as forbidden,
so their existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, Q, QuerySet

from keel.core.roles import ALL_SCOPE_ROLES, STAFF_ROLES, TEAM_SCOPE_ROLES, Role

M = TypeVar("M", bound=Model)


class NotFound(Exception):
    """The record does not exist, or the person may not know that it does."""

    code = "not_found"


@dataclass(frozen=True)
class ScopeRules:
    """How a model's records relate to people, for object scope.

    ``own``: lookups from the record to users who count as its owners (``"requester"``).
    ``department``: lookup from the record to the department it belongs to.
    ``team``: lookup to the owning team; ``None`` means team-scoped staff see every record.
    """

    own: tuple[str, ...] = ()
    department: str | None = None
    team: str | None = None


def _load_groups(user: Any) -> None:
    """Read the person's roles once (ids for permissions, names for scope)."""
    rows = list(user.groups.values_list("id", "name"))
    user._keel_group_ids = frozenset(gid for gid, _name in rows)
    names = frozenset(name for _gid, name in rows)
    if user.is_superuser:
        names = names | {Role.ADMINISTRATOR.value}
    user._keel_roles = names


def roles_of(user: Any) -> frozenset[str]:
    """The role names a user holds, read once per user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if getattr(user, "_keel_roles", None) is None:
        _load_groups(user)
    return user._keel_roles


def group_ids_of(user: Any) -> frozenset[int]:
    """The ids of the person's roles (groups), read with their names."""
    if getattr(user, "_keel_group_ids", None) is None:
        _load_groups(user)
    return user._keel_group_ids


def has_role(user: Any, *roles: str) -> bool:
    return bool(roles_of(user) & {str(r) for r in roles})


def is_staff_member(user: Any) -> bool:
    """Anyone who works records for others (every role but a plain requester)."""
    return bool(roles_of(user) & {r.value for r in STAFF_ROLES})


def team_ids_of(user: Any) -> frozenset[int]:
    cached = getattr(user, "_keel_team_ids", None)
    if cached is None:
        cached = frozenset(user.memberships.order_by().values_list("team_id", flat=True))
        user._keel_team_ids = cached
    return cached


def managed_department_ids_of(user: Any) -> frozenset[int]:
    cached = getattr(user, "_keel_department_ids", None)
    if cached is None:
        cached = frozenset(user.managed_departments.order_by().values_list("id", flat=True))
        user._keel_department_ids = cached
    return cached


def sees_all(user: Any) -> bool:
    return bool(roles_of(user) & {r.value for r in ALL_SCOPE_ROLES})


def sees_team(user: Any) -> bool:
    return bool(roles_of(user) & {r.value for r in TEAM_SCOPE_ROLES})


def _rules_for(model: type[Model]) -> ScopeRules | None:
    return getattr(model, "scope", None)


def visible(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """The records of ``queryset`` this person may see."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    rules = _rules_for(queryset.model)
    if rules is None or sees_all(user):
        return queryset
    if sees_team(user) and rules.team is None:
        return queryset
    condition = Q()
    for lookup in rules.own:
        condition |= Q(**{lookup: user.pk})
    if rules.department:
        departments = managed_department_ids_of(user)
        if departments:
            condition |= Q(**{f"{rules.department}__in": departments})
    if rules.team and sees_team(user):
        teams = team_ids_of(user)
        if teams:
            condition |= Q(**{f"{rules.team}__in": teams})
    if not condition:
        return queryset.none()
    return queryset.filter(condition)


def _follow(obj: Any, lookup: str) -> Any:
    """The primary key a ``a__b`` lookup reaches from ``obj``, using ``*_id`` where it can."""
    parts = lookup.split("__")
    for part in parts[:-1]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    last = parts[-1]
    if last in {"pk", "id"}:
        return obj.pk
    attname = f"{last}_id"
    if hasattr(obj, attname):
        return getattr(obj, attname)
    value = getattr(obj, last, None)
    return getattr(value, "pk", value)


def can_see(user: Any, obj: Model) -> bool:
    """Whether this record is inside the person's scope (the same rule as :func:`visible`)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    rules = _rules_for(type(obj))
    if rules is None or sees_all(user):
        return True
    if sees_team(user) and rules.team is None:
        return True
    if any(_follow(obj, lookup) == user.pk for lookup in rules.own):
        return True
    if rules.department and _follow(obj, rules.department) in managed_department_ids_of(user):
        return True
    return bool(rules.team and sees_team(user) and _follow(obj, rules.team) in team_ids_of(user))


def require(user: Any, perm: str | None, obj: Model | None = None) -> None:
    """Raise unless ``user`` holds ``perm`` (when given) and ``obj`` is in their scope.

    Out of scope raises :class:`NotFound` (reported as 404); in scope without the permission
    raises ``PermissionDenied`` (403).
    """
    if obj is not None and not can_see(user, obj):
        raise NotFound
    if perm is not None and not (getattr(user, "is_active", False) and user.has_perm(perm)):
        raise PermissionDenied(perm)


def get_visible(queryset: QuerySet[M], user: Any, **lookup: Any) -> M:
    """One record by ``lookup`` from what the person may see; :class:`NotFound` otherwise."""
    try:
        return visible(queryset, user).get(**lookup)
    except ObjectDoesNotExist:
        raise NotFound from None

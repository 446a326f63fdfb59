"""API for people, teams, departments, calendars, tokens and the health check."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import LimitOffsetPagination, paginate

import keel
from keel.core import actions, queries
from keel.core.errors import FieldError
from keel.core.models import ApiToken, Department, Organisation, Team, User
from keel.core.permissions import require
from keel.core.schemas import (
    CalendarDetailOut,
    CalendarOut,
    DepartmentIn,
    DepartmentOut,
    HealthOut,
    MemberIn,
    ProfileIn,
    TeamIn,
    TeamOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserUpdateIn,
)

router = Router(tags=["people"])


def _one(model_or_queryset, pk: int | None, field: str):
    """The referenced record (from a model or a queryset), or a 422 naming the field."""
    if pk is None:
        return None
    queryset = getattr(model_or_queryset, "objects", model_or_queryset)
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        what = queryset.model._meta.verbose_name
        raise FieldError(field, _("No %(what)s with id %(id)s.") % {"what": what, "id": pk})
    return obj


def _many(model, pks: list[int], field: str) -> list:
    found = {o.pk: o for o in model.objects.filter(pk__in=pks)}
    missing = [pk for pk in pks if pk not in found]
    if missing:
        ids = ", ".join(map(str, missing))
        raise FieldError(
            field, _("No %(what)s with id %(id)s.") % {"what": model._meta.verbose_name, "id": ids}
        )
    return [found[pk] for pk in pks]


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut}, tags=["system"])
def health(request: HttpRequest):
    """Database and background-worker status, for load balancers and monitoring."""
    db_ok, db_detail = queries.database_health()
    worker_ok, worker_detail = queries.worker_health() if db_ok else (False, "database unreachable")
    status = "ok" if db_ok and worker_ok else ("degraded" if db_ok else "down")
    body = {
        "status": status,
        "version": keel.__version__,
        "database": {"ok": db_ok, "detail": db_detail},
        "worker": {"ok": worker_ok, "detail": worker_detail},
    }
    return Status(200 if db_ok else 503, body)


@router.get("/me", response=UserOut)
def me(request: HttpRequest):
    return queries.user_for(request.user, request.user.pk)


@router.patch("/me", response=UserOut)
def update_me(request: HttpRequest, payload: ProfileIn):
    actions.update_user(actor=request.user, user=request.user, **payload.dict(exclude_unset=True))
    return queries.user_for(request.user, request.user.pk)


@router.get("/users", response=list[UserOut])
@paginate(LimitOffsetPagination)
def list_users(
    request: HttpRequest,
    q: str = "",
    team: int | None = None,
    department: int | None = None,
    role: str = "",
):
    return queries.users_for(request.user, q=q, team=team, department=department, role=role)


@router.get("/users/{user_id}", response=UserOut)
def get_user(request: HttpRequest, user_id: int):
    return queries.user_for(request.user, user_id)


@router.post("/users", response={201: UserOut})
def create_user(request: HttpRequest, payload: UserIn):
    """Create a person (administrators). Without a password the account cannot log in yet."""
    require(request.user, "core.add_user")
    user = actions.create_user(
        actor=request.user,
        username=payload.username,
        email=payload.email or "",
        name=payload.name,
        password=payload.password,
        roles=payload.roles,
        department=_one(Department, payload.department, "department"),
        teams=_many(Team, payload.teams, "teams"),
        phone=payload.phone,
        language=payload.language,
        time_zone=payload.time_zone,
        manager=_one(User, payload.manager, "manager"),
    )
    return Status(201, queries.user_for(request.user, user.pk))


@router.patch("/users/{user_id}", response=UserOut)
def update_user(request: HttpRequest, user_id: int, payload: UserUpdateIn):
    user = queries.user_for(request.user, user_id)
    values = payload.dict(exclude_unset=True)
    roles = values.pop("roles", None)
    if "department" in values:
        values["department"] = _one(Department, values["department"], "department")
    if "manager" in values:
        values["manager"] = _one(User, values["manager"], "manager")
    with transaction.atomic():
        actions.update_user(actor=request.user, user=user, **values)
        if roles is not None:
            actions.set_roles(actor=request.user, user=user, roles=roles)
    return queries.user_for(request.user, user_id)


@router.get("/roles", response=list[str])
def list_roles(request: HttpRequest):
    require(request.user, "core.view_user")
    return list(Group.objects.order_by("name").values_list("name", flat=True))


@router.get("/teams", response=list[TeamOut], tags=["teams"])
def list_teams(request: HttpRequest):
    require(request.user, "core.view_team")
    return queries.teams()


@router.get("/teams/{team_id}", response=TeamOut, tags=["teams"])
def get_team(request: HttpRequest, team_id: int):
    require(request.user, "core.view_team")
    return get_object_or_404(queries.teams(), pk=team_id)


@router.post("/teams", response={201: TeamOut}, tags=["teams"])
def create_team(request: HttpRequest, payload: TeamIn):
    from keel.core.models import BusinessCalendar

    require(request.user, "core.add_team")
    team = actions.create_team(
        actor=request.user,
        name=payload.name,
        code=payload.code,
        email=payload.email or "",
        description=payload.description,
        lead=_one(User, payload.lead, "lead"),
        members=_many(User, payload.members, "members"),
        calendar=_one(BusinessCalendar, payload.calendar, "calendar"),
        next_level=_one(Team, payload.next_level, "next_level"),
    )
    return Status(201, get_object_or_404(queries.teams(), pk=team.pk))


@router.post("/teams/{team_id}/members", response={201: TeamOut}, tags=["teams"])
def add_member(request: HttpRequest, team_id: int, payload: MemberIn):
    team = get_object_or_404(Team, pk=team_id)
    actions.add_team_member(actor=request.user, team=team, user=_one(User, payload.user, "user"))
    return Status(201, get_object_or_404(queries.teams(), pk=team_id))


@router.delete("/teams/{team_id}/members/{user_id}", response={204: None}, tags=["teams"])
def remove_member(request: HttpRequest, team_id: int, user_id: int):
    team = get_object_or_404(Team, pk=team_id)
    actions.remove_team_member(
        actor=request.user, team=team, user=get_object_or_404(User, pk=user_id)
    )
    return Status(204, None)


@router.get("/departments", response=list[DepartmentOut], tags=["organisation"])
def list_departments(request: HttpRequest):
    require(request.user, "core.view_department")
    return queries.departments()


@router.post("/departments", response={201: DepartmentOut}, tags=["organisation"])
def create_department(request: HttpRequest, payload: DepartmentIn):
    require(request.user, "core.add_department")
    organisation = (
        _one(Organisation, payload.organisation, "organisation") or Organisation.objects.first()
    )
    if organisation is None:
        raise FieldError("organisation", "Create an organisation first.")
    department = actions.create_department(
        actor=request.user,
        organisation=organisation,
        name=payload.name,
        code=payload.code,
        parent=_one(Department, payload.parent, "parent"),
        manager=_one(User, payload.manager, "manager"),
    )
    return Status(201, department)


@router.get("/calendars", response=list[CalendarOut], tags=["calendars"])
def list_calendars(request: HttpRequest):
    require(request.user, "core.view_businesscalendar")
    return queries.calendars()


@router.get("/calendars/{calendar_id}", response=CalendarDetailOut, tags=["calendars"])
def get_calendar(request: HttpRequest, calendar_id: int):
    require(request.user, "core.view_businesscalendar")
    return get_object_or_404(queries.calendars().prefetch_related("days"), pk=calendar_id)


@router.get("/tokens", response=list[TokenOut], tags=["tokens"])
def list_tokens(request: HttpRequest):
    """Your own API tokens (the secret itself is never shown again)."""
    return queries.tokens_of(request.user)


@router.post("/tokens", response={201: TokenCreatedOut}, tags=["tokens"])
def create_token(request: HttpRequest, payload: TokenIn):
    token, raw = actions.create_api_token(
        actor=request.user, user=request.user, name=payload.name, expires_at=payload.expires_at
    )
    token.token = raw
    return Status(201, token)


@router.delete("/tokens/{token_id}", response={204: None}, tags=["tokens"])
def revoke_token(request: HttpRequest, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    actions.revoke_api_token(actor=request.user, token=token)
    return Status(204, None)

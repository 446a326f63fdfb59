"""Every change to people, teams, departments and API tokens.

Each action is one transaction: it checks permission, validates, writes, and records one audit
event. Pages, the API, the admin and commands call these; nothing else writes these tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.core import audit, calendars, tokens
from keel.core.calendar import CalendarSpec
from keel.core.errors import Conflict, FieldError
from keel.core.models import (
    ApiToken,
    Department,
    Language,
    Team,
    TeamMembership,
    User,
    validate_time_zone,
)
from keel.core.permissions import require
from keel.core.roles import Role

USER_FIELDS = [
    "username",
    "email",
    "name",
    "phone",
    "language",
    "time_zone",
    "department",
    "manager",
    "is_active",
]
SYSTEM_USERNAME = "keel-system"


def system_user() -> User:
    """The account scheduled tasks and imports act as, so every audit event names an actor."""
    user, _created = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        # A superuser so scheduled work is never refused, but with no password and no way in:
        # session and token authentication both turn system accounts away.
        defaults={"name": "Keel", "is_system": True, "is_active": True, "is_superuser": True},
    )
    if _created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _validate_roles(roles: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(roles))
    valid = {r.value for r in Role}
    unknown = [r for r in roles if r not in valid]
    if unknown:
        raise FieldError(
            "roles",
            _("Unknown role(s): %(roles)s. Choose from: %(valid)s.")
            % {"roles": ", ".join(unknown), "valid": ", ".join(sorted(valid))},
        )
    return roles


def _validate_profile(
    *, email: str | None, language: str | None, time_zone: str | None, errors: list[tuple[str, Any]]
) -> None:
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(("email", _("Enter a valid e-mail address.")))
    if language is not None and language not in Language.values:
        errors.append(("language", _("Choose English (en) or Simplified Chinese (zh-hans).")))
    if time_zone is not None:
        try:
            validate_time_zone(time_zone)
        except ValidationError:
            errors.append(("time_zone", _("Unknown time zone; use a name such as Asia/Shanghai.")))


def _is_valid_username(username: str) -> bool:
    """The rule the API schema and the sign-in form apply (letters, digits and @.+-_)."""
    try:
        User.username_validator(username)
    except ValidationError:
        return False
    return True


@transaction.atomic
def create_user(
    *,
    actor: User,
    username: str,
    email: str = "",
    name: str = "",
    password: str | None = None,
    roles: Iterable[str] = (Role.REQUESTER,),
    department: Department | None = None,
    teams: Iterable[Team] = (),
    phone: str = "",
    language: str = Language.ENGLISH,
    time_zone: str = "UTC",
    manager: User | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a person with roles, department and teams.

    Without a password the account cannot log in until one is set. Requires ``core.add_user``.
    """
    require(actor, "core.add_user")
    errors: list[tuple[str, Any]] = []
    username = (username or "").strip()
    if not username:
        errors.append(("username", _("This field is required.")))
    elif len(username) > 150:
        errors.append(("username", _("Use at most 150 characters.")))
    elif not _is_valid_username(username):
        errors.append(("username", _("Use only letters, digits and @ . + - _ (no spaces).")))
    elif User.objects.filter(username__iexact=username).exists():
        raise Conflict(
            _("A user named %(username)s already exists.") % {"username": username},
            errors=[("username", _("This user name is taken."))],
        )
    _validate_profile(email=email, language=language, time_zone=time_zone, errors=errors)
    role_names = _validate_roles(roles)
    candidate = User(username=username, email=email, name=name)
    if password:
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            errors.append(("password", " ".join(exc.messages)))
    if errors:
        raise FieldError(errors=errors)
    user = User(
        username=username,
        email=email,
        name=name,
        phone=phone,
        language=language,
        time_zone=time_zone,
        department=department,
        manager=manager,
        is_superuser=is_superuser,
        is_staff=is_superuser or Role.ADMINISTRATOR in role_names,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.groups.set(Group.objects.filter(name__in=role_names))
    team_list = list(teams)
    TeamMembership.objects.bulk_create([TeamMembership(team=t, user=user) for t in team_list])
    audit.record(
        actor,
        "user.created",
        user,
        changes={
            **{f: [None, v] for f, v in audit.snapshot(user, USER_FIELDS).items()},
            "roles": [None, sorted(role_names)],
            "teams": [None, sorted(t.pk for t in team_list)],
        },
    )
    return user


@transaction.atomic
def update_user(*, actor: User, user: User, **values: Any) -> User:
    """Change a person's profile (the person themselves, or an administrator)."""
    own_fields = {"name", "email", "phone", "language", "time_zone"}
    if actor.pk != user.pk or set(values) - own_fields:
        require(actor, "core.change_user")
    unknown = set(values) - set(USER_FIELDS)
    if unknown:
        raise FieldError(
            errors=[(f, _("This field cannot be changed here.")) for f in sorted(unknown)]
        )
    errors: list[tuple[str, Any]] = []
    _validate_profile(
        email=values.get("email"),
        language=values.get("language"),
        time_zone=values.get("time_zone"),
        errors=errors,
    )
    if "manager" in values and values["manager"] is not None and values["manager"].pk == user.pk:
        errors.append(("manager", _("A person cannot be their own manager.")))
    if errors:
        raise FieldError(errors=errors)
    before = audit.snapshot(user, USER_FIELDS)
    for field, value in values.items():
        setattr(user, field, value)
    changes = audit.diff(user, before, USER_FIELDS)
    if changes:
        user.save(update_fields=[f for f in values if f in changes])
        audit.record(actor, "user.updated", user, changes=changes)
    return user


@transaction.atomic
def set_roles(*, actor: User, user: User, roles: Iterable[str], reason: str = "") -> User:
    """Replace a person's roles. Requires ``core.change_user``."""
    require(actor, "core.change_user")
    role_names = _validate_roles(roles)
    before = sorted(user.groups.values_list("name", flat=True))
    user.groups.set(Group.objects.filter(name__in=role_names))
    if sorted(role_names) != before:
        audit.record(
            actor,
            "user.roles_changed",
            user,
            changes={"roles": [before, sorted(role_names)]},
            reason=reason,
        )
    # The roles and permissions this object had read are stale now.
    for cached in ("_keel_roles", "_keel_group_ids", "_perm_cache"):
        user.__dict__.pop(cached, None)
    return user


@transaction.atomic
def create_team(
    *,
    actor: User,
    name: str,
    code: str,
    lead: User | None = None,
    members: Iterable[User] = (),
    email: str = "",
    description: str = "",
    calendar: Any = None,
    next_level: Team | None = None,
) -> Team:
    """Create a support group. Requires ``core.add_team``."""
    require(actor, "core.add_team")
    errors: list[tuple[str, Any]] = []
    if not name.strip():
        errors.append(("name", _("This field is required.")))
    if not code.strip():
        errors.append(("code", _("This field is required.")))
    if errors:
        raise FieldError(errors=errors)
    if Team.objects.filter(code=code).exists() or Team.objects.filter(name=name).exists():
        raise Conflict(
            _("A team with this name or code already exists."),
            errors=[("code", _("Already in use."))],
        )
    team = Team.objects.create(
        name=name.strip(),
        code=code.strip(),
        lead=lead,
        email=email,
        description=description,
        calendar=calendar,
        next_level=next_level,
    )
    member_list = list(dict.fromkeys([*members, *([lead] if lead else [])]))
    TeamMembership.objects.bulk_create([TeamMembership(team=team, user=u) for u in member_list])
    audit.record(
        actor,
        "team.created",
        team,
        changes={
            "name": [None, team.name],
            "lead": [None, getattr(lead, "pk", None)],
            "members": [None, sorted(u.pk for u in member_list)],
        },
    )
    return team


def _require_team_manager(actor: User, team: Team) -> None:
    """Administrators manage every team; a team lead manages their own."""
    if team.lead_id == actor.pk and actor.has_perm("core.change_team"):
        return
    require(actor, "core.change_team")
    from keel.core.permissions import has_role

    if not has_role(actor, Role.ADMINISTRATOR):
        # Forbidden (403), not invalid: another team's lead may not change this team.
        raise PermissionDenied(_("Only the team lead or an administrator can change this team."))


@transaction.atomic
def add_team_member(*, actor: User, team: Team, user: User) -> TeamMembership:
    _require_team_manager(actor, team)
    membership, created = TeamMembership.objects.get_or_create(team=team, user=user)
    if created:
        audit.record(actor, "team.member_added", team, changes={"members": [None, user.pk]})
    return membership


@transaction.atomic
def remove_team_member(*, actor: User, team: Team, user: User) -> None:
    _require_team_manager(actor, team)
    deleted, _rows = TeamMembership.objects.filter(team=team, user=user).delete()
    if deleted:
        audit.record(actor, "team.member_removed", team, changes={"members": [user.pk, None]})


@transaction.atomic
def create_department(
    *,
    actor: User,
    organisation: Any,
    name: str,
    code: str,
    parent: Department | None = None,
    manager: User | None = None,
) -> Department:
    require(actor, "core.add_department")
    if not name.strip():
        raise FieldError("name", _("This field is required."))
    if Department.objects.filter(organisation=organisation, code=code).exists():
        raise Conflict(
            _("A department with this code already exists."),
            errors=[("code", _("Already in use."))],
        )
    department = Department.objects.create(
        organisation=organisation, name=name.strip(), code=code, parent=parent, manager=manager
    )
    audit.record(actor, "department.created", department, changes={"name": [None, department.name]})
    return department


@transaction.atomic
def create_api_token(
    *, actor: User, user: User, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new API token for ``user``; returns the record and the raw token (shown only once).

    People create their own; administrators (``core.change_user``) create them for others.
    """
    if actor.pk != user.pk:
        require(actor, "core.change_user")
    if user.is_system or not user.is_active:
        raise FieldError("user", _("This account cannot hold API tokens."))
    raw, prefix = tokens.generate()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        key_hash=tokens.hash_token(raw),
        expires_at=expires_at,
    )
    audit.record(
        actor,
        "api_token.created",
        token,
        object_repr=f"{prefix}… ({user.username})",
        changes={"user": [None, user.pk], "name": [None, name]},
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken, reason: str = "") -> ApiToken:
    if actor.pk != token.user_id:
        require(actor, "core.change_user")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor, "api_token.revoked", token, object_repr=f"{token.prefix}…", reason=reason
        )
    return token


@transaction.atomic
def create_calendar(
    *,
    actor: User,
    name: str,
    time_zone: str = "UTC",
    periods: Iterable[tuple[int, Any, Any]] = (),
    country: str = "",
    description: str = "",
) -> Any:
    """A business calendar with its weekly working periods ``(weekday, start, end)``."""
    from keel.core.models import BusinessCalendar, WorkingPeriod

    require(actor, "core.add_businesscalendar")
    errors: list[tuple[str, Any]] = []
    if not name.strip():
        errors.append(("name", _("This field is required.")))
    elif BusinessCalendar.objects.filter(name=name.strip()).exists():
        raise Conflict(
            _("A calendar with this name already exists."), errors=[("name", _("Already in use."))]
        )
    try:
        validate_time_zone(time_zone)
    except ValidationError:
        errors.append(("time_zone", _("Unknown time zone; use a name such as Asia/Shanghai.")))
    period_list = list(periods)
    if not errors:
        try:
            CalendarSpec.from_periods(time_zone, period_list)
        except ValueError as exc:
            errors.append(("periods", str(exc)))
    if errors:
        raise FieldError(errors=errors)
    calendar = BusinessCalendar.objects.create(
        name=name.strip(), time_zone=time_zone, country=country.upper(), description=description
    )
    WorkingPeriod.objects.bulk_create(
        [WorkingPeriod(calendar=calendar, weekday=d, start=s, end=e) for d, s, e in period_list]
    )
    transaction.on_commit(partial(calendars.invalidate, calendar.pk))
    audit.record(
        actor,
        "calendar.created",
        calendar,
        changes={
            "name": [None, calendar.name],
            "time_zone": [None, time_zone],
            "periods": [None, [[d, str(s), str(e)] for d, s, e in period_list]],
        },
    )
    return calendar


@transaction.atomic
def create_organisation(
    *, actor: User, name: str, code: str, time_zone: str = "UTC", calendar: Any = None
) -> Any:
    from keel.core.models import Organisation

    require(actor, "core.add_organisation")
    try:
        validate_time_zone(time_zone)
    except ValidationError:
        raise FieldError(
            "time_zone", _("Unknown time zone; use a name such as Asia/Shanghai.")
        ) from None
    if Organisation.objects.filter(code=code).exists():
        raise Conflict(
            _("An organisation with this code already exists."),
            errors=[("code", _("Already in use."))],
        )
    organisation = Organisation.objects.create(
        name=name, code=code, time_zone=time_zone, calendar=calendar
    )
    audit.record(
        actor,
        "organisation.created",
        organisation,
        changes={"name": [None, name], "time_zone": [None, time_zone]},
    )
    return organisation


@transaction.atomic
def set_department_manager(
    *, actor: User, department: Department, manager: User | None
) -> Department:
    """Name the person who manages a department; they see its members' records."""
    require(actor, "core.change_department")
    before = department.manager_id
    if before != getattr(manager, "pk", None):
        department.manager = manager
        department.save(update_fields=["manager"])
        audit.record(
            actor,
            "department.manager_changed",
            department,
            changes={"manager": [before, department.manager_id]},
        )
    return department

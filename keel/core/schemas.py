"""API shapes for people, teams, departments, calendars and tokens."""

from __future__ import annotations

from datetime import date, datetime, time

from ninja import Field, Schema
from pydantic import EmailStr, field_validator

from keel.core.roles import Role


class DepartmentOut(Schema):
    id: int
    name: str
    code: str
    organisation_id: int
    parent_id: int | None
    manager_id: int | None


class DepartmentIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    organisation: int | None = None
    parent: int | None = None
    manager: int | None = None


class TeamRef(Schema):
    id: int
    name: str
    code: str


class UserOut(Schema):
    id: int
    username: str
    name: str
    email: str
    phone: str
    language: str
    time_zone: str
    department_id: int | None
    manager_id: int | None
    is_active: bool
    roles: list[str]
    teams: list[TeamRef]

    @staticmethod
    def resolve_roles(obj) -> list[str]:
        return sorted(g.name for g in obj.groups.all())

    @staticmethod
    def resolve_teams(obj) -> list[TeamRef]:
        return sorted(obj.teams.all(), key=lambda t: t.name)


class UserIn(Schema):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    email: EmailStr | None = None
    name: str = Field("", max_length=200)
    password: str | None = Field(None, max_length=128)
    roles: list[str] = Field(default_factory=lambda: [Role.REQUESTER.value])
    department: int | None = None
    teams: list[int] = Field(default_factory=list)
    phone: str = Field("", max_length=40)
    language: str = "en"
    time_zone: str = "UTC"
    manager: int | None = None

    @field_validator("roles")
    @classmethod
    def known_roles(cls, value: list[str]) -> list[str]:
        valid = {r.value for r in Role}
        unknown = [r for r in value if r not in valid]
        if unknown:
            raise ValueError(
                f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(sorted(valid))}"
            )
        return value


class ProfileIn(Schema):
    name: str | None = Field(None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=40)
    language: str | None = None
    time_zone: str | None = Field(None, max_length=64)


class UserUpdateIn(ProfileIn):
    department: int | None = None
    manager: int | None = None
    is_active: bool | None = None
    roles: list[str] | None = None


class MemberOut(Schema):
    id: int
    username: str
    name: str


class TeamOut(Schema):
    id: int
    name: str
    code: str
    email: str
    description: str
    lead_id: int | None
    calendar_id: int | None
    next_level_id: int | None
    is_active: bool
    members: list[MemberOut]

    @staticmethod
    def resolve_members(obj) -> list[MemberOut]:
        return sorted(obj.members.all(), key=lambda u: (u.name, u.username))


class TeamIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    email: EmailStr | None = None
    description: str = ""
    lead: int | None = None
    members: list[int] = Field(default_factory=list)
    calendar: int | None = None
    next_level: int | None = None


class MemberIn(Schema):
    user: int


class PeriodOut(Schema):
    weekday: int
    start: time
    end: time


class DayOut(Schema):
    date: date
    kind: str
    name: str


class CalendarOut(Schema):
    id: int
    name: str
    time_zone: str
    country: str
    description: str
    periods: list[PeriodOut]


class CalendarDetailOut(CalendarOut):
    days: list[DayOut]


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class TokenIn(Schema):
    name: str = Field("", max_length=100)
    expires_at: datetime | None = None


class HealthPart(Schema):
    ok: bool
    detail: str


class HealthOut(Schema):
    status: str
    version: str
    database: HealthPart
    worker: HealthPart

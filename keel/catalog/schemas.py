"""API shapes for services and their service-level targets, categories and the priority matrix."""

from __future__ import annotations

from typing import Annotated

from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict

from keel.catalog import queries
from keel.catalog.models import Criticality
from keel.catalog.priority import PRIORITY_LABELS, parse_priority


class TeamRef(Schema):
    id: int
    name: str
    code: str


class CalendarRef(Schema):
    id: int
    name: str
    time_zone: str


class OwnerRef(Schema):
    id: int
    username: str
    name: str


class TargetOut(Schema):
    """Business minutes to respond and to resolve; ``source`` says whose target it is."""

    respond_minutes: int
    resolve_minutes: int
    source: str = Field(description="`service` (its own target) or `default`.")


class ServiceOut(Schema):
    id: int
    name: str
    code: str
    description: str
    criticality: str
    is_active: bool
    in_portal: bool
    team: TeamRef
    calendar: CalendarRef | None
    owner: OwnerRef | None
    targets: dict[str, TargetOut] = Field(
        description="The effective targets per priority (P1…P5): the service's own or the defaults."
    )

    @staticmethod
    def resolve_targets(obj) -> dict[str, dict]:
        own = {t.priority: t for t in obj.targets.all()}  # prefetched with the service
        targets = {}
        for priority in PRIORITY_LABELS:
            if priority in own:
                respond, resolve = own[priority].respond_minutes, own[priority].resolve_minutes
                source = "service"
            else:
                respond, resolve = queries.targets_for(None, priority)
                source = "default"
            targets[f"P{priority}"] = {
                "respond_minutes": respond,
                "resolve_minutes": resolve,
                "source": source,
            }
        return targets


class TargetIn(Schema):
    respond_minutes: int
    resolve_minutes: int


def _priority_keys(value: dict[str, TargetIn]) -> dict[str, TargetIn]:
    for key in value:
        try:
            parse_priority(key)
        except ValueError:
            raise ValueError(f"unknown priority {key!r}; use P1 to P5") from None
    return value


Targets = Annotated[dict[str, TargetIn], AfterValidator(_priority_keys)]


class ServiceIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    name: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    description: str = ""
    team: int
    owner: int | None = None
    calendar: int | None = None
    criticality: Criticality = Criticality.MEDIUM
    in_portal: bool = True
    targets: Targets | None = Field(
        None, description='Per priority: `{"P1": {"respond_minutes": 15, "resolve_minutes": 240}}`.'
    )


class ServiceUpdateIn(Schema):
    model_config = ConfigDict(use_enum_values=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    code: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    description: str | None = None
    team: int | None = None
    owner: int | None = None
    calendar: int | None = None
    criticality: Criticality | None = None
    in_portal: bool | None = None
    is_active: bool | None = None
    targets: Targets | None = None


def targets_of(payload: dict[str, TargetIn] | None) -> dict[int, tuple[int, int]]:
    """``{"P1": {…}}`` from a request body as the ``{1: (respond, resolve)}`` the action takes."""
    return {
        parse_priority(key): (target.respond_minutes, target.resolve_minutes)
        for key, target in (payload or {}).items()
    }


class CategoryOut(Schema):
    id: int
    name: str
    code: str
    parent_id: int | None
    path: str = Field(description="The full path from the root, e.g. `Hardware › Laptop`.")


class LevelOut(Schema):
    level: int
    label: str
    help: str


class PriorityOut(Schema):
    priority: str
    label: str


class RuleOut(Schema):
    impact: int
    urgency: int
    priority: str


class PriorityMatrixOut(Schema):
    levels: int = Field(description="Impact and urgency run from 1 (highest) to this level.")
    impact: list[LevelOut]
    urgency: list[LevelOut]
    priorities: list[PriorityOut]
    rules: list[RuleOut]

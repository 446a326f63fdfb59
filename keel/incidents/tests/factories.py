"""Incidents for tests, recorded through the real action so numbers, deadlines and audit are real."""

from __future__ import annotations

from typing import Any

from keel.catalog.tests.factories import ServiceFactory
from keel.core.models import TeamMembership
from keel.core.roles import Role
from keel.core.tests.factories import UserFactory
from keel.incidents import actions
from keel.incidents.models import Incident


def agent_in(team, **fields) -> Any:
    """An agent who is a member of ``team``."""
    agent = UserFactory(roles=[Role.AGENT.value], **fields)
    TeamMembership.objects.create(team=team, user=agent)
    return agent


def open_incident(
    *,
    requester=None,
    service=None,
    impact: int = 2,
    urgency: int = 2,
    title: str = "Laptop does not start",
    **extra: Any,
) -> Incident:
    """An incident reported by ``requester`` (a new requester by default) on ``service``."""
    requester = requester or UserFactory(roles=[Role.REQUESTER.value])
    service = service or ServiceFactory()
    return actions.open_incident(
        actor=extra.pop("actor", requester),
        requester=requester,
        title=title,
        description=extra.pop("description", "It shows a black screen after the logo."),
        service=service,
        impact=impact,
        urgency=urgency,
        **extra,
    )

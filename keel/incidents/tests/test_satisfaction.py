"""Ratings feed a satisfaction figure per service and per team (page and API)."""

from __future__ import annotations

import pytest

from keel.catalog.tests.factories import ServiceFactory
from keel.incidents import actions
from keel.incidents.tests.factories import agent_in, open_incident

pytestmark = pytest.mark.django_db


def _rated(service, agent, rating: int):
    incident = open_incident(service=service)
    incident = actions.resolve(
        actor=agent, incident=incident, code="fixed", notes="Replaced the cable."
    )
    return actions.confirm(actor=incident.requester, incident=incident, rating=rating, comment="")


@pytest.fixture
def rated_service():
    service = ServiceFactory(name="E-mail")
    agent = agent_in(service.team)
    _rated(service, agent, 5)
    _rated(service, agent, 2)
    return service, agent


def test_agent_sees_the_average_rating_per_service_and_team(rated_service, client_for):
    service, agent = rated_service

    page = client_for(agent).get("/incidents/satisfaction/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "E-mail" in body
    assert "3.50" in body
    assert service.team.name in body


def test_requester_cannot_see_satisfaction_figures(requester, client_for):
    assert client_for(requester).get("/incidents/satisfaction/").status_code == 403


def test_api_reports_satisfaction_by_team(rated_service, client_for):
    service, agent = rated_service

    rows = client_for(agent).get("/api/v1/incidents/satisfaction?by=team").json()

    assert rows == [
        {"id": service.team_id, "name": service.team.name, "average": 3.5, "ratings": 2}
    ]


def test_api_refuses_an_unknown_grouping(rated_service, client_for):
    _service, agent = rated_service

    response = client_for(agent).get("/api/v1/incidents/satisfaction?by=colour")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "by"


def test_requester_cannot_read_satisfaction_through_the_api(requester, client_for):
    assert client_for(requester).get("/api/v1/incidents/satisfaction").status_code == 403

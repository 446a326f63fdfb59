"""API calls with a bearer token skip the browser's middleware; everything else keeps all of it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from keel.core import actions, tokens

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


@pytest.fixture(autouse=True)
def _empty_token_cache():
    tokens.forget()
    yield
    tokens.forget()


def session_reads(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "django_session" in q["sql"]]


def test_a_token_call_with_a_session_cookie_does_not_load_the_session(
    requester, administrator, client_for
):
    _token, raw = actions.create_api_token(actor=requester, user=requester)
    client = client_for(administrator)  # a signed-in browser's session cookie comes along
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"

    with CaptureQueriesContext(connection) as captured:
        response = client.get(ME)

    assert response.status_code == 200
    assert response.json()["id"] == requester.pk
    assert session_reads(captured) == []


def test_a_browser_call_to_the_api_still_uses_its_session(administrator, client_for):
    client = client_for(administrator)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(ME)

    assert response.status_code == 200
    assert response.json()["id"] == administrator.pk
    assert len(session_reads(captured)) == 1


def test_a_token_write_needs_no_csrf_token_and_a_session_write_still_does(
    administrator, client_for
):
    _token, raw = actions.create_api_token(actor=administrator, user=administrator)
    body = {"name": "Night shift", "code": "night"}
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(administrator)

    by_token = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"}).post(
        "/api/v1/teams", body, content_type="application/json"
    )
    by_session = browser.post("/api/v1/teams", body, content_type="application/json")

    assert by_token.status_code == 201
    assert by_session.status_code == 403


def test_a_token_call_keeps_the_security_headers_request_id_and_language(requester):
    _token, raw = actions.create_api_token(actor=requester, user=requester)

    response = Client(
        headers={
            "Authorization": f"Bearer {raw}",
            "X-Request-ID": "trace-42",
            "Accept-Language": "zh-hans",
        }
    ).get(ME)

    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-42"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Language"] == "zh-hans"
    # JSON loads nothing and no page may frame it: the strictest policy, the same every time.
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_bad_token_is_refused_in_the_callers_language():
    response = Client(
        headers={"Authorization": "Bearer keel_nope_nope", "Accept-Language": "zh-hans"}
    ).get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="keel"'
    assert "Authentication required" not in response.json()["detail"]


def test_a_token_call_is_answered_in_utc_whatever_the_thread_served_before(
    make_user, client_for, requester
):
    from keel.core.roles import Role
    from keel.incidents.tests.factories import open_incident

    shanghai = make_user(Role.REQUESTER, time_zone="Asia/Shanghai")
    incident = open_incident(requester=requester)
    _token, raw = actions.create_api_token(actor=requester, user=requester)
    client_for(shanghai).get(ME)  # activates Shanghai time in this thread

    response = Client(headers={"Authorization": f"Bearer {raw}"}).get(
        f"/api/v1/incidents/{incident.number}"
    )

    assert response.status_code == 200
    assert response.json()["created_at"].endswith("+00:00")

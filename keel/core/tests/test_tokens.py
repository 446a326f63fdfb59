"""API bearer tokens: shown once, stored as a hash, revocable, and acting as exactly their user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from keel.core import actions, tokens
from keel.core.errors import FieldError
from keel.core.models import ApiToken, AuditEvent
from keel.core.roles import Role

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def bearer(raw: str, **kwargs) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"}, **kwargs)


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="keel"'
    body = response.json()
    assert body["detail"]
    assert body["errors"] == []


@pytest.fixture
def issued(requester):
    """A requester's token and the raw secret shown to them once."""
    return actions.create_api_token(actor=requester, user=requester, name="laptop script")


# Creating


def test_created_token_is_returned_raw_with_the_keel_prefix(issued):
    token, raw = issued

    assert raw.startswith(f"keel_{token.prefix}_")
    assert len(raw) > 40


def test_only_a_hash_of_the_token_is_stored(issued):
    token, raw = issued

    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == tokens.hash_token(raw)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}


def test_every_token_is_different(requester):
    raws = {actions.create_api_token(actor=requester, user=requester)[1] for _ in range(5)}

    assert len(raws) == 5


def test_creating_a_token_is_audited_without_the_secret(issued):
    token, raw = issued

    event = AuditEvent.objects.get(action="api_token.created")
    assert event.object_id == str(token.pk)
    assert raw not in str(event.changes) + event.object_repr


def test_api_shows_a_new_token_once_and_never_again(client_for, requester):
    client = client_for(requester)

    created = client.post("/api/v1/tokens", {"name": "ci"}, content_type="application/json")
    listed = client.get("/api/v1/tokens")

    assert created.status_code == 201
    assert created.json()["token"].startswith("keel_")
    assert [t["name"] for t in listed.json()] == ["ci"]
    assert "token" not in listed.json()[0]


def test_person_cannot_create_a_token_for_someone_else(requester, make_user):
    with pytest.raises(PermissionDenied):
        actions.create_api_token(actor=requester, user=make_user(Role.REQUESTER))


def test_administrator_can_create_a_token_for_someone_else(administrator, requester):
    token, _raw = actions.create_api_token(actor=administrator, user=requester)

    assert token.user == requester


def test_system_account_cannot_hold_a_token(administrator, system_actor):
    with pytest.raises(FieldError) as refused:
        actions.create_api_token(actor=administrator, user=system_actor)

    assert refused.value.errors[0][0] == "user"


# Authenticating


def test_token_authenticates_as_its_user(issued, requester):
    _token, raw = issued

    response = bearer(raw).get(ME)

    assert response.status_code == 200
    assert response.json()["username"] == requester.username


def test_using_a_token_records_when_it_was_last_used(issued):
    token, raw = issued

    bearer(raw).get(ME)

    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_revoked_token_is_refused(issued, requester):
    token, raw = issued
    actions.revoke_api_token(actor=requester, token=token)

    assert_unauthenticated(bearer(raw).get(ME))


def test_expired_token_is_refused(requester):
    _token, raw = actions.create_api_token(
        actor=requester, user=requester, expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert_unauthenticated(bearer(raw).get(ME))


def test_token_before_its_expiry_is_accepted(requester):
    _token, raw = actions.create_api_token(
        actor=requester, user=requester, expires_at=timezone.now() + timedelta(days=1)
    )

    assert bearer(raw).get(ME).status_code == 200


def test_unknown_token_is_refused(issued):
    _token, raw = issued

    assert_unauthenticated(bearer(raw[:-4] + "AAAA").get(ME))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer not-a-keel-token", id="foreign-token"),
        pytest.param("Bearer keel_" + "x" * 300, id="overlong"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic-auth"),
        pytest.param("keel_abc", id="no-scheme"),
    ],
)
def test_malformed_authorization_is_refused(header):
    response = Client(headers={"Authorization": header}).get(ME)

    assert_unauthenticated(response)


def test_token_of_a_deactivated_person_is_refused(issued, requester):
    _token, raw = issued
    requester.is_active = False
    requester.save(update_fields=["is_active"])

    assert_unauthenticated(bearer(raw).get(ME))


def test_token_revoked_through_the_api_stops_working(issued):
    token, raw = issued
    client = bearer(raw)

    revoked = client.delete(f"/api/v1/tokens/{token.pk}")

    assert revoked.status_code == 204
    assert_unauthenticated(client.get(ME))


def test_person_cannot_revoke_someone_elses_token_through_the_api(issued, client_for, make_user):
    token, raw = issued

    response = client_for(make_user(Role.REQUESTER)).delete(f"/api/v1/tokens/{token.pk}")

    assert response.status_code == 404
    assert bearer(raw).get(ME).status_code == 200


# Acting with exactly the user's permissions


def test_requesters_token_cannot_create_people(issued):
    _token, raw = issued

    response = bearer(raw).post(
        "/api/v1/users", {"username": "newcomer"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["errors"] == []


def test_requesters_token_sees_only_its_user(issued, make_user, requester):
    _token, raw = issued
    make_user(Role.REQUESTER)

    response = bearer(raw).get("/api/v1/users")

    assert [u["id"] for u in response.json()["items"]] == [requester.pk]


def test_administrators_token_can_write_without_a_csrf_token(administrator, token_client_for):
    client = token_client_for(administrator, enforce_csrf_checks=True)

    response = client.post(
        "/api/v1/users", {"username": "scripted"}, content_type="application/json"
    )

    assert response.status_code == 201

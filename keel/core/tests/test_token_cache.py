"""Each process remembers what a token resolved to for a few seconds, and forgets at once when the
token, its person or their roles change here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from keel.core import actions, tokens
from keel.core.models import ApiToken
from keel.core.roles import Role

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


@pytest.fixture(autouse=True)
def _empty_cache():
    tokens.forget()
    yield
    tokens.forget()


def bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def issued(requester):
    return actions.create_api_token(actor=requester, user=requester, name="script")


def token_reads(client: Client, path: str = ME) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    # The token with its person, and their roles as permissions read them (not /me's own list).
    wanted = ('FROM "core_apitoken"', '"core_user_groups"."user_id" = ')
    return status, [
        q["sql"] for q in captured.captured_queries if any(w in q["sql"] for w in wanted)
    ]


def test_a_token_used_again_is_not_read_again(issued):
    _token, raw = issued
    client = bearer(raw)

    first = token_reads(client)
    second = token_reads(client)

    assert first[0] == second[0] == 200
    assert len(first[1]) == 2
    assert second[1] == []


@override_settings(KEEL_TOKEN_CACHE_SECONDS=0)
def test_with_the_cache_turned_off_every_call_reads_the_token(issued):
    _token, raw = issued
    client = bearer(raw)
    token_reads(client)

    status, reads = token_reads(client)

    assert status == 200
    assert any("core_apitoken" in sql for sql in reads)


def test_the_cache_is_read_again_after_its_seconds(issued, monkeypatch):
    _token, raw = issued
    client = bearer(raw)
    token_reads(client)
    later = tokens.time.monotonic() + tokens.DEFAULT_CACHE_SECONDS + 1
    monkeypatch.setattr(tokens.time, "monotonic", lambda: later)

    status, reads = token_reads(client)

    assert status == 200
    assert any("core_apitoken" in sql for sql in reads)


def test_a_cached_token_revoked_through_the_api_stops_working_at_once(issued, requester):
    token, raw = issued
    client = bearer(raw)
    assert client.get(ME).status_code == 200

    assert client.delete(f"/api/v1/tokens/{token.pk}").status_code == 204

    assert client.get(ME).status_code == 401


def test_a_cached_token_revoked_by_the_action_stops_working_at_once(issued, requester):
    token, raw = issued
    client = bearer(raw)
    assert client.get(ME).status_code == 200

    actions.revoke_api_token(actor=requester, token=token)

    assert client.get(ME).status_code == 401


def test_a_cached_token_of_a_person_deactivated_stops_working_at_once(issued, requester):
    _token, raw = issued
    client = bearer(raw)
    assert client.get(ME).status_code == 200

    requester.is_active = False
    requester.save(update_fields=["is_active"])

    assert client.get(ME).status_code == 401


def test_a_cached_token_stops_at_its_expiry(requester, monkeypatch):
    soon = timezone.now() + timedelta(minutes=1)
    _token, raw = actions.create_api_token(actor=requester, user=requester, expires_at=soon)
    client = bearer(raw)
    assert client.get(ME).status_code == 200
    after = soon + timedelta(seconds=1)
    monkeypatch.setattr(tokens.timezone, "now", lambda: after)

    assert client.get(ME).status_code == 401


def test_new_roles_apply_to_a_cached_token_at_once(administrator, requester, issued):
    _token, raw = issued
    client = bearer(raw)
    assert client.get("/api/v1/roles").status_code == 403

    actions.set_roles(actor=administrator, user=requester, roles=[Role.ADMINISTRATOR.value])

    assert client.get("/api/v1/roles").status_code == 200


def test_requests_do_not_share_one_person_object(issued):
    _token, raw = issued

    first = tokens.user_for(raw)
    second = tokens.user_for(raw)

    assert first is not None
    assert second is not None
    assert first is not second
    assert first.pk == second.pk
    first._keel_team_ids = frozenset({999})
    assert not hasattr(tokens.user_for(raw), "_keel_team_ids")


def test_last_use_is_still_recorded(issued):
    token, raw = issued

    assert bearer(raw).get(ME).status_code == 200

    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None

"""Shared fixtures: people in each role, an API client with a token, and the system actor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from keel.core import actions
from keel.core.audit import GENESIS_HASH
from keel.core.models import AuditChain, Department, User
from keel.core.roles import Role
from keel.core.tests.factories import DepartmentFactory, UserFactory

# A real browser (Playwright driving Debian's Chromium) for every app's browser tests.
pytest_plugins = ["keel.testing.browser"]


@pytest.fixture(autouse=True)
def _audit_chain_head(request: pytest.FixtureRequest) -> None:
    """Keep the audit chain's head row (written by a data migration) in every test database.

    A ``transaction=True`` test ends by flushing every table, which removes the head too; the
    tests after it would then fail to record any event.
    """
    uses_db = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db"} & set(request.fixturenames)
    )
    if not uses_db:
        return
    request.getfixturevalue("_django_db_helper")
    AuditChain.objects.get_or_create(id=1, defaults={"seq": 0, "hash": GENESIS_HASH})


@pytest.fixture(autouse=True)
def _default_language_and_time_zone():
    """Each test starts in English and the server's time zone, whatever the last one activated."""
    from django.conf import settings
    from django.utils import timezone, translation

    translation.activate(settings.LANGUAGE_CODE)
    timezone.deactivate()
    yield
    translation.activate(settings.LANGUAGE_CODE)
    timezone.deactivate()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """In-process caches (calendars, catalogue) must not carry one test's rows into the next:
    test databases reuse ids after a rollback."""
    from django.core.cache import caches

    from keel.catalog import queries as catalog_queries
    from keel.core import backends, calendars

    for cache in (calendars, catalog_queries, backends):
        cache.invalidate()
    caches["fragments"].clear()  # rendered fragments name ids a rolled-back test may reuse
    yield
    for cache in (calendars, catalog_queries, backends):
        cache.invalidate()
    caches["fragments"].clear()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    """``make_user(Role.AGENT, department=d)``: a person holding the given roles."""

    def make(*roles: str, **fields) -> User:
        return UserFactory(roles=[str(r) for r in roles], **fields)

    return make


@pytest.fixture
def requester(make_user) -> User:
    return make_user(Role.REQUESTER)


@pytest.fixture
def agent(make_user) -> User:
    return make_user(Role.AGENT)


@pytest.fixture
def team_lead(make_user) -> User:
    return make_user(Role.AGENT, Role.TEAM_LEAD)


@pytest.fixture
def auditor(make_user) -> User:
    return make_user(Role.AUDITOR)


@pytest.fixture
def administrator(make_user) -> User:
    return make_user(Role.ADMINISTRATOR)


@pytest.fixture
def department(db) -> Department:
    return DepartmentFactory()


@pytest.fixture
def department_manager(make_user, department) -> User:
    """A requester who manages ``department`` (and belongs to it)."""
    manager = make_user(Role.REQUESTER, department=department)
    department.manager = manager
    department.save(update_fields=["manager"])
    return manager


@pytest.fixture
def system_actor(db) -> User:
    return actions.system_user()


@pytest.fixture
def client_for(db) -> Callable[..., Client]:
    """``client_for(user)``: a browser session signed in as ``user``."""

    def make(user: User, **kwargs) -> Client:
        client = Client(**kwargs)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def token_client_for(db) -> Callable[..., Client]:
    """``token_client_for(user)``: an API client sending a new bearer token of ``user``."""

    def make(user: User, **kwargs) -> Client:
        _token, raw = actions.create_api_token(actor=user, user=user, name="test")
        return Client(headers={"Authorization": f"Bearer {raw}"}, **kwargs)

    return make

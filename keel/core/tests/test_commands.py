"""The `keel` subcommands a newcomer and a script use: demo, createadmin, token, audit verify."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from keel.core import tokens
from keel.core.models import AuditEvent, CalendarDay, Department, Team, User
from keel.core.permissions import has_role

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_small_demo_has_one_coordinator_who_is_agent_team_lead_and_change_manager():
    run("demo", "--preset", "small")

    coordinator = User.objects.get(username="coordinator")
    assert has_role(coordinator, "agent")
    assert has_role(coordinator, "team_lead")
    assert has_role(coordinator, "change_manager")
    assert Team.objects.count() == 1
    assert Team.objects.get().lead == coordinator
    assert coordinator.check_password("keel-demo-2026")


def test_enterprise_demo_has_departments_teams_calendars_and_both_languages():
    run("demo", "--preset", "enterprise")

    assert Department.objects.count() >= 4
    assert Team.objects.filter(next_level__isnull=False).count() >= 2
    assert set(User.objects.filter(is_system=False).values_list("language", flat=True)) == {
        "en",
        "zh-hans",
    }
    # China's calendar carries its make-up working days, not only holidays.
    assert CalendarDay.objects.filter(calendar__name="Shanghai office", kind="workday").exists()


def test_demo_refuses_a_database_with_people_unless_asked_to_skip():
    run("demo", "--preset", "small")
    with pytest.raises(CommandError, match="already has people"):
        run("demo", "--preset", "small")
    assert run("demo", "--if-empty") == ""


def test_demo_is_audited_like_real_data():
    run("demo", "--preset", "small")
    assert (
        AuditEvent.objects.filter(action="user.created").count()
        == User.objects.filter(is_system=False).count()
    )


def test_createadmin_without_prompts_makes_an_administrator():
    out = run(
        "createadmin",
        "--username",
        "root2",
        "--email",
        "r@example.com",
        "--password",
        "a-long-pass-phrase",
    )

    admin = User.objects.get(username="root2")
    assert "root2" in out
    assert admin.is_superuser
    assert has_role(admin, "administrator")


def test_createadmin_rejects_a_weak_password_naming_the_field():
    with pytest.raises(CommandError, match="password"):
        run("createadmin", "--username", "root3", "--email", "r@example.com", "--password", "123")
    assert not User.objects.filter(username="root3").exists()


def test_token_create_prints_only_the_token(django_user_model):
    person = django_user_model.objects.create_user(username="scripted", password="x-long-password")

    out = run("token", "create", "scripted")

    raw = out.strip()
    assert out == raw + "\n"
    assert tokens.user_for(raw) == person


def test_token_create_for_an_unknown_user_fails():
    with pytest.raises(CommandError, match="No user named"):
        run("token", "create", "nobody")


def test_token_revoke_by_prefix(django_user_model):
    django_user_model.objects.create_user(username="scripted", password="x-long-password")
    raw = run("token", "create", "scripted").strip()
    prefix = raw.split("_")[1]

    run("token", "revoke", prefix)

    assert tokens.user_for(raw) is None


def test_audit_verify_reports_intact_then_broken():
    run("demo", "--preset", "small")
    assert "intact" in run("audit", "verify")

    victim = AuditEvent.objects.order_by("seq")[3]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'edited' WHERE seq = %s", [victim.seq])

    with pytest.raises(CommandError, match=f"#{victim.seq}"):
        run("audit", "verify")


@pytest.mark.parametrize("option", ["--workers", "--threads"])
def test_serve_refuses_fewer_than_one_process_or_thread(option):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("serve", option, "0")


def test_serve_sizes_itself_to_the_database_and_the_cores(monkeypatch):
    from keel.core.management.commands import serve

    monkeypatch.setattr(serve.os, "cpu_count", lambda: 4)

    # SQLite: one writer at a time, so a process more than the cores and few threads each;
    # PostgreSQL: a process per core, with threads to go on while requests wait on the database.
    assert (serve.default_workers("sqlite"), serve.default_threads("sqlite")) == (5, 2)
    assert (serve.default_workers("postgresql"), serve.default_threads("postgresql")) == (4, 4)

"""Keel's own pages: signing in and out, home, profile, API tokens, language and security headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.template.loader import render_to_string
from django.urls import reverse

from keel.core import actions
from keel.core.errors import FieldError
from keel.core.models import ApiToken, Team, TeamMembership

PASSWORD = "correct-horse-battery-9"
KEEL_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user(
        username="li.na", password=PASSWORD, name="Li Na", email="li.na@example.com"
    )


@pytest.fixture
def admin_person(django_user_model):
    user = django_user_model.objects.create_user(
        username="admin", password=PASSWORD, name="Ada Admin", is_staff=True
    )
    user.groups.add(Group.objects.get(name="administrator"))
    return user


@pytest.fixture
def signed_in(client, person):
    client.force_login(person)
    return client


def _log_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


# --- log-in and log-out -------------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_renders_in_english(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Log in to Keel" in response.content.decode()
    assert 'lang="en"' in response.content.decode()


@pytest.mark.django_db
def test_login_page_renders_in_chinese_from_accept_language(client):
    response = client.get(reverse("login"), headers={"accept-language": "zh-CN,zh;q=0.9"})
    body = response.content.decode()
    assert "登录 Keel" in body
    assert 'lang="zh-Hans"' in body


@pytest.mark.django_db
def test_login_page_renders_in_chinese_from_language_cookie(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = client.get(reverse("login"))
    assert "登录 Keel" in response.content.decode()


@pytest.mark.django_db
def test_correct_password_logs_in_and_goes_home(client, person):
    response = _log_in(client, "li.na", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_wrong_password_shows_an_error(client, person):
    response = _log_in(client, "li.na", "wrong-password")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Please enter a correct username and password" in body
    assert 'role="alert"' in body


@pytest.mark.django_db
def test_system_account_cannot_log_in(client):
    system = actions.system_user()
    system.set_password(PASSWORD)
    system.save(update_fields=["password"])
    response = _log_in(client, system.username, PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_five_failures_lock_the_account_out(client, person):
    for _attempt in range(4):
        assert _log_in(client, "li.na", "wrong-password").status_code == 200
    locked = _log_in(client, "li.na", "wrong-password")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "15 minutes" in locked.content.decode()
    # Even the right password is refused while locked out.
    again = _log_in(client, "li.na", PASSWORD)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_requires_post(signed_in):
    assert signed_in.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in signed_in.session
    response = signed_in.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert "_auth_user_id" not in signed_in.session


@pytest.mark.django_db
def test_after_logout_the_login_page_keeps_the_persons_language(signed_in, person):
    actions.update_user(actor=person, user=person, language="zh-hans")
    response = signed_in.post(reverse("logout"), follow=True)
    body = response.content.decode()
    assert "登录 Keel" in body
    assert "您已退出登录。" in body


# --- home ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_home_shows_roles_teams_and_no_admin_counts_for_a_requester(signed_in, person):
    person.groups.add(Group.objects.get(name="agent"))
    lead = type(person).objects.create_user(username="wang", name="Wang Fang")
    team = Team.objects.create(name="Service desk", code="desk", lead=lead)
    TeamMembership.objects.create(team=team, user=person)
    TeamMembership.objects.create(team=team, user=lead)
    body = signed_in.get(reverse("home")).content.decode()
    assert "Li Na" in body
    assert "Agent" in body
    assert "Service desk" in body
    assert "Wang Fang" in body
    assert "Organisation at a glance" not in body
    assert reverse("admin:index") not in body


@pytest.mark.django_db
def test_home_shows_counts_and_admin_link_to_administrators(client, admin_person):
    client.force_login(admin_person)
    body = client.get(reverse("home")).content.decode()
    assert "Organisation at a glance" in body
    assert reverse("admin:core_team_changelist") in body
    assert reverse("admin:index") in body


def _teams_for(user, count, offset=0):
    for i in range(offset, offset + count):
        lead = type(user).objects.create_user(username=f"lead{i}")
        team = Team.objects.create(name=f"Team {i}", code=f"team-{i}", lead=lead)
        TeamMembership.objects.create(team=team, user=user)
        TeamMembership.objects.create(team=team, user=lead)


@pytest.mark.django_db
def test_home_query_count_does_not_grow_with_teams(
    client, admin_person, django_assert_max_num_queries
):
    client.force_login(admin_person)
    _teams_for(admin_person, 1)
    with django_assert_max_num_queries(10) as one_team:
        assert client.get(reverse("home")).status_code == 200
    _teams_for(admin_person, 9, offset=1)
    with django_assert_max_num_queries(len(one_team.captured_queries)):
        body = client.get(reverse("home")).content.decode()
    assert "Team 9" in body


# --- language -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_language_switch_is_stored_on_the_user(signed_in, person):
    response = signed_in.post(
        reverse("language"), {"language": "zh-hans", "next": reverse("profile")}
    )
    assert response.status_code == 302
    assert response.url == reverse("profile")
    person.refresh_from_db()
    assert person.language == "zh-hans"
    body = signed_in.get(response.url).content.decode()
    assert "个人资料" in body


@pytest.mark.django_db
def test_language_switch_does_not_follow_an_unsafe_next(signed_in):
    response = signed_in.post(
        reverse("language"), {"language": "en", "next": "http://evil.example/steal"}
    )
    assert response.status_code == 302
    assert response.url == reverse("home")


@pytest.mark.django_db
def test_language_switch_rejects_an_unknown_language(signed_in, person):
    response = signed_in.post(reverse("language"), {"language": "xx", "next": "/"}, follow=True)
    person.refresh_from_db()
    assert person.language == "en"
    assert "Choose English" in response.content.decode()


@pytest.mark.django_db
def test_language_switch_requires_post(signed_in):
    assert signed_in.get(reverse("language")).status_code == 405


@pytest.mark.django_db
def test_signed_out_language_switch_uses_django_set_language(client):
    body = client.get(reverse("login")).content.decode()
    assert f'action="{reverse("set_language")}"' in body


# --- profile ------------------------------------------------------------------------------


def _profile_data(**overrides):
    data = {
        "name": "Li Na",
        "email": "li.na@example.com",
        "phone": "+86 10 1234 5678",
        "language": "en",
        "time_zone": "Asia/Shanghai",
        "time_zone_other": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_profile_update_saves(signed_in, person):
    response = signed_in.post(reverse("profile"), _profile_data(name="Li Na (IT)"))
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.name == "Li Na (IT)"
    assert person.phone == "+86 10 1234 5678"
    assert person.time_zone == "Asia/Shanghai"
    assert "Your profile has been saved." in signed_in.get(reverse("profile")).content.decode()


@pytest.mark.django_db
def test_profile_accepts_a_time_zone_typed_by_hand(signed_in, person):
    data = _profile_data(time_zone="other", time_zone_other="America/Toronto")
    assert signed_in.post(reverse("profile"), data).status_code == 302
    person.refresh_from_db()
    assert person.time_zone == "America/Toronto"


@pytest.mark.django_db
def test_profile_rejects_an_unknown_typed_time_zone_next_to_the_field(signed_in, person):
    data = _profile_data(time_zone="other", time_zone_other="Mars/Olympus")
    response = signed_in.post(reverse("profile"), data)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "time_zone_other" in errors
    assert 'id="id_time_zone_other_error"' in response.content.decode()
    person.refresh_from_db()
    assert person.time_zone == "UTC"


@pytest.mark.django_db
def test_profile_bad_email_shows_the_field_error(signed_in, person):
    response = signed_in.post(reverse("profile"), _profile_data(email="not-an-address"))
    assert response.status_code == 422
    assert response.context["form"].errors["email"] == ["Enter a valid e-mail address."]
    body = response.content.decode()
    assert 'id="id_email_error"' in body
    assert 'aria-invalid="true"' in body
    person.refresh_from_db()
    assert person.email == "li.na@example.com"


@pytest.mark.django_db
def test_profile_shows_errors_about_other_fields_above_the_form(signed_in, monkeypatch):
    def refuse(**kwargs):
        raise FieldError("department", "Not yours to change.")

    monkeypatch.setattr(actions, "update_user", refuse)
    response = signed_in.post(reverse("profile"), _profile_data())
    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == ["Not yours to change."]


@pytest.mark.django_db
def test_profile_in_chinese_after_choosing_it(signed_in, person):
    response = signed_in.post(reverse("profile"), _profile_data(language="zh-hans"), follow=True)
    body = response.content.decode()
    assert "您的个人资料已保存。" in body


# --- API tokens ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_is_shown_once_on_creation(signed_in, person):
    response = signed_in.post(reverse("token-create"), {"name": "Monitoring"})
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    raw = re.search(r'value="(keel_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=person)
    assert token.name == "Monitoring"
    assert raw.startswith(f"keel_{token.prefix}_")
    later = signed_in.get(reverse("profile")).content.decode()
    assert raw not in later
    assert "Monitoring" in later


@pytest.mark.django_db
def test_token_needs_a_name(signed_in, person):
    response = signed_in.post(reverse("token-create"), {"name": ""})
    assert response.status_code == 422
    assert "name" in response.context["token_form"].errors
    assert not ApiToken.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_token_revoke_works(signed_in, person):
    token, _raw = actions.create_api_token(actor=person, user=person, name="Script")
    response = signed_in.post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in signed_in.get(reverse("profile")).content.decode()


@pytest.mark.django_db
def test_cannot_revoke_someone_elses_token(signed_in, django_user_model):
    other = django_user_model.objects.create_user(username="other", password=PASSWORD)
    token, _raw = actions.create_api_token(actor=other, user=other, name="Theirs")
    assert signed_in.post(reverse("token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- error pages and security -------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_page_renders_the_404_template(signed_in):
    response = signed_in.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_500_page_renders_without_a_request_or_database():
    # No django_db mark: pytest-django fails any database access here.
    body = render_to_string("500.html")
    assert "Something went wrong" in body


@pytest.mark.django_db
def test_responses_carry_a_strict_content_security_policy(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    # htmx would otherwise inject an inline <style> that the policy blocks.
    assert '"includeIndicatorStyles": false' in response.content.decode()


def _templates():
    return sorted(KEEL_DIR.glob("*/templates/**/*.html"))


def test_templates_are_found():
    assert any(path.name == "base.html" for path in _templates())


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(KEEL_DIR)))
def test_no_template_has_inline_style_or_script(path):
    text = path.read_text(encoding="utf-8")
    assert 'style="' not in text, "use classes in keel.css"
    assert not re.search(r"\sstyle\s*=", text), "use classes in keel.css"
    assert "<style" not in text, "put styles in keel.css"
    for tag in re.findall(r"<script\b[^>]*>", text, flags=re.IGNORECASE):
        assert "src=" in tag, f"inline script in {path}: {tag}"
    assert not re.search(r"\son[a-z]+\s*=", text), "use keel.js instead of on… attributes"

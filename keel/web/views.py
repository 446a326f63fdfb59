"""Keel's own pages: signing in and out, the home dashboard, the profile and the language switch.

Views are thin: they parse a form, call one action from ``keel.core.actions`` and render.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from keel.core import actions, queries
from keel.core.errors import DomainError, FieldError
from keel.core.models import BusinessCalendar, Department, Language, Team, TeamMembership, User
from keel.core.permissions import has_role, roles_of
from keel.core.roles import Role
from keel.web.forms import LoginForm, ProfileForm, TokenForm

# What each role is for, in a sentence, for the people who hold it.
ROLE_DESCRIPTIONS = {
    Role.REQUESTER: gettext_lazy("Reports faults and asks for services for yourself."),
    Role.AGENT: gettext_lazy("Works the incidents and requests in your teams' queues."),
    Role.TEAM_LEAD: gettext_lazy("Leads a team: its members, its queue and its escalations."),
    Role.CHANGE_MANAGER: gettext_lazy("Assesses, approves and schedules changes."),
    Role.SERVICE_OWNER: gettext_lazy("Answers for services, their catalogue entries and SLAs."),
    Role.AUDITOR: gettext_lazy("Reads every record and the audit trail, for evidence."),
    Role.ADMINISTRATOR: gettext_lazy("Manages people, teams, departments and calendars."),
}


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def remember_language(response: HttpResponse, language: str) -> HttpResponse:
    """Set Django's language cookie, so pages outside the session (log-in) keep the language."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    language = getattr(request.user, "language", "") or translation.get_language()
    logout(request)
    messages.info(request, _("You have been logged out."))
    return remember_language(redirect("login"), language)


def safe_next(request: HttpRequest, fallback: str = "home") -> str:
    """The ``next`` address the request names, if it stays on this site; else ``fallback``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(fallback)


@login_required
@require_POST
def change_language(request: HttpRequest) -> HttpResponse:
    """Store the chosen language on the person, so every device and e-mail uses it."""
    language = request.POST.get("language", "")
    try:
        actions.update_user(actor=request.user, user=request.user, language=language)
    except FieldError as exc:
        messages.error(request, "; ".join(str(message) for _field, message in exc.errors))
        return redirect(safe_next(request))
    # The cookie keeps the log-in page in the same language after signing out.
    return remember_language(redirect(safe_next(request)), language)


def _greeting(hour: int) -> str:
    if hour < 5 or hour >= 18:
        return _("Good evening")
    if hour < 12:
        return _("Good morning")
    return _("Good afternoon")


def _roles(user: Any) -> list[dict[str, Any]]:
    held = roles_of(user)
    return [
        {"key": role.value, "label": role.label, "description": ROLE_DESCRIPTIONS[role]}
        for role in Role
        if role.value in held
    ]


def _teams(user: Any) -> list[Team]:
    """The active teams a person belongs to or leads, with lead and head count, in one query."""
    mine = TeamMembership.objects.filter(user=user).values("team_id")
    return list(
        Team.objects.filter(Q(pk__in=mine) | Q(lead=user), is_active=True)
        .select_related("lead")
        .annotate(member_count=Count("memberships"))
        .order_by("name")
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    person = User.objects.select_related(
        "department__organisation", "department__manager", "manager"
    ).get(pk=user.pk)
    is_admin = has_role(user, Role.ADMINISTRATOR)
    counts = None
    if is_admin:
        counts = [
            {
                "label": _("People"),
                "value": User.objects.filter(is_system=False, is_active=True).count(),
                "url": "admin:core_user_changelist",
            },
            {
                "label": _("Teams"),
                "value": Team.objects.filter(is_active=True).count(),
                "url": "admin:core_team_changelist",
            },
            {
                "label": _("Departments"),
                "value": Department.objects.count(),
                "url": "admin:core_department_changelist",
            },
            {
                "label": _("Business calendars"),
                "value": BusinessCalendar.objects.count(),
                "url": "admin:core_businesscalendar_changelist",
            },
        ]
    return render(
        request,
        "web/home.html",
        {
            "greeting": _greeting(timezone.localtime().hour),
            "person": person,
            "roles": _roles(user),
            "teams": _teams(user),
            "counts": counts,
        },
    )


def _render_profile(
    request: HttpRequest,
    *,
    form: ProfileForm | None = None,
    token_form: TokenForm | None = None,
    new_token: Any = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    person = User.objects.select_related("department", "manager").get(pk=user.pk)
    now = timezone.now()
    active_tokens, past_tokens = [], []
    for token in queries.tokens_of(user):
        usable = token.revoked_at is None and (token.expires_at is None or token.expires_at > now)
        (active_tokens if usable else past_tokens).append(token)
    return render(
        request,
        "web/profile.html",
        {
            "person": person,
            "form": form or ProfileForm(user=user),
            "token_form": token_form or TokenForm(),
            "tokens": active_tokens,
            "past_tokens": past_tokens,
            "new_token": new_token,
            "roles": _roles(user),
            "teams": _teams(user),
        },
        status=status,
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_profile(request)
    form = ProfileForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            user = actions.update_user(actor=request.user, user=request.user, **form.values())
        except DomainError as exc:
            form.attach(exc)
        else:
            # Say it in the language the next page will be in.
            with translation.override(user.language or Language.ENGLISH):
                messages.success(request, _("Your profile has been saved."))
            return redirect("profile")
    return _render_profile(request, form=form, status=422)


@never_cache
@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Create an API token and show it on this response only: it is never shown again."""
    token_form = TokenForm(request.POST)
    if token_form.is_valid():
        try:
            token, raw = actions.create_api_token(
                actor=request.user, user=request.user, name=token_form.cleaned_data["name"].strip()
            )
        except DomainError as exc:
            token_form.attach(exc)
        else:
            return _render_profile(request, new_token={"token": token, "raw": raw})
    return _render_profile(request, token_form=token_form, status=422)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(queries.tokens_of(request.user), pk=token_id)
    actions.revoke_api_token(actor=request.user, token=token)
    messages.success(
        request,
        _("The token %(name)s has been revoked; programs using it can no longer sign in.")
        % {"name": token.name or f"{token.prefix}…"},
    )
    return redirect(reverse("profile") + "#tokens")

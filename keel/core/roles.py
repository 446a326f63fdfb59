"""The roles people hold, as Django groups with permissions, and the reach each gives.

A role says *what* someone may do (permissions); ``core.permissions`` says on *which records*
(object scope). Each app adds the permissions its roles need by setting ``role_permissions`` on
its AppConfig, so this module never has to know every app.
"""

from __future__ import annotations

from collections import defaultdict

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REQUESTER = "requester", _("Requester")
    AGENT = "agent", _("Agent")
    TEAM_LEAD = "team_lead", _("Team lead")
    CHANGE_MANAGER = "change_manager", _("Change manager")
    SERVICE_OWNER = "service_owner", _("Service owner")
    AUDITOR = "auditor", _("Auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


# Roles whose holders see every record of a kind (read scope "all").
ALL_SCOPE_ROLES = frozenset(
    {Role.CHANGE_MANAGER, Role.SERVICE_OWNER, Role.AUDITOR, Role.ADMINISTRATOR}
)
# Roles whose holders see their teams' records.
TEAM_SCOPE_ROLES = frozenset({Role.AGENT, Role.TEAM_LEAD})
# Roles that work records for others (everyone but a plain requester).
STAFF_ROLES = frozenset(Role) - {Role.REQUESTER}

_STAFF_READ = [
    "core.view_user",
    "core.view_team",
    "core.view_department",
    "core.view_organisation",
    "core.view_businesscalendar",
]

CORE_ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REQUESTER: [],
    Role.AGENT: _STAFF_READ,
    Role.TEAM_LEAD: [*_STAFF_READ, "core.change_team"],
    Role.CHANGE_MANAGER: _STAFF_READ,
    Role.SERVICE_OWNER: _STAFF_READ,
    Role.AUDITOR: [*_STAFF_READ, "core.view_auditevent"],
    Role.ADMINISTRATOR: [
        *_STAFF_READ,
        "core.add_user",
        "core.change_user",
        "core.add_team",
        "core.change_team",
        "core.delete_team",
        "core.add_department",
        "core.change_department",
        "core.add_organisation",
        "core.change_organisation",
        "core.add_businesscalendar",
        "core.change_businesscalendar",
        "core.delete_businesscalendar",
        "core.view_auditevent",
        "core.view_apitoken",
        "core.delete_apitoken",
    ],
}


def role_permissions() -> dict[str, set[str]]:
    """Every role's permissions, gathered from each installed app's ``role_permissions``."""
    merged: dict[str, set[str]] = defaultdict(set)
    for app_config in apps.get_app_configs():
        for role, perms in getattr(app_config, "role_permissions", {}).items():
            merged[str(role)].update(perms)
    return merged


def sync_roles(using: str = "default") -> None:
    """Create one group per role and give it exactly its permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    wanted = role_permissions()
    perms_by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.using(using).select_related("content_type")
    }
    for role in Role:
        group, _created = Group.objects.using(using).get_or_create(name=role.value)
        names = wanted.get(role.value, set())
        missing = sorted(n for n in names if n not in perms_by_name)
        if missing:
            raise LookupError(f"Role {role.value} names unknown permissions: {', '.join(missing)}")
        group.permissions.set([perms_by_name[n] for n in names])

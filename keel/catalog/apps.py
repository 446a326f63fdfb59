from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from keel.core.roles import Role

_READ = ["catalog.view_service", "catalog.view_category", "catalog.view_servicetarget"]
_MANAGE = [
    "catalog.add_service",
    "catalog.change_service",
    "catalog.add_servicetarget",
    "catalog.change_servicetarget",
    "catalog.delete_servicetarget",
    "catalog.add_category",
    "catalog.change_category",
    "catalog.change_priorityrule",
    "catalog.view_priorityrule",
]


class CatalogConfig(AppConfig):
    name = "keel.catalog"
    label = "catalog"
    verbose_name = _("Service catalogue")

    # Everyone sees the services they can report against; owners and administrators manage them.
    role_permissions = {
        Role.REQUESTER: ["catalog.view_service", "catalog.view_category"],
        Role.AGENT: _READ,
        Role.TEAM_LEAD: _READ,
        Role.CHANGE_MANAGER: _READ,
        Role.SERVICE_OWNER: [
            *_READ,
            "catalog.change_service",
            "catalog.add_servicetarget",
            "catalog.change_servicetarget",
        ],
        Role.AUDITOR: [*_READ, "catalog.view_priorityrule"],
        Role.ADMINISTRATOR: [*_READ, *_MANAGE],
    }

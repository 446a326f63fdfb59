from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from keel.core.roles import Role

_READ = [
    "cmdb.view_configurationitem",
    "cmdb.view_citype",
    "cmdb.view_citypeversion",
    "cmdb.view_relation",
    "cmdb.view_relationkind",
    "cmdb.view_expiryreminder",
]
_EDIT = [
    *_READ,
    "cmdb.add_configurationitem",
    "cmdb.change_configurationitem",
    "cmdb.add_relation",
    "cmdb.delete_relation",
]
_LEAD = [*_EDIT, "cmdb.delete_configurationitem", "cmdb.import_configurationitem"]
_MANAGE = [
    *_LEAD,
    "cmdb.add_citype",
    "cmdb.change_citype",
    "cmdb.delete_citype",
    "cmdb.add_relationkind",
    "cmdb.change_relationkind",
]


class CmdbConfig(AppConfig):
    name = "keel.cmdb"
    label = "cmdb"
    verbose_name = _("Configuration management")

    # Requesters see the items assigned to them (their devices; scope "own") and the types that
    # describe them. Staff read the whole CMDB; agents and team leads change their teams' items;
    # service owners describe what their services are made of; administrators define types and
    # relation kinds.
    role_permissions = {
        Role.REQUESTER: ["cmdb.view_configurationitem", "cmdb.view_citype"],
        Role.AGENT: _EDIT,
        Role.TEAM_LEAD: _LEAD,
        Role.CHANGE_MANAGER: _READ,
        Role.SERVICE_OWNER: [*_EDIT],
        Role.AUDITOR: _READ,
        Role.ADMINISTRATOR: _MANAGE,
    }

    def ready(self):
        from keel.cmdb import tasks  # noqa: F401  (registers the periodic expiry reminders)

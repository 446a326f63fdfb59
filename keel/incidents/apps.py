from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from keel.core.roles import Role

_WORK = [
    "incidents.add_incident",
    "incidents.view_incident",
    "incidents.change_incident",
    "incidents.assign_incident",
    "incidents.work_incident",
    "incidents.view_incidentevent",
    "incidents.view_attachment",
    # Contacts with the desk (interactions): recorded by whoever works incidents.
    "incidents.view_interaction",
]
_LEAD = [
    *_WORK,
    "incidents.cancel_incident",
    "incidents.override_priority",
    "incidents.manage_major_incident",
]


class IncidentsConfig(AppConfig):
    name = "keel.incidents"
    label = "incidents"
    verbose_name = _("Incident management")

    role_permissions = {
        # Requesters report and follow their own incidents (scope: own, or their department's).
        Role.REQUESTER: ["incidents.add_incident", "incidents.view_incident"],
        Role.AGENT: [*_WORK, "incidents.cancel_incident"],
        Role.TEAM_LEAD: _LEAD,
        Role.CHANGE_MANAGER: ["incidents.view_incident", "incidents.view_incidentevent"],
        Role.SERVICE_OWNER: [
            "incidents.view_incident",
            "incidents.view_interaction",
            "incidents.view_incidentevent",
            "incidents.manage_major_incident",
        ],
        Role.AUDITOR: [
            "incidents.view_incident",
            "incidents.view_interaction",
            "incidents.view_incidentevent",
            "incidents.view_postincidentreview",
        ],
        Role.ADMINISTRATOR: [
            *_LEAD,
            "incidents.view_postincidentreview",
            "incidents.delete_incident",
        ],
    }

    def ready(self):
        from keel.cmdb import references
        from keel.incidents import (
            queries,
            tasks,  # noqa: F401  (registers the periodic SLA sweep)
        )

        # Deleting a configuration item that an open incident names is refused (retire it).
        references.register(
            queries.open_incidents_naming, label=_("open incidents"), key="incidents"
        )

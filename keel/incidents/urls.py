"""Incident pages: the console and incident pages under /incidents/, the portal under /portal/.

Also adds the incident entries to the navigation (URL patterns load once, at start-up).
"""

from __future__ import annotations

from functools import cache

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keel.core.permissions import is_staff_member, roles_of
from keel.core.roles import role_permissions
from keel.incidents import views
from keel.incidents.views import contacts as contact_views
from keel.incidents.views import reports as report_views
from keel.web.navigation import NavItem, register

app_name = "incidents"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.record, name="record"),
    path("bulk-assign/", views.bulk_assign, name="bulk-assign"),
    path("assignees/", views.assignee_options, name="assignee-options"),
    path("people/", views.people_options, name="people-options"),
    path("known-issues/", views.known_issues, name="known-issues"),
    path("satisfaction/", views.satisfaction, name="satisfaction"),
    path("contacts/", contact_views.contact_list, name="contacts"),
    path("contacts/people/", contact_views.contact_people, name="contact-people"),
    path("reports/", report_views.incident_report, name="reports"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/files/<int:pk>/", views.download, name="download"),
    path("<str:number>/<slug:key>/", views.act, name="act"),
]

# Included at /portal/ under the namespace "portal".
portal_urlpatterns = [
    path("report/", views.report, name="report"),
    path("incidents/", views.mine, name="mine"),
]


@cache
def _granted() -> dict[str, set[str]]:
    return role_permissions()


def _role_grants(user, perm: str) -> bool:
    """Whether one of the person's roles gives ``perm``: read from the roles the page already
    loaded, so drawing the navigation costs no query (the views check permissions for real)."""
    return any(perm in _granted().get(role, ()) for role in roles_of(user))


def _works(user) -> bool:
    return is_staff_member(user) and _role_grants(user, "incidents.view_incident")


def _reports(user) -> bool:
    return _role_grants(user, "incidents.add_incident")


def _follows(user) -> bool:
    return _role_grants(user, "incidents.view_incident")


def _reads_contacts(user) -> bool:
    return is_staff_member(user) and _role_grants(user, "incidents.view_interaction")


def _on_own_incident(user, path: str) -> bool:
    """A requester reading one of their incidents is still in "My incidents"."""
    return path.startswith("/incidents/INC-") and not _works(user)


register(NavItem("incidents", _("Incidents"), "incidents:queue", order=10, visible=_works))
register(
    NavItem("contacts", _("Contacts"), "incidents:contacts", order=11, visible=_reads_contacts)
)
register(
    NavItem(
        "incident-reports", _("Incident reports"), "incidents:reports", order=12, visible=_works
    )
)
register(NavItem("report", _("Report a problem"), "portal:report", order=20, visible=_reports))
register(
    NavItem(
        "my-incidents",
        _("My incidents"),
        "portal:mine",
        order=21,
        visible=_follows,
        also_active=_on_own_incident,
    )
)

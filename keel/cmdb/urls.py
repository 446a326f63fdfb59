"""CMDB pages under /cmdb/, and their entries in the navigation."""

from __future__ import annotations

from functools import cache

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keel.cmdb import setup_views, views
from keel.core.permissions import is_staff_member, roles_of
from keel.core.roles import role_permissions
from keel.web.navigation import NavItem, register

app_name = "cmdb"

urlpatterns = [
    path("", views.item_list, name="list"),
    path("export/", views.export, name="export"),
    path("new/", views.item_new, name="new"),
    path("items/<str:ref>/", views.item_detail, name="item"),
    path("items/<str:ref>/edit/", views.item_edit, name="edit"),
    path("items/<str:ref>/retire/", views.item_retire, name="retire"),
    path("items/<str:ref>/relations/", views.relation_add, name="relation-add"),
    path(
        "items/<str:ref>/relations/<int:pk>/remove/", views.relation_remove, name="relation-remove"
    ),
    path("import/", views.import_upload, name="import"),
    path("import/<str:token>/", views.import_map, name="import-map"),
    path("my-devices/", views.my_devices, name="my-devices"),
    # Administrators: CI types and relation kinds.
    path("types/", setup_views.type_list, name="types"),
    path("types/new/", setup_views.type_new, name="type-new"),
    path("types/<int:pk>/", setup_views.type_edit, name="type"),
    path("types/<int:pk>/active/", setup_views.type_active, name="type-active"),
    path("types/<int:pk>/delete/", setup_views.type_delete, name="type-delete"),
    path("kinds/", setup_views.kind_list, name="kinds"),
    path("kinds/new/", setup_views.kind_new, name="kind-new"),
    path("kinds/<int:pk>/", setup_views.kind_edit, name="kind"),
    path("kinds/<int:pk>/active/", setup_views.kind_active, name="kind-active"),
]


@cache
def _granted() -> dict[str, set[str]]:
    return role_permissions()


def _reads_cmdb(user) -> bool:
    """Staff whose roles read the CMDB, judged from the roles already loaded (no query)."""
    return is_staff_member(user) and any(
        "cmdb.view_configurationitem" in _granted().get(role, ()) for role in roles_of(user)
    )


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


register(
    NavItem(
        "cmdb",
        _("Configuration"),
        "cmdb:list",
        order=30,
        visible=_reads_cmdb,
    )
)
register(NavItem("my-devices", _("My devices"), "cmdb:my-devices", order=22, visible=_signed_in))

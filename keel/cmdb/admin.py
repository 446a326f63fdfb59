"""The CMDB in the Django admin: to look things up. Changes go through the API and pages (types
and relation kinds under /cmdb/types/ and /cmdb/kinds/), whose actions check attributes,
lifecycles, loops and versions and audit every change; the admin would bypass them."""

from __future__ import annotations

from django.contrib import admin

from keel.cmdb.models import (
    CIType,
    CITypeVersion,
    ConfigurationItem,
    ExpiryReminder,
    Relation,
    RelationKind,
)
from keel.core.admin import AuditedAdmin


class ReadOnlyAdmin(AuditedAdmin):
    """Viewable by those allowed to view; nothing is added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CITypeVersionInline(admin.TabularInline):
    model = CITypeVersion
    extra = 0
    fields = ["version", "changed_at", "changed_by", "attributes"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CIType)
class CITypeAdmin(ReadOnlyAdmin):
    list_display = ["name", "code", "is_service", "is_active", "version", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    inlines = [CITypeVersionInline]


@admin.register(RelationKind)
class RelationKindAdmin(ReadOnlyAdmin):
    list_display = ["name", "code", "reverse_name", "dependency", "acyclic", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(ReadOnlyAdmin):
    list_display = ["number", "name", "type", "status", "team", "owner", "assigned_to"]
    list_select_related = ["type", "team", "owner", "assigned_to"]
    list_filter = ["status", "type"]
    search_fields = ["number", "name", "external_id"]
    show_full_result_count = False


@admin.register(Relation)
class RelationAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "kind", "target", "created_at"]
    list_select_related = ["source", "kind", "target"]
    list_filter = ["kind"]
    search_fields = ["source__number", "target__number", "source__name", "target__name"]
    show_full_result_count = False


@admin.register(ExpiryReminder)
class ExpiryReminderAdmin(ReadOnlyAdmin):
    list_display = ["item", "kind", "expires_on", "created_at", "sent_at"]
    list_select_related = ["item"]
    list_filter = ["kind"]

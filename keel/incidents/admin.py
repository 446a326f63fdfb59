from django.contrib import admin

from keel.incidents.models import Incident, Interaction


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Read-only in the admin: incidents change only through their actions (pages and API)."""

    list_display = [
        "number",
        "title",
        "status",
        "priority",
        "service",
        "team",
        "assignee",
        "created_at",
    ]
    list_select_related = ["service", "team", "assignee"]
    list_filter = ["status", "priority", "is_major"]
    search_fields = ["number", "title"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    """Read-only in the admin: contacts are recorded through their action (pages, API, imports)."""

    list_display = [
        "number",
        "channel",
        "started_at",
        "contact",
        "agent",
        "resolved_first_contact",
        "incident",
        "import_source",
    ]
    list_select_related = ["contact", "agent", "incident"]
    list_filter = ["channel", "resolved_first_contact", "import_source"]
    search_fields = ["number", "external_id", "summary"]
    date_hierarchy = "started_at"
    raw_id_fields = ["contact", "agent", "incident", "service", "category", "ci"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

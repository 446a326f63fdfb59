from django.contrib import admin

from keel.incidents.models import Incident


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

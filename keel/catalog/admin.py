from django.contrib import admin

from keel.catalog.models import Category, PriorityRule, PriorityScale, Service, ServiceTarget
from keel.core.admin import AuditedAdmin


class ServiceTargetInline(admin.TabularInline):
    model = ServiceTarget
    extra = 0


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    list_display = [
        "name",
        "code",
        "team",
        "owner",
        "calendar",
        "criticality",
        "is_active",
        "in_portal",
    ]
    list_select_related = ["team", "owner", "calendar"]
    list_filter = ["criticality", "is_active", "team"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["owner"]
    inlines = [ServiceTargetInline]


@admin.register(ServiceTarget)
class ServiceTargetAdmin(AuditedAdmin):
    list_display = ["service", "priority", "respond_minutes", "resolve_minutes"]
    list_select_related = ["service"]
    list_filter = ["priority"]


@admin.register(PriorityScale)
class PriorityScaleAdmin(AuditedAdmin):
    list_display = ["levels"]


@admin.register(PriorityRule)
class PriorityRuleAdmin(AuditedAdmin):
    list_display = ["impact", "urgency", "priority"]
    list_editable = ["priority"]


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ["name", "code", "parent", "is_active"]
    list_select_related = ["parent"]
    search_fields = ["name", "code"]

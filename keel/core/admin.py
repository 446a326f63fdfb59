"""The Django admin for configuration, with every change written to the audit trail."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from keel.core import audit
from keel.core.models import (
    ApiToken,
    AuditEvent,
    BusinessCalendar,
    CalendarDay,
    Department,
    Organisation,
    Team,
    TeamMembership,
    User,
    WorkingPeriod,
)


def _value(value):
    return getattr(value, "pk", value)


class AuditedAdmin(admin.ModelAdmin):
    """Saves and deletions made in the admin are audited like any other configuration change."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = {}
            if change and form.changed_data:
                original = type(obj).objects.filter(pk=obj.pk).first()
                before = {
                    f: _value(getattr(original, f, None))
                    for f in form.changed_data
                    if hasattr(original, f)
                }
            super().save_model(request, obj, form, change)
            changes = {
                f: [before.get(f), _value(getattr(obj, f, None))]
                for f in form.changed_data
                if f != "password"
            }
            if "password" in form.changed_data:
                changes["password"] = ["***", "***"]
            action = f"{obj._meta.model_name}.{'updated' if change else 'created'}"
            audit.record(
                request.user, action, obj, changes=changes, reason=_("changed in the admin")
            )

    def save_related(self, request, form, formsets, change):
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            for formset in formsets:
                if formset.has_changed():
                    audit.record(
                        request.user,
                        f"{form.instance._meta.model_name}.{formset.model._meta.model_name}_changed",
                        form.instance,
                        changes={"rows": [None, len(formset.forms)]},
                        reason=_("changed in the admin"),
                    )

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit.record(
                request.user,
                f"{obj._meta.model_name}.deleted",
                obj,
                reason=_("deleted in the admin"),
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit.record(
                    request.user,
                    f"{obj._meta.model_name}.deleted",
                    obj,
                    reason=_("deleted in the admin"),
                )
            super().delete_queryset(request, queryset)


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    list_display = ["username", "name", "email", "department", "is_active", "last_login"]
    list_filter = ["is_active", "groups", "department", "language"]
    search_fields = ["username", "name", "email"]
    list_select_related = ["department"]
    autocomplete_fields = ["department", "manager"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (
            _("Person"),
            {
                "fields": [
                    "name",
                    "email",
                    "phone",
                    "language",
                    "time_zone",
                    "department",
                    "manager",
                ]
            },
        ),
        (_("Roles"), {"fields": ["is_active", "groups", "is_staff", "is_superuser"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "username",
                    "name",
                    "email",
                    "password1",
                    "password2",
                    "groups",
                    "department",
                ]
            },
        ),
    ]
    readonly_fields = ["last_login", "date_joined"]
    inlines = [TeamMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_system=False)


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ["name", "code", "time_zone", "calendar"]
    search_fields = ["name", "code"]


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    list_display = ["name", "code", "organisation", "parent", "manager"]
    list_select_related = ["organisation", "parent", "manager"]
    list_filter = ["organisation"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["manager", "parent"]


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "code", "lead", "next_level", "is_active"]
    list_select_related = ["lead", "next_level"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["lead"]
    inlines = [TeamMembershipInline]


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    extra = 0


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(AuditedAdmin):
    list_display = ["name", "time_zone", "country"]
    search_fields = ["name"]
    inlines = [WorkingPeriodInline, CalendarDayInline]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]
    exclude = ["key_hash"]
    search_fields = ["prefix", "user__username", "name"]

    def has_add_permission(self, request):
        return False  # tokens are created with `keel token create` or the API, which show the secret once


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "at", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor_label", "request_id"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

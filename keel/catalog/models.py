"""Services, their service-level targets, the priority matrix and the category tree."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MAX_LEVELS = 5
MIN_LEVELS = 2


class Criticality(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Service(models.Model):
    """An IT service the organisation delivers to its users (e-mail, ERP, laptops, network).

    Incidents name the service they affect; its team is where they are routed, its calendar is
    the clock their deadlines run on, and its targets are the SLA they are measured against.
    """

    name = models.CharField(_("name"), max_length=200, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_services",
    )
    team = models.ForeignKey(
        "core.Team",
        verbose_name=_("support team"),
        on_delete=models.PROTECT,
        related_name="services",
        help_text=_("New incidents on this service go to this team."),
    )
    calendar = models.ForeignKey(
        "core.BusinessCalendar",
        verbose_name=_("business calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
        help_text=_("Deadlines run on this calendar; without one, around the clock."),
    )
    criticality = models.CharField(
        _("criticality"), max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    is_active = models.BooleanField(_("active"), default=True)
    in_portal = models.BooleanField(
        _("shown in the portal"),
        default=True,
        help_text=_("Requesters can report problems with it."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.CheckConstraint(
                condition=Q(criticality__in=["low", "medium", "high", "critical"]),
                name="service_criticality_valid",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ServiceTarget(models.Model):
    """A service-level target: respond and resolve within so many business minutes, per priority.

    Rows without a service are the defaults for services that set no target of their own.
    """

    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="targets",
    )
    priority = models.PositiveSmallIntegerField(_("priority"))
    respond_minutes = models.PositiveIntegerField(_("respond within (business minutes)"))
    resolve_minutes = models.PositiveIntegerField(_("resolve within (business minutes)"))

    class Meta:
        ordering = ["service_id", "priority"]
        verbose_name = _("service-level target")
        verbose_name_plural = _("service-level targets")
        constraints = [
            models.UniqueConstraint(fields=["service", "priority"], name="service_target_unique"),
            models.UniqueConstraint(
                fields=["priority"],
                condition=Q(service__isnull=True),
                name="service_target_default_unique",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=MAX_LEVELS),
                name="service_target_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(respond_minutes__lte=models.F("resolve_minutes")),
                name="service_target_respond_before_resolve",
            ),
        ]

    def __str__(self) -> str:
        return f"P{self.priority}: {self.respond_minutes}/{self.resolve_minutes} min"


class PriorityScale(models.Model):
    """How many impact and urgency levels the organisation uses (3 by default, up to 5)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    levels = models.PositiveSmallIntegerField(_("levels"), default=3)

    class Meta:
        verbose_name = _("priority scale")
        verbose_name_plural = _("priority scale")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="priority_scale_single_row"),
            models.CheckConstraint(
                condition=Q(levels__gte=MIN_LEVELS, levels__lte=MAX_LEVELS),
                name="priority_scale_levels_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.levels} × {self.levels}"


class PriorityRule(models.Model):
    """One cell of the priority matrix: this impact and this urgency give this priority."""

    impact = models.PositiveSmallIntegerField(_("impact"))
    urgency = models.PositiveSmallIntegerField(_("urgency"))
    priority = models.PositiveSmallIntegerField(_("priority"))

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = _("priority rule")
        verbose_name_plural = _("priority matrix")
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="priority_rule_unique"),
            models.CheckConstraint(
                condition=Q(
                    impact__gte=1,
                    impact__lte=MAX_LEVELS,
                    urgency__gte=1,
                    urgency__lte=MAX_LEVELS,
                    priority__gte=1,
                    priority__lte=MAX_LEVELS,
                ),
                name="priority_rule_ranges",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.impact}×{self.urgency} → P{self.priority}"


class Category(models.Model):
    """A category in the tree incidents are classified by (Hardware › Laptop)."""

    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=60, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["parent_id", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"], name="category_name_unique_in_parent"
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="category_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name

"""Configuration items, their types and relations, and the reminders sent before they expire."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from keel.cmdb.lifecycle import Status
from keel.core.permissions import ScopeRules

STATUS_VALUES = sorted(Status.values)


class CIType(models.Model):
    """A kind of configuration item (server, application, laptop, software licence …).

    Administrators define it with typed attributes; every change raises ``version`` and keeps the
    definitions it replaced in :class:`CITypeVersion`, so an item always says which definitions
    its attributes were checked against.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    description = models.TextField(_("description"), blank=True)
    attributes = models.JSONField(
        _("attribute definitions"),
        default=list,
        blank=True,
        help_text=_('A list of {"key", "label", "type", "required", "choices", "help"}.'),
    )
    is_service = models.BooleanField(
        _("business service"),
        default=False,
        help_text=_("Items of this type are business services: impact analysis stops at them."),
    )
    is_active = models.BooleanField(
        _("in use"),
        default=True,
        help_text=_("A type no longer in use keeps its items, but no new ones are recorded."),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("CI type")
        verbose_name_plural = _("CI types")

    def __str__(self) -> str:
        return self.name


class CITypeVersion(models.Model):
    """The attribute definitions a CI type had at one version (the current one included)."""

    type = models.ForeignKey(CIType, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    attributes = models.JSONField(_("attribute definitions"), default=list, blank=True)
    changed_at = models.DateTimeField(_("changed"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["type", "-version"]
        verbose_name = _("CI type version")
        verbose_name_plural = _("CI type versions")
        constraints = [
            models.UniqueConstraint(fields=["type", "version"], name="citype_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} v{self.version}"


class ConfigurationItem(models.Model):
    """Something that must be managed to deliver a service (ISO/IEC 20000-1 8.2.6): a server, an
    application, a laptop, a licence, a business service.

    It has a unique number, a type with typed attributes, a lifecycle status, an owner and a
    support team, and relations to other items; every change is in the audit trail, so what it
    looked like on any date can be answered. A service of the catalogue is a CI too (``service``).
    """

    number = models.CharField(_("number"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    type = models.ForeignKey(
        CIType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="items"
    )
    type_version = models.PositiveIntegerField(
        _("type version"),
        help_text=_("The type's definitions the attributes were checked against."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PLANNED
    )
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_configuration_items",
    )
    team = models.ForeignKey(
        "core.Team",
        verbose_name=_("support team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="configuration_items",
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_configuration_items",
        help_text=_("The person who uses it (their device in the portal)."),
    )
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="configuration_items",
    )
    used_by_departments = models.ManyToManyField(
        "core.Department",
        verbose_name=_("used by"),
        blank=True,
        related_name="used_configuration_items",
        help_text=_("The departments that use this item (for a business service)."),
    )
    location = models.CharField(_("location"), max_length=200, blank=True)
    supplier = models.CharField(_("supplier"), max_length=200, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    warranty_expires = models.DateField(_("warranty expires"), null=True, blank=True)
    licence_expires = models.DateField(_("licence expires"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=200,
        blank=True,
        help_text=_("Its id in the system it was imported from; a re-import updates it."),
    )
    service = models.OneToOneField(
        "catalog.Service",
        verbose_name=_("catalogue service"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="configuration_item",
    )
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))
    version = models.PositiveIntegerField(_("version"), default=1)

    # Requesters see the items assigned to them, department managers their department's; every
    # member of staff reads the whole CMDB (impact analysis crosses teams), and changes are
    # limited to the support team's members by the actions (see ``actions.require_edit``).
    scope = ScopeRules(own=("assigned_to",), department="department")

    class Meta:
        ordering = ["number"]
        verbose_name = _("configuration item")
        verbose_name_plural = _("configuration items")
        permissions = [("import_configurationitem", _("Can import configuration items"))]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=STATUS_VALUES), name="ci_status_valid"),
            models.UniqueConstraint(
                fields=["external_id"], condition=~Q(external_id=""), name="ci_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(cost__gte=0) | Q(cost=None), name="ci_cost_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["type", "status"], name="ci_type_status"),
            models.Index(fields=["status", "number"], name="ci_status_number"),
            # The expiry reminder sweep.
            models.Index(fields=["warranty_expires"], name="ci_warranty_expires"),
            models.Index(fields=["licence_expires"], name="ci_licence_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Dependency(models.TextChoices):
    """Which end of a relation needs the other (and so is hit when the other fails)."""

    SOURCE_ON_TARGET = "source_on_target", _("the source depends on the target")
    TARGET_ON_SOURCE = "target_on_source", _("the target depends on the source")
    NONE = "none", _("neither depends on the other")


class RelationKind(models.Model):
    """A kind of relation between items: runs on, depends on, connects to, hosts, uses, backs up.

    ``dependency`` says which way failure travels, for impact analysis; an ``acyclic`` kind
    refuses a relation that would close a loop ("A runs on B runs on A").
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)
    reverse_name = models.CharField(_("reverse name"), max_length=100)
    dependency = models.CharField(
        _("dependency"), max_length=20, choices=Dependency.choices, default=Dependency.NONE
    )
    acyclic = models.BooleanField(_("no cycles"), default=False)
    is_active = models.BooleanField(
        _("in use"),
        default=True,
        help_text=_("A kind no longer in use keeps its relations, but no new ones are added."),
    )
    source_types = models.ManyToManyField(
        CIType,
        verbose_name=_("allowed source types"),
        blank=True,
        related_name="kinds_from",
        help_text=_("Empty: any type."),
    )
    target_types = models.ManyToManyField(
        CIType,
        verbose_name=_("allowed target types"),
        blank=True,
        related_name="kinds_to",
        help_text=_("Empty: any type."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("relation kind")
        verbose_name_plural = _("relation kinds")
        constraints = [
            models.CheckConstraint(
                condition=Q(dependency__in=Dependency.values), name="relation_kind_dependency_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Relation(models.Model):
    """One item related to another ("Payroll app runs on srv-12").

    ``dependent`` and ``dependency`` repeat the ends by who needs whom (from the kind), so the
    impact query follows one indexed pair of columns whatever the kind; both are empty for kinds
    without a dependency ("connects to").
    """

    # Indexed by the unique constraint (source first) and relation_target_kind (target first).
    source = models.ForeignKey(
        ConfigurationItem, on_delete=models.PROTECT, related_name="relations_out", db_index=False
    )
    target = models.ForeignKey(
        ConfigurationItem, on_delete=models.PROTECT, related_name="relations_in", db_index=False
    )
    kind = models.ForeignKey(RelationKind, on_delete=models.PROTECT, related_name="relations")
    dependent = models.ForeignKey(
        ConfigurationItem, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    dependency = models.ForeignKey(
        ConfigurationItem, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("relation")
        verbose_name_plural = _("relations")
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="relation_unique"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="relation_not_to_itself"),
            models.CheckConstraint(
                condition=Q(dependent=F("source"), dependency=F("target"))
                | Q(dependent=F("target"), dependency=F("source"))
                | Q(dependent__isnull=True, dependency__isnull=True),
                name="relation_dependency_matches_ends",
            ),
        ]
        indexes = [
            # Impact upwards (who depends on X) and downwards (what X depends on).
            models.Index(fields=["dependency", "dependent"], name="relation_up"),
            models.Index(fields=["dependent", "dependency"], name="relation_down"),
            models.Index(fields=["target", "kind"], name="relation_target_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind_id} {self.target_id}"


class ExpiryKind(models.TextChoices):
    WARRANTY = "warranty", _("Warranty")
    LICENCE = "licence", _("Licence")


class ExpiryReminder(models.Model):
    """A reminder that an item's warranty or licence runs out soon: sent once per expiry date."""

    item = models.ForeignKey(
        ConfigurationItem, on_delete=models.CASCADE, related_name="expiry_reminders"
    )
    kind = models.CharField(_("what expires"), max_length=10, choices=ExpiryKind.choices)
    expires_on = models.DateField(_("expires on"))
    created_at = models.DateTimeField(_("due"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    sent_to = models.JSONField(_("sent to"), default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["item", "kind", "expires_on"], name="expiry_reminder_once"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ExpiryKind.values), name="expiry_reminder_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind} {self.expires_on}"

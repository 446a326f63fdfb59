"""Incidents, their timeline, attachments, and the post-incident review of major incidents."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from keel.core.permissions import ScopeRules
from keel.incidents.lifecycle import OPEN, HoldReason, Status

MAX_LEVEL = 5
OPEN_VALUES = sorted(s.value for s in OPEN)


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    WALK_IN = "walk_in", _("Walk-in")
    CHAT = "chat", _("Chat")
    API = "api", _("API")
    MONITORING = "monitoring", _("Monitoring")
    IMPORT = "import", _("Import")


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", _("Fixed")
    WORKAROUND = "workaround", _("Workaround given")
    USER_ERROR = "user_error", _("User error / advice given")
    NO_FAULT_FOUND = "no_fault_found", _("No fault found")
    DUPLICATE = "duplicate", _("Duplicate")
    HARDWARE_REPLACED = "hardware_replaced", _("Hardware replaced")
    SUPPLIER_FIXED = "supplier_fixed", _("Fixed by supplier")
    OTHER = "other", _("Other")


class Incident(models.Model):
    """An unplanned interruption or reduction in quality of a service (ISO/IEC 20000-1 8.6.1).

    Recorded with a number, classified, prioritised by impact and urgency, owned by one team at
    every moment, measured against the service's SLA on its business calendar, resolved, and
    closed once the requester confirms (or the confirmation period passes).
    """

    number = models.CharField(_("number"), max_length=20, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # No index of its own: ``incident_requester`` (requester, created_at) serves every lookup,
    # and each index is one more page written per recorded incident.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requester"),
        on_delete=models.PROTECT,
        related_name="incidents_requested",
        db_index=False,
    )
    department = models.ForeignKey(
        "core.Department",
        verbose_name=_("department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents_recorded",
        db_index=False,  # indexed where set: see Meta.indexes
    )
    # No index of its own: ``incident_service`` (service, created_at) serves every lookup.
    service = models.ForeignKey(
        "catalog.Service",
        verbose_name=_("service"),
        on_delete=models.PROTECT,
        related_name="incidents",
        db_index=False,
    )
    category = models.ForeignKey(
        "catalog.Category",
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
        db_index=False,  # indexed where set: see Meta.indexes
    )
    impact = models.PositiveSmallIntegerField(_("impact"))
    urgency = models.PositiveSmallIntegerField(_("urgency"))
    priority = models.PositiveSmallIntegerField(_("priority"))
    priority_reason = models.TextField(_("reason for the priority"), blank=True)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.PORTAL
    )
    team = models.ForeignKey(
        "core.Team", verbose_name=_("team"), on_delete=models.PROTECT, related_name="incidents"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents_assigned",
        db_index=False,  # indexed where set: see Meta.indexes
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    is_open = models.BooleanField(_("open"), default=True)
    hold_reason = models.CharField(
        _("on hold because"), max_length=30, choices=HoldReason.choices, blank=True
    )
    resolution_code = models.CharField(
        _("resolution code"), max_length=30, choices=ResolutionCode.choices, blank=True
    )
    resolution_notes = models.TextField(_("resolution notes"), blank=True)

    created_at = models.DateTimeField(_("recorded"), db_index=True)
    updated_at = models.DateTimeField(_("updated"))
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # When the requester confirmed a resolution that could not close yet (a major incident
    # waiting for its review); it closes as the review is completed.
    confirmed_at = models.DateTimeField(_("resolution confirmed"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    respond_by = models.DateTimeField(_("respond by"), null=True, blank=True)
    resolve_by = models.DateTimeField(_("resolve by"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    paused_at = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    paused_minutes = models.FloatField(_("business minutes on hold"), default=0)
    response_breached = models.BooleanField(_("response target missed"), default=False)
    resolution_breached = models.BooleanField(_("resolution target missed"), default=False)
    warned = models.BooleanField(_("warning sent"), default=False)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)

    reassignment_count = models.PositiveIntegerField(_("reassignments"), default=0)
    reopen_count = models.PositiveIntegerField(_("reopened"), default=0)

    is_major = models.BooleanField(_("major incident"), default=False)
    major_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("major-incident manager"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="major_incidents_managed",
        db_index=False,  # indexed where set: see Meta.indexes
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("major incident"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        db_index=False,  # indexed where set: see Meta.indexes
    )

    rating = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    rating_comment = models.TextField(_("satisfaction comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)

    # Where an imported incident came from ("bpic2014", "servicenow"…) and its id there; re-running
    # an import finds the incident by the pair and updates it instead of adding another.
    import_source = models.CharField(_("imported from"), max_length=40, blank=True)
    external_id = models.CharField(_("source id"), max_length=100, blank=True)
    affected_cis = models.ManyToManyField(
        "cmdb.ConfigurationItem",
        verbose_name=_("affected configuration items"),
        blank=True,
        related_name="incidents",
    )
    version = models.PositiveIntegerField(_("version"), default=1)

    # The requester sees their own, and so does the agent who recorded it for them.
    scope = ScopeRules(own=("requester", "reported_by"), department="department", team="team")

    class Meta:
        ordering = ["priority", "resolve_by"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        permissions = [
            ("assign_incident", _("Can assign incidents")),
            ("work_incident", _("Can work on incidents")),
            ("cancel_incident", _("Can cancel incidents")),
            ("override_priority", _("Can override an incident's priority")),
            ("manage_major_incident", _("Can run the major-incident procedure")),
        ]
        indexes = [
            # The queues: open work by team / assignee, urgent first, earliest deadline first.
            models.Index(
                fields=["team", "priority", "resolve_by"],
                condition=Q(is_open=True),
                name="incident_team_queue",
            ),
            models.Index(
                fields=["assignee", "priority", "resolve_by"],
                condition=Q(is_open=True),
                name="incident_assignee_queue",
            ),
            models.Index(
                fields=["priority", "resolve_by"],
                condition=Q(is_open=True),
                name="incident_open_queue",
            ),
            # The SLA sweep: open incidents whose next deadline has come.
            models.Index(
                fields=["resolve_by"],
                condition=Q(is_open=True, paused_at__isnull=True),
                name="incident_sla_due",
            ),
            models.Index(fields=["requester", "created_at"], name="incident_requester"),
            models.Index(fields=["status", "priority", "resolve_by"], name="incident_status"),
            models.Index(fields=["service", "created_at"], name="incident_service"),
            models.Index(
                fields=["external_id"], condition=~Q(external_id=""), name="incident_external_id"
            ),
            # Columns empty on most rows, or on every row when it is recorded, are indexed only
            # where they hold a value: the lookups (a person's, a category's, a major incident's
            # children, resolutions in a period) all name a value, and recording an incident
            # writes no index page for them.
            *(
                models.Index(
                    fields=[field],
                    condition=Q(**{f"{field}__isnull": False}),
                    name=f"incident_{field}",
                )
                for field in ("assignee", "reported_by", "category", "major_manager", "parent")
            ),
            models.Index(
                fields=["resolved_at"],
                condition=Q(resolved_at__isnull=False),
                name="incident_resolved_at",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["import_source", "external_id"],
                condition=~Q(external_id=""),
                name="incident_source_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="incident_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    impact__gte=1, impact__lte=MAX_LEVEL, urgency__gte=1, urgency__lte=MAX_LEVEL
                ),
                name="incident_levels_range",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=MAX_LEVEL),
                name="incident_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="incident_rating_range",
            ),
            models.CheckConstraint(
                condition=(Q(is_open=True) & Q(status__in=OPEN_VALUES))
                | (Q(is_open=False) & ~Q(status__in=OPEN_VALUES)),
                name="incident_is_open_matches_status",
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="incident_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def priority_code(self) -> str:
        return f"P{self.priority}"


# Audiences of a major incident's stakeholder updates that are stored as keys, so that each
# reader sees them in their own language; any other audience is stored as written.
AUDIENCES = {
    "stakeholders": _("stakeholders"),
    "service_users": _("All users of the service"),
}


class EventKind(models.TextChoices):
    CREATED = "created", _("Recorded")
    COMMENT = "comment", _("Comment")
    WORKLOG = "worklog", _("Work log")
    STATUS = "status", _("Status change")
    ASSIGNMENT = "assignment", _("Assignment")
    PRIORITY = "priority", _("Priority change")
    EMAIL = "email", _("E-mail")
    SLA = "sla", _("Service level")
    ESCALATION = "escalation", _("Escalation")
    COMMUNICATION = "communication", _("Stakeholder update")
    RATING = "rating", _("Rating")
    ATTACHMENT = "attachment", _("Attachment")
    MAJOR = "major", _("Major incident")
    LINK = "link", _("Link")
    INTERACTION = "interaction", _("Contact")
    # A step recorded in another tool that has no Keel counterpart (kept with its own name).
    ACTIVITY = "activity", _("Activity")


class IncidentEvent(models.Model):
    """One entry in an incident's timeline: a comment, work logged, a change of state or owner.

    ``public`` entries are shown to the requester; internal ones only to staff.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    public = models.BooleanField(_("visible to the requester"), default=False)
    body = models.TextField(_("text"), blank=True)
    minutes = models.PositiveIntegerField(_("minutes spent"), null=True, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    # For events imported from another tool's activity log: a digest of the source line, so a
    # re-run of the import recognises the events it already brought in.
    import_key = models.CharField(_("import key"), max_length=40, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")
        indexes = [models.Index(fields=["incident", "at"], name="incident_event_timeline")]
        constraints = [
            models.UniqueConstraint(
                fields=["import_key"], condition=~Q(import_key=""), name="incident_event_import_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"incidents/{instance.incident_id}/{filename}"


class Attachment(models.Model):
    """A file attached to an incident (a screenshot, a log), within size and type limits."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=100)
    public = models.BooleanField(_("visible to the requester"), default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded"))

    class Meta:
        ordering = ["uploaded_at"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class PostIncidentReview(models.Model):
    """The review a major incident needs before it may close: what happened, why, and what next."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    timeline = models.TextField(_("timeline"), blank=True)
    cause = models.TextField(_("cause"), blank=True)
    went_well = models.TextField(_("what went well"), blank=True)
    went_badly = models.TextField(_("what went badly"), blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by"),
    )

    class Meta:
        verbose_name = _("post-incident review")
        verbose_name_plural = _("post-incident reviews")

    def __str__(self) -> str:
        return f"{self.incident.number} review"


class ReviewAction(models.Model):
    """An improvement agreed in a post-incident review, with an owner and a due date."""

    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="actions")
    description = models.TextField(_("action"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    due = models.DateField(_("due"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        ordering = ["due", "id"]
        verbose_name = _("review action")
        verbose_name_plural = _("review actions")

    def __str__(self) -> str:
        return self.description[:80]


class Interaction(models.Model):
    """One contact with the service desk: a call, an e-mail, a chat message or a walk-in.

    Every contact is recorded, whether the agent settled it there and then (resolved at first
    contact) or it led to an incident; first-contact resolution is counted from these.
    """

    number = models.CharField(_("number"), max_length=20, unique=True)
    contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    summary = models.TextField(_("summary"), blank=True)
    service = models.ForeignKey(
        "catalog.Service",
        verbose_name=_("service"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    category = models.ForeignKey(
        "catalog.Category",
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    ci = models.ForeignKey(
        "cmdb.ConfigurationItem",
        verbose_name=_("configuration item"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    handle_seconds = models.PositiveIntegerField(_("handle time (seconds)"), null=True, blank=True)
    resolved_first_contact = models.BooleanField(_("resolved at first contact"), default=False)
    incident = models.ForeignKey(
        Incident,
        verbose_name=_("incident"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    import_source = models.CharField(_("imported from"), max_length=40, blank=True)
    external_id = models.CharField(_("source id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("recorded"))

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["incident", "started_at"], name="interaction_incident"),
            models.Index(fields=["started_at"], name="interaction_started"),
            models.Index(fields=["contact", "started_at"], name="interaction_contact"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["import_source", "external_id"],
                condition=~Q(external_id=""),
                name="interaction_source_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="interaction_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.number

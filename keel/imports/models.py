"""A record of each import: what was read, from where, by whom, and what came of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    source = models.CharField(_("source"), max_length=40, db_index=True)
    title = models.CharField(_("title"), max_length=200)
    mapping = models.CharField(_("mapping file"), max_length=500)
    data_dir = models.CharField(_("data folder"), max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Per file: {"path", "target", "read", "created", "updated", "rejected", "warnings", "seconds"}.
    summary = models.JSONField(_("summary"), default=list, blank=True)
    # The first rejections and warnings: {"file", "line", "column", "message", "warning"}.
    problems = models.JSONField(_("problems"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        permissions = [("run_import", _("Can import records from other tools"))]

    def __str__(self) -> str:
        return f"{self.title} {self.started_at:%Y-%m-%d %H:%M}"

"""Import runs in the admin, to look up: what was imported, from where, by whom, with what result.

Runs are made by ``keel import``; nothing is added, changed or deleted here.
"""

from __future__ import annotations

from django.contrib import admin

from keel.cmdb.admin import ReadOnlyAdmin
from keel.imports.models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ["title", "status", "started_at", "finished_at", "actor"]
    list_filter = ["status", "source"]
    search_fields = ["title", "source", "mapping"]
    readonly_fields = [
        "source",
        "title",
        "mapping",
        "data_dir",
        "actor",
        "status",
        "started_at",
        "finished_at",
        "summary",
        "problems",
        "error",
    ]

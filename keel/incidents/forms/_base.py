"""What the incident forms share: multiple files, checking uploads, level choices, people, and
the base of every form on the incident page (it knows the incident and carries its version)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.catalog.priority import level_label
from keel.core.models import User
from keel.core.permissions import is_staff_member
from keel.incidents import actions
from keel.incidents.models import Incident
from keel.web.forms import KeelForm


def textarea(rows: int = 4, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, **attrs})


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files in one input (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def upload_problems(uploads: list[UploadedFile]) -> list[str]:
    """What is wrong with each file, checked before anything is written.

    The action checks again when it stores each file; checking all of them first means a bad
    third file never leaves the first two (or a new incident) behind.
    """
    limit = actions._max_attachment_bytes()
    problems = []
    for upload in uploads:
        name = PurePath(upload.name or "").name
        extension = PurePath(name).suffix.lower()
        if extension not in actions.ALLOWED_EXTENSIONS:
            problems.append(
                _("“%(name)s”: files of type %(ext)s are not accepted.")
                % {"name": name, "ext": extension or _("(none)")}
            )
        elif upload.size is None or upload.size > limit:
            problems.append(
                _("“%(name)s” is %(size)s; files may be at most %(max)s.")
                % {
                    "name": name,
                    "size": filesizeformat(upload.size or 0),
                    "max": filesizeformat(limit),
                }
            )
    return problems


def level_choices(help_texts: dict[int, Any]) -> list[tuple[str, Any]]:
    """Impact or urgency levels, 1 (highest) first, each with a line saying what it means."""
    levels = catalog.levels()
    choices = []
    for level in range(1, levels + 1):
        help_text = help_texts.get(level, "") if levels == 3 else ""
        choices.append(
            (
                str(level),
                format_html(
                    '<span class="choice-title">{}</span><span class="choice-help">{}</span>',
                    level_label(level, levels),
                    help_text,
                ),
            )
        )
    return choices


def plain_level_choices() -> list[tuple[str, str]]:
    levels = catalog.levels()
    return [(str(n), f"{n} · {level_label(n, levels)}") for n in range(1, levels + 1)]


def agents() -> Any:
    """People who may work on incidents (for managers and review-action owners)."""
    return (
        User.objects.filter(is_active=True, is_system=False)
        .filter(
            Q(
                groups__permissions__codename="work_incident",
                groups__permissions__content_type__app_label="incidents",
            )
            | Q(is_superuser=True)
        )
        .distinct()
        .order_by("name", "username")
    )


def people_choices(users: Any, empty: Any = None) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", empty)] if empty is not None else []
    return choices + [(str(u.pk), str(u)) for u in users]


class IncidentForm(KeelForm):
    """A form on an incident's page: it knows the incident and carries the version it was read at."""

    key = ""
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    versioned = True

    def __init__(self, *args: Any, incident: Incident, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.key.replace('-', '_')}_%s")
        super().__init__(*args, **kwargs)
        self.incident, self.user = incident, user
        self.staff = is_staff_member(user)
        if not self.is_bound:
            self.initial.setdefault("version", incident.version)
        if not self.versioned:
            del self.fields["version"]

    def field_for_error(self, name: str) -> str | None:
        if name == "version":
            return None
        return super().field_for_error(name)

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if self.versioned and data.get("version") is None:
            data.pop("version", None)
        return data

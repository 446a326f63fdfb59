"""Working an incident: comments, work logged, files, and its priority."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.catalog.priority import PRIORITY_LABELS
from keel.incidents import actions
from keel.incidents.forms._base import (
    IncidentForm,
    MultipleFileField,
    plain_level_choices,
    textarea,
    upload_problems,
)


class CommentForm(IncidentForm):
    key = "comment"
    versioned = False
    body = forms.CharField(
        label=gettext_lazy("Comment"),
        max_length=actions.TEXT_MAX,
        widget=textarea(4),
        help_text=gettext_lazy("Markdown is supported."),
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("Who sees it"),
        choices=[
            ("public", gettext_lazy("Reply to the requester")),
            ("internal", gettext_lazy("Internal note")),
        ],
        initial="public",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.staff:
            del self.fields["visibility"]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"body": data["body"], "public": data.get("visibility", "public") == "public"}


class WorklogForm(IncidentForm):
    key = "worklog"
    versioned = False
    minutes = forms.IntegerField(
        label=gettext_lazy("Minutes spent"),
        min_value=1,
        max_value=actions.WORKLOG_MAX_MINUTES,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    body = forms.CharField(
        label=gettext_lazy("What was done"),
        required=False,
        max_length=actions.TEXT_MAX,
        widget=textarea(2),
    )
    public = forms.BooleanField(label=gettext_lazy("Visible to the requester"), required=False)


class AttachmentForm(IncidentForm):
    key = "attach"
    versioned = False
    files = MultipleFileField(label=gettext_lazy("Files"))
    public = forms.BooleanField(
        label=gettext_lazy("Visible to the requester"), required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = _("Up to %(max)s each.") % {
            "max": filesizeformat(actions._max_attachment_bytes())
        }
        if not self.staff:
            del self.fields["public"]

    def field_for_error(self, name: str) -> str | None:
        return "files" if name == "file" else super().field_for_error(name)

    def clean_files(self) -> list[UploadedFile]:
        uploads = self.cleaned_data.get("files") or []
        problems = upload_problems(uploads)
        if problems:
            raise forms.ValidationError(problems)
        return uploads

    def values(self) -> dict[str, Any]:
        return {
            "uploads": self.cleaned_data["files"],
            "public": self.cleaned_data.get("public", True),
        }


class PriorityForm(IncidentForm):
    key = "priority"
    impact = forms.TypedChoiceField(label=gettext_lazy("Impact"), coerce=int)
    urgency = forms.TypedChoiceField(label=gettext_lazy("Urgency"), coerce=int)
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Override the priority"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=gettext_lazy("Only when the matrix gets it wrong; say why below."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), required=False, max_length=2000, widget=textarea(2)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["impact"].choices = plain_level_choices()
        self.fields["urgency"].choices = plain_level_choices()
        self.initial.setdefault("impact", str(self.incident.impact))
        self.initial.setdefault("urgency", str(self.incident.urgency))
        if self.user.has_perm("incidents.override_priority"):
            self.fields["priority"].choices = [("", _("Follow the matrix"))] + [
                (str(p), f"P{p} · {label}") for p, label in PRIORITY_LABELS.items()
            ]
        else:
            del self.fields["priority"]

"""The major-incident procedure: declaring it, stakeholder updates, links, the review."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.core.errors import NotFound
from keel.incidents import actions, queries
from keel.incidents.forms._base import IncidentForm, agents, people_choices, textarea
from keel.incidents.models import AUDIENCES, Incident


class MajorForm(IncidentForm):
    key = "major"
    versioned = False
    manager = forms.ChoiceField(label=gettext_lazy("Major-incident manager"))
    reason = forms.CharField(
        label=gettext_lazy("Why is it major?"), required=False, max_length=2000, widget=textarea(2)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {str(u.pk): u for u in agents()}
        self.fields["manager"].choices = people_choices(self.people.values(), _("Choose…"))
        self.initial.setdefault("manager", str(self.user.pk))

    def values(self) -> dict[str, Any]:
        data = super().values()
        data["manager"] = self.people.get(data["manager"])
        return data


class CommunicateForm(IncidentForm):
    key = "communicate"
    versioned = False
    audience = forms.CharField(
        label=gettext_lazy("To"),
        max_length=200,
        initial=AUDIENCES["service_users"],
    )
    body = forms.CharField(
        label=gettext_lazy("Update"),
        max_length=actions.TEXT_MAX,
        widget=textarea(3),
        help_text=gettext_lazy("What is known, what is being done, when the next update comes."),
    )

    def clean_audience(self) -> str:
        """A suggested audience, as offered in the reader's language, is kept as its key."""
        audience = self.cleaned_data["audience"].strip()
        for key, label in AUDIENCES.items():
            if audience.casefold() in {str(label).casefold(), key}:
                return key
        return audience


class LinkForm(IncidentForm):
    key = "link"
    versioned = False
    child = forms.CharField(
        label=gettext_lazy("Incident number"),
        max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "INC-000123", "spellcheck": "false"}),
    )

    def clean_child(self) -> Incident:
        try:
            return queries.incident_for(self.user, self.cleaned_data["child"])
        except NotFound:
            raise forms.ValidationError(_("There is no such incident that you can see.")) from None


class ReviewForm(IncidentForm):
    key = "review"
    versioned = False
    timeline = forms.CharField(label=gettext_lazy("Timeline"), required=False, widget=textarea(4))
    cause = forms.CharField(label=gettext_lazy("Cause"), required=False, widget=textarea(3))
    went_well = forms.CharField(
        label=gettext_lazy("What went well"), required=False, widget=textarea(3)
    )
    went_badly = forms.CharField(
        label=gettext_lazy("What went badly"), required=False, widget=textarea(3)
    )

    def __init__(self, *args: Any, review: Any = None, **kwargs: Any) -> None:
        if review is not None:
            kwargs.setdefault("initial", {f: getattr(review, f) for f in actions.REVIEW_FIELDS})
        super().__init__(*args, **kwargs)

    def field_for_error(self, name: str) -> str | None:
        return None if name == "actions" else super().field_for_error(name)

    def values(self) -> dict[str, Any]:
        data = {f: self.cleaned_data[f] for f in actions.REVIEW_FIELDS}
        return {**data, "complete": "complete" in self.data}


class ReviewActionForm(IncidentForm):
    key = "review-action"
    versioned = False
    description = forms.CharField(label=gettext_lazy("Action"), max_length=2000, widget=textarea(2))
    owner = forms.ChoiceField(label=gettext_lazy("Owner"))
    due = forms.DateField(
        label=gettext_lazy("Due"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {str(u.pk): u for u in agents()}
        self.fields["owner"].choices = people_choices(self.people.values(), _("Choose…"))

    def values(self) -> dict[str, Any]:
        data = super().values()
        data["owner"] = self.people.get(data["owner"])
        return data

"""Logging contacts with the desk: the contact page's form and the one on an incident's page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.catalog import queries as catalog
from keel.catalog.models import Category
from keel.core import queries as people
from keel.core.models import User
from keel.core.permissions import NotFound
from keel.incidents import actions, queries
from keel.incidents.actions.interactions import HANDLE_MAX_SECONDS, SUMMARY_MAX
from keel.incidents.forms._base import IncidentForm, plain_level_choices, textarea
from keel.incidents.models import Incident
from keel.web.forms import KeelForm

CHANNEL_CHOICES = [(c.value, c.label) for c in actions.CONTACT_CHANNELS]
OUTCOMES = [
    ("resolved", gettext_lazy("Resolved at first contact")),
    ("incident", gettext_lazy("Open an incident from it")),
    ("logged", gettext_lazy("Only log it")),
]
# Where an action's field errors show on these forms.
ERROR_FIELDS = {
    "handle_seconds": "minutes",
    "new_incident.title": "title",
    "new_incident.impact": "impact",
    "new_incident.urgency": "urgency",
    "new_incident.description": "summary",
    "resolved_first_contact": "outcome",
    "started_at": None,
    "ended_at": None,
}


def _channel_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=gettext_lazy("Channel"),
        choices=CHANNEL_CHOICES,
        initial=CHANNEL_CHOICES[0][0],
        widget=forms.RadioSelect,
    )


def _minutes_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=gettext_lazy("Handle time (min)"),
        required=False,
        min_value=0,
        max_value=HANDLE_MAX_SECONDS // 60,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


def _summary_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("Summary"),
        required=False,
        max_length=SUMMARY_MAX,
        widget=textarea(3),
        **kwargs,
    )


class ContactForm(KeelForm):
    """The contact page's "Log a contact": who, how, what about, and what came of it."""

    channel = _channel_field()
    contact = forms.CharField(
        label=gettext_lazy("Who contacted us"),
        required=False,
        max_length=254,
        help_text=gettext_lazy("Their user name or e-mail address; leave empty if unknown."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "list": "contact-options"}
        ),
    )
    summary = _summary_field(
        help_text=gettext_lazy("What they asked, and what you told or did for them.")
    )
    service = forms.ChoiceField(label=gettext_lazy("Service"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    minutes = _minutes_field()
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=OUTCOMES,
        initial="resolved",
        widget=forms.RadioSelect,
    )
    incident = forms.CharField(
        label=gettext_lazy("About incident"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("Its number, when they asked about an existing incident."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    title = forms.CharField(
        label=gettext_lazy("Incident title"),
        required=False,
        max_length=actions.TITLE_MAX,
        help_text=gettext_lazy("Defaults to the first line of the summary."),
    )
    impact = forms.TypedChoiceField(
        label=gettext_lazy("Impact"), coerce=int, required=False, empty_value=None
    )
    urgency = forms.TypedChoiceField(
        label=gettext_lazy("Urgency"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.services = {str(s.pk): s for s in catalog.services(portal_only=False)}
        self.fields["service"].choices = [("", _("Not known"))] + [
            (pk, s.name) for pk, s in self.services.items()
        ]
        self.fields["category"].choices = [("", _("Not known"))] + [
            (str(pk), path) for pk, path in catalog.category_choices()
        ]
        levels = [("", "—"), *plain_level_choices()]
        self.fields["impact"].choices = levels
        self.fields["urgency"].choices = levels
        self.fields["contact"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:contact-people"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#contact-options",
                "hx-swap": "innerHTML",
            }
        )

    def field_for_error(self, name: str) -> str | None:
        if name in ERROR_FIELDS:
            return ERROR_FIELDS[name]
        return super().field_for_error(name)

    def clean_contact(self) -> User | None:
        text = (self.cleaned_data.get("contact") or "").strip()
        if not text:
            return None
        found = list(
            people.users_for(self.viewer).filter(Q(username__iexact=text) | Q(email__iexact=text))[
                :2
            ]
        )
        exact = [u for u in found if u.username.lower() == text.lower()]
        if len(found) == 1 or len(exact) == 1:
            return (exact or found)[0]
        if found:
            raise forms.ValidationError(
                _("Several people use this e-mail address; type the user name instead.")
            )
        raise forms.ValidationError(_("Nobody with this user name or e-mail address."))

    def clean_incident(self) -> Incident | None:
        text = (self.cleaned_data.get("incident") or "").strip()
        if not text:
            return None
        try:
            return queries.incident_for(self.viewer, text)
        except NotFound:
            raise forms.ValidationError(
                _("There is no incident with this number that you can see.")
            ) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == "incident":
            for name in ("impact", "urgency"):
                if data.get(name) is None:
                    self.add_error(name, _("Choose a level for the new incident."))
            if data.get("incident"):
                self.add_error(
                    "incident", _("Leave this empty when you open a new incident from the contact.")
                )
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        outcome = data["outcome"]
        minutes = data.get("minutes")
        category = None
        if data.get("category"):
            category = Category.objects.filter(pk=int(data["category"])).first()
        values: dict[str, Any] = {
            "channel": data["channel"],
            "summary": data.get("summary") or "",
            "contact": data.get("contact"),
            "service": self.services.get(data.get("service") or ""),
            "category": category,
            "handle_seconds": minutes * 60 if minutes is not None else None,
            "resolved_first_contact": outcome == "resolved",
            "incident": data.get("incident") if outcome != "incident" else None,
        }
        if outcome == "incident":
            values["new_incident"] = {
                "title": data.get("title") or "",
                "impact": data.get("impact"),
                "urgency": data.get("urgency"),
            }
        return values


class IncidentContactForm(IncidentForm):
    """Log a contact about this incident (the requester chasing it, an update by phone…)."""

    key = "contact"
    versioned = False
    channel = _channel_field()
    summary = _summary_field()
    minutes = _minutes_field()
    from_requester = forms.BooleanField(
        label=gettext_lazy("With the requester"), required=False, initial=True
    )

    def field_for_error(self, name: str) -> str | None:
        if name in ERROR_FIELDS:
            return ERROR_FIELDS[name]
        if name == "contact":
            return "from_requester"
        return super().field_for_error(name)

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        minutes = data.get("minutes")
        return {
            "channel": data["channel"],
            "summary": data.get("summary") or "",
            "handle_seconds": minutes * 60 if minutes is not None else None,
            "contact": self.incident.requester if data.get("from_requester") else None,
        }

"""Recording an incident: the portal's report and an agent recording for someone."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.catalog import queries as catalog
from keel.catalog.models import Category
from keel.catalog.priority import IMPACT_HELP, URGENCY_HELP
from keel.cmdb import queries as cmdb
from keel.core import queries as people
from keel.core.models import User
from keel.core.permissions import NotFound
from keel.incidents import actions
from keel.incidents.forms._base import MultipleFileField, level_choices, textarea, upload_problems
from keel.incidents.models import Channel
from keel.web.forms import KeelForm

# Channels an agent records on someone's behalf (the portal, API and monitoring record themselves).
AGENT_CHANNELS = [Channel.PHONE, Channel.WALK_IN, Channel.EMAIL, Channel.CHAT]


class ReportForm(KeelForm):
    """A requester's report in the portal: which service, what happened, how urgent, who is hit."""

    service = forms.ChoiceField(label=gettext_lazy("Which service has the problem?"))
    title = forms.CharField(
        label=gettext_lazy("What happened?"),
        max_length=actions.TITLE_MAX,
        help_text=gettext_lazy("In a few words, for example “Laptop does not start”."),
    )
    description = forms.CharField(
        label=gettext_lazy("Details"),
        required=False,
        max_length=actions.TEXT_MAX,
        widget=textarea(6),
        help_text=gettext_lazy(
            "What you were doing, what you expected, any error message. Markdown is supported."
        ),
    )
    urgency = forms.ChoiceField(label=gettext_lazy("How urgent is it?"), widget=forms.RadioSelect)
    impact = forms.ChoiceField(label=gettext_lazy("Who is affected?"), widget=forms.RadioSelect)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    ci = forms.ChoiceField(label=gettext_lazy("Which device?"), required=False)
    attachments = MultipleFileField(
        label=gettext_lazy("Attachments"),
        required=False,
        help_text=gettext_lazy("Screenshots, photos or log files."),
    )

    portal_only = True

    def __init__(self, *args: Any, viewer: Any = None, **kwargs: Any) -> None:
        self.viewer = viewer
        super().__init__(*args, **kwargs)
        self._setup_ci()
        self.services = {str(s.pk): s for s in catalog.services(portal_only=self.portal_only)}
        self.fields["service"].choices = [("", _("Choose a service…"))] + [
            (pk, s.name) for pk, s in self.services.items()
        ]
        self.fields["urgency"].choices = level_choices(URGENCY_HELP)
        self.fields["impact"].choices = level_choices(IMPACT_HELP)
        self.fields["category"].choices = [("", _("Not sure"))] + [
            (str(pk), path) for pk, path in catalog.category_choices()
        ]
        self.fields["attachments"].help_text = _(
            "Screenshots, photos or log files; up to %(max)s each."
        ) % {"max": filesizeformat(actions._max_attachment_bytes())}
        self.fields["attachments"].widget.attrs["accept"] = ",".join(
            sorted(actions.ALLOWED_EXTENSIONS)
        )
        if not self.is_bound:
            self.initial.setdefault("impact", str(catalog.levels()))

    def _setup_ci(self) -> None:
        """The requester's devices; choosing one asks "is this already known?" (htmx)."""
        devices = cmdb.devices_of(self.viewer) if self.viewer is not None else []
        self.fields["ci"].choices = [("", _("None of these / not sure"))] + [
            (str(d.pk), f"{d.name} ({d.number})") for d in devices
        ]
        self._known_issues_attrs()

    def _known_issues_attrs(self) -> None:
        self.fields["ci"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:known-issues"),
                "hx-trigger": "change, keyup changed delay:400ms",
                "hx-target": "#known-issues",
                "hx-swap": "innerHTML",
            }
        )

    def field_for_error(self, name: str) -> str | None:
        if name == "file":
            return "attachments"
        if name == "cis":
            return "ci"
        return super().field_for_error(name)

    def clean_attachments(self) -> list[UploadedFile]:
        uploads = self.cleaned_data.get("attachments") or []
        problems = upload_problems(uploads)
        if problems:
            raise forms.ValidationError(problems)
        return uploads

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        category = None
        if data.get("category"):
            category = Category.objects.filter(pk=int(data["category"])).first()
        return {
            "title": data["title"],
            "description": data["description"],
            "service": self.services.get(data["service"]),
            "impact": int(data["impact"]),
            "urgency": int(data["urgency"]),
            "category": category,
            "cis": [int(data["ci"])] if data.get("ci") else [],
        }


class RecordForm(ReportForm):
    """An agent recording an incident for someone who phoned, walked in, wrote or chatted."""

    requester = forms.CharField(
        label=gettext_lazy("Requester"),
        max_length=254,
        help_text=gettext_lazy("Their user name or e-mail address."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "list": "requester-options"}
        ),
    )
    ci = forms.CharField(
        label=gettext_lazy("Configuration item"),
        required=False,
        max_length=40,
        help_text=gettext_lazy("Its number, for example CI-000123, or its id."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("How did they reach us?"),
        choices=[(c.value, c.label) for c in AGENT_CHANNELS],
        widget=forms.RadioSelect,
        initial=Channel.PHONE.value,
    )

    portal_only = False
    field_order = ["requester", "channel"]

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        super().__init__(*args, viewer=viewer, **kwargs)
        self.fields["channel"].choices = [(c.value, c.label) for c in AGENT_CHANNELS]
        self.fields["description"].help_text = _(
            "What they were doing, what they expected, any error message, what you tried. "
            "Markdown is supported."
        )
        # Suggestions while typing (htmx fills the datalist); typing the name in full works without.
        self.fields["requester"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:people-options"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#requester-options",
                "hx-swap": "innerHTML",
            }
        )

    def _setup_ci(self) -> None:
        self._known_issues_attrs()

    def clean_ci(self) -> str:
        text = (self.cleaned_data.get("ci") or "").strip()
        if not text:
            return ""
        try:
            return str(cmdb.item_for(self.viewer, text).pk)
        except NotFound:
            raise forms.ValidationError(
                _("There is no configuration item with this number that you can see.")
            ) from None

    def clean_requester(self) -> User:
        text = self.cleaned_data["requester"].strip()
        found = list(
            people.users_for(self.viewer).filter(Q(username__iexact=text) | Q(email__iexact=text))[
                :2
            ]
        )
        if not found:
            raise forms.ValidationError(_("Nobody with this user name or e-mail address."))
        if len(found) > 1:
            exact = [u for u in found if u.username.lower() == text.lower()]
            if len(exact) != 1:
                raise forms.ValidationError(
                    _("Several people use this e-mail address; type the user name instead.")
                )
            found = exact
        return found[0]

    def values(self) -> dict[str, Any]:
        return {
            **super().values(),
            "requester": self.cleaned_data["requester"],
            "channel": self.cleaned_data["channel"],
        }

"""The steps of the lifecycle, one form each: assign, start, hold, resume, resolve, confirm, rate…"""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.core.models import Team, User
from keel.incidents import actions
from keel.incidents.forms._base import IncidentForm, people_choices, textarea
from keel.incidents.lifecycle import HoldReason
from keel.incidents.models import ResolutionCode


class StartForm(IncidentForm):
    key = "start"


class AssignForm(IncidentForm):
    key = "assign"
    team = forms.ChoiceField(label=gettext_lazy("Team"))
    assignee = forms.ChoiceField(label=gettext_lazy("Assignee"), required=False)
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=2000,
        widget=textarea(2),
        help_text=gettext_lazy("Needed when it moves away from a team or person."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.teams = {str(t.pk): t for t in Team.objects.filter(is_active=True).order_by("name")}
        self.fields["team"].choices = [(pk, t.name) for pk, t in self.teams.items()]
        # Choosing another team lists its members as assignees (htmx); the action checks again.
        self.fields["team"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:assignee-options"),
                "hx-target": f"#{self.auto_id % 'assignee'}",
                "hx-swap": "innerHTML",
            }
        )
        team_id = (self.data.get("team") if self.is_bound else None) or str(self.incident.team_id)
        self.initial.setdefault("team", str(self.incident.team_id))
        self.initial.setdefault("assignee", str(self.incident.assignee_id or ""))
        members = (
            User.objects.filter(memberships__team_id=team_id, is_active=True).order_by(
                "name", "username"
            )
            if team_id.isdigit()
            else User.objects.none()
        )
        self.members = {str(u.pk): u for u in members}
        self.fields["assignee"].choices = people_choices(members, _("Nobody yet (team queue)"))

    def values(self) -> dict[str, Any]:
        data = super().values()
        data["team"] = self.teams[data["team"]]
        data["assignee"] = self.members.get(data["assignee"] or "")
        return data


class AssignToMeForm(IncidentForm):
    """The one-click "Assign to me" of an unassigned incident in one of the agent's teams."""

    key = "assign-me"

    def values(self) -> dict[str, Any]:
        return {**super().values(), "team": self.incident.team, "assignee": self.user}


class HoldForm(IncidentForm):
    key = "hold"
    reason = forms.ChoiceField(label=gettext_lazy("Waiting for"), choices=HoldReason.choices)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=actions.TEXT_MAX,
        widget=textarea(2),
        help_text=gettext_lazy("Shown to the requester."),
    )


class ResumeForm(IncidentForm):
    key = "resume"
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=actions.TEXT_MAX, widget=textarea(2)
    )


class ResolveForm(IncidentForm):
    key = "resolve"
    code = forms.ChoiceField(label=gettext_lazy("Resolution code"))
    notes = forms.CharField(
        label=gettext_lazy("Resolution notes"),
        max_length=actions.TEXT_MAX,
        widget=textarea(4),
        help_text=gettext_lazy("What was wrong and what fixed it; the requester reads this."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [("", _("Choose…")), *ResolutionCode.choices]


RATING_CHOICES = [(str(n), str(n)) for n in range(5, 0, -1)]


class ConfirmForm(IncidentForm):
    """The requester confirms the fix and may rate it; an agent confirms for them (no rating)."""

    key = "confirm"
    rating = forms.TypedChoiceField(
        label=gettext_lazy("How satisfied are you?"),
        choices=RATING_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment"), required=False, max_length=2000, widget=textarea(3)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.user.pk != self.incident.requester_id:
            del self.fields["rating"]
            del self.fields["comment"]

    def values(self) -> dict[str, Any]:
        data = super().values()
        if data.get("rating") is None:
            data.pop("rating", None)
            data.pop("comment", None)
        return data


class RateForm(IncidentForm):
    key = "rate"
    rating = forms.TypedChoiceField(
        label=gettext_lazy("How satisfied are you?"),
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment"), required=False, max_length=2000, widget=textarea(3)
    )


class _ReasonForm(IncidentForm):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=actions.TEXT_MAX, widget=textarea(3)
    )


class RejectForm(_ReasonForm):
    key = "reject"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = _("What is still wrong?")


class ReopenForm(_ReasonForm):
    key = "reopen"


class CancelForm(_ReasonForm):
    key = "cancel"


class CloseForm(IncidentForm):
    key = "close"
    versioned = False
    reason = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=actions.TEXT_MAX, widget=textarea(2)
    )

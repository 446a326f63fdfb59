"""The queue's bulk assignment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _

from keel.core.models import Team, User


class BulkAssignForm(forms.Form):
    """Assign the ticked incidents of the queue to a team and/or a person, with one reason."""

    number = forms.MultipleChoiceField(required=False)
    team = forms.ChoiceField(required=False)
    assignee = forms.ChoiceField(required=False)
    reason = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.teams = {str(t.pk): t for t in Team.objects.filter(is_active=True)}
        self.fields["team"].choices = [("", ""), *((pk, t.name) for pk, t in self.teams.items())]
        self.fields["number"].choices = [(n, n) for n in self.data.getlist("number")]
        wanted = self.data.get("assignee", "")
        self.people: dict[str, Any] = {"me": viewer}
        if wanted.isdigit():
            self.people.update(
                {str(u.pk): u for u in User.objects.filter(pk=int(wanted), is_active=True)}
            )
        self.fields["assignee"].choices = [("", ""), *((k, k) for k in self.people)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("number"):
            raise forms.ValidationError(_("Tick the incidents to assign first."))
        if not data.get("team") and not data.get("assignee"):
            raise forms.ValidationError(_("Choose a team, a person, or both."))
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "team": self.teams.get(data["team"]),
            "assignee": self.people.get(data["assignee"]),
            "reason": data["reason"],
        }

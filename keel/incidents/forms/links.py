"""The incident page's "affected configuration items" form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.cmdb import queries as cmdb
from keel.core.permissions import NotFound
from keel.incidents.forms._base import IncidentForm


class AffectedCIsForm(IncidentForm):
    key = "cis"
    cis = forms.CharField(
        label=gettext_lazy("Configuration items"),
        required=False,
        max_length=2000,
        help_text=gettext_lazy("Their numbers, separated by commas, for example CI-000123."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            numbers = sorted(ci.number for ci in self.incident.affected_cis.all())
            self.initial.setdefault("cis", ", ".join(numbers))

    def clean_cis(self) -> list[int]:
        refs = [r.strip() for r in (self.cleaned_data.get("cis") or "").split(",") if r.strip()]
        ids, unknown = [], []
        for ref in dict.fromkeys(refs):
            try:
                ids.append(cmdb.item_for(self.user, ref).pk)
            except NotFound:
                unknown.append(ref)
        if unknown:
            raise forms.ValidationError(
                _("No configuration item you can see has the number %(refs)s.")
                % {"refs": ", ".join(unknown)}
            )
        return ids

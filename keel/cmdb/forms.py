"""Forms of the CMDB pages: the import upload and its column mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from keel.cmdb import importing
from keel.cmdb.models import CIType

IGNORE = ""


class UploadForm(forms.Form):
    ci_type = forms.ModelChoiceField(
        label=_("Type of the items"),
        queryset=CIType.objects.order_by("name"),
        empty_label=None,
    )
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        help_text=_("The first row names the columns. Nothing is written before you confirm."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )


def target_choices(ci_type: CIType) -> list[tuple[str, str]]:
    """What each column can be mapped to: ignored, a field, or one of the type's attributes."""
    labels = {d["key"]: d.get("label") or d["key"] for d in ci_type.attributes}
    choices: list[tuple[str, str]] = [(IGNORE, str(_("— ignore —")))]
    for target in importing.targets(ci_type):
        if target.startswith("attributes."):
            key = target.removeprefix("attributes.")
            choices.append((target, f"{target} ({labels.get(key, key)})"))
        else:
            choices.append((target, target))
    return choices


def guess_mapping(columns: list[str], ci_type: CIType) -> dict[str, str]:
    """A column named like a field (as an export names it) maps to that field."""
    known = {t.lower(): t for t in importing.targets(ci_type)}
    for definition in ci_type.attributes:
        known.setdefault(definition["key"].lower(), f"attributes.{definition['key']}")
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        target = known.get(column.strip().lower(), IGNORE)
        if target and target not in used:
            used.add(target)
            mapping[column] = target
        else:
            mapping[column] = IGNORE
    return mapping


def mapping_from(data: Any, columns: list[str]) -> dict[str, str]:
    """The mapping posted as ``map-<n>`` (one select per column, by position)."""
    return {column: data.get(f"map-{n}", IGNORE) for n, column in enumerate(columns)}

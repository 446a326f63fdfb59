"""Forms of the CMDB pages: the import upload and its column mapping, an item, a relation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from keel.cmdb import importing, lifecycle
from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType, ConfigurationItem, RelationKind
from keel.core.errors import DomainError
from keel.core.models import Department, Team, User

IGNORE = ""


class UploadForm(forms.Form):
    ci_type = forms.ModelChoiceField(
        label=_("Type of the items"),
        queryset=CIType.objects.filter(is_active=True).order_by("name"),
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


# --- an item: create and edit ----------------------------------------------------------------

ATTRIBUTE_PREFIX = "attributes."


def _attribute_field(definition: dict[str, Any]) -> forms.Field:
    """A form field for one attribute definition; the action checks the value against the type."""
    kind = definition.get("type")
    common: dict[str, Any] = {
        "label": definition.get("label") or definition["key"],
        "required": bool(definition.get("required")),
        "help_text": definition.get("help", ""),
    }
    if kind == "boolean":
        return forms.ChoiceField(
            choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))], **common
        )
    if kind == "choice":
        return forms.ChoiceField(
            choices=[("", "—"), *((c, c) for c in definition.get("choices", []))], **common
        )
    widgets: dict[str, forms.Widget] = {
        "integer": forms.TextInput(attrs={"inputmode": "numeric"}),
        "decimal": forms.TextInput(attrs={"inputmode": "decimal"}),
        "date": forms.DateInput(attrs={"type": "date"}),
        "email": forms.EmailInput(),
        "url": forms.URLInput(),
    }
    return forms.CharField(
        widget=widgets.get(kind, forms.TextInput()), strip=False, max_length=None, **common
    )


def _stored_text(value: Any) -> str:
    """An attribute's stored value as the form shows it."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _people() -> Any:
    return User.objects.filter(is_active=True).order_by("name", "username")


class ItemForm(forms.Form):
    """An item's own fields and its type's attributes (``attributes.<key>``, one per definition).

    Values go to the action as typed; the action names what is wrong, and the page puts each
    message next to its field.
    """

    name = forms.CharField(label=_("Name"), max_length=200)
    status = forms.ChoiceField(label=_("Status"))
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    team = forms.ModelChoiceField(
        label=_("Support team"), queryset=Team.objects.none(), required=False
    )
    assigned_to = forms.ModelChoiceField(
        label=_("Assigned to"), queryset=User.objects.none(), required=False
    )
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.none(), required=False
    )
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    supplier = forms.CharField(label=_("Supplier"), max_length=200, required=False)
    cost = forms.CharField(
        label=_("Cost"),
        required=False,
        max_length=20,
        help_text=_("What it cost, such as 1200.00."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.CharField(
        label=_("Currency"),
        required=False,
        max_length=3,
        help_text=_("Such as EUR or CNY."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "size": 4, "class": "ci-currency"}
        ),
    )
    warranty_expires = forms.DateField(
        label=_("Warranty expires"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    licence_expires = forms.DateField(
        label=_("Licence expires"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    OWN_FIELDS = [
        "name",
        "status",
        "description",
        "owner",
        "team",
        "assigned_to",
        "department",
        "location",
        "supplier",
        "cost",
        "currency",
        "warranty_expires",
        "licence_expires",
    ]

    def __init__(
        self, data: Any = None, *, ci_type: CIType, item: ConfigurationItem | None = None
    ) -> None:
        initial: dict[str, Any] = {"status": Status.PLANNED}
        if item is not None:
            initial = {f: getattr(item, f) for f in self.OWN_FIELDS}
            initial["cost"] = "" if item.cost is None else format(item.cost, "f")
            initial.update(
                {
                    "owner": item.owner_id,
                    "team": item.team_id,
                    "assigned_to": item.assigned_to_id,
                    "department": item.department_id,
                    "version": item.version,
                }
            )
            for key, value in (item.attributes or {}).items():
                initial[ATTRIBUTE_PREFIX + key] = _stored_text(value)
        super().__init__(data, initial=initial)
        self.ci_type = ci_type
        self.item = item
        self.fields["owner"].queryset = _people()
        self.fields["assigned_to"].queryset = _people()
        self.fields["team"].queryset = Team.objects.filter(is_active=True).order_by("name")
        self.fields["department"].queryset = Department.objects.order_by("name")
        if item is None:
            statuses = [s for s in Status if s in lifecycle.INITIAL]
            del self.fields["version"]
        else:
            statuses = [
                s
                for s in Status
                if s == item.status or (s != Status.RETIRED and lifecycle.allowed(item.status, s))
            ]
        self.fields["status"].choices = [(s.value, s.label) for s in statuses]
        self.attribute_names: list[str] = []
        for definition in ci_type.attributes:
            name = ATTRIBUTE_PREFIX + definition["key"]
            self.fields[name] = _attribute_field(definition)
            self.attribute_names.append(name)

    def clean_currency(self) -> str:
        return (self.cleaned_data.get("currency") or "").strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (data.get("cost") or "").strip() and not data.get("currency"):
            self.add_error("currency", _("Give the currency of the cost, such as EUR."))
        return data

    def own_fields(self) -> list[forms.BoundField]:
        return [self[f] for f in self.OWN_FIELDS]

    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[f] for f in self.attribute_names]

    def values(self) -> dict[str, Any]:
        """The keyword arguments of ``create_ci``/``update_ci`` (without actor and item)."""
        data = self.cleaned_data
        values = {f: data.get(f) for f in self.OWN_FIELDS}
        values["attributes"] = {
            name.removeprefix(ATTRIBUTE_PREFIX): data.get(name)
            for name in self.attribute_names
            if data.get(name) not in (None, "")
        }
        return values

    def attach(self, exc: DomainError) -> None:
        """Put the action's messages next to the fields they name (others above the form)."""
        named = False
        for field, message in exc.errors:
            if field in self.fields and field != "version":
                self.add_error(field, str(message))
                named = True
            else:
                self.add_error(None, f"{field}: {message}" if field else str(message))
        if not named and not exc.errors:
            self.add_error(None, str(exc.message))


class TypeChoiceForm(forms.Form):
    """Step one of a new item: its type, which decides the attribute fields."""

    type = forms.ModelChoiceField(
        label=_("Type"),
        queryset=CIType.objects.filter(is_active=True).order_by("name"),
        to_field_name="code",
    )


# --- relations --------------------------------------------------------------------------------

OUT, IN = "out", "in"


class RelationForm(forms.Form):
    """Relate the item to another one, by CI number, in either direction."""

    kind = forms.ModelChoiceField(
        label=_("Kind"),
        queryset=RelationKind.objects.filter(is_active=True).order_by("name"),
        empty_label=None,
    )
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[(OUT, _("This item → other")), (IN, _("Other → this item"))],
    )
    other = forms.CharField(
        label=_("Other item"),
        max_length=20,
        help_text=_("Its CI number, such as CI-000123."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def attach(self, exc: DomainError, *, other_end: str) -> None:
        """The action's messages: ``kind`` on the kind, the other item's end on ``other``."""
        for field, message in exc.errors:
            if field == other_end:
                self.add_error("other", str(message))
            elif field in ("kind", "reason"):
                self.add_error(field, str(message))
            else:
                self.add_error(None, str(message))
        if not exc.errors:
            self.add_error(None, str(exc.message))

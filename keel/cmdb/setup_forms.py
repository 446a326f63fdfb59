"""Forms of the administrators' pages: a CI type with its attribute definitions, a relation kind.

The forms only shape what was typed into the actions' arguments; the actions validate it (the
same checks as the API) and the forms put each message they name next to its field —
``attributes.<n>.<property>`` on the row of the n-th attribute kept.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from keel.cmdb.attributes import LABEL_MAX, MAX_DEFINITIONS, AttributeType
from keel.cmdb.models import CIType, Dependency, RelationKind
from keel.core.errors import DomainError

ATTRIBUTE_PREFIX = "attr"
ANY, ONLY = "any", "only"


class TypeForm(forms.Form):
    """A CI type's own fields; ``version`` is the one the administrator read."""

    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Such as “Server”."))
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        help_text=_("Letters, digits and hyphens, such as “server”: the API and imports use it."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    is_service = forms.BooleanField(
        label=_("Items of this type are business services"),
        required=False,
        help_text=_("Impact analysis stops at them and shows the departments that use them."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    OWN_FIELDS = ["name", "code", "description", "is_service"]

    def __init__(self, data: Any = None, *, ci_type: CIType | None = None) -> None:
        initial: dict[str, Any] = {}
        if ci_type is not None:
            initial = {f: getattr(ci_type, f) for f in self.OWN_FIELDS}
            initial["version"] = ci_type.version
        super().__init__(data, initial=initial)
        if ci_type is None:
            del self.fields["version"]

    def values(self) -> dict[str, Any]:
        return {f: self.cleaned_data.get(f) for f in self.OWN_FIELDS}


class AttributeRowForm(forms.Form):
    """One attribute definition; a row left blank is no attribute (the spare row at the end)."""

    key = forms.CharField(
        label=_("Key"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    label = forms.CharField(label=_("Label"), required=False, max_length=LABEL_MAX)
    type = forms.ChoiceField(
        label=_("Kind of value"), choices=AttributeType.choices, required=False
    )
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        help_text=_("For a choice: one per line."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    help = forms.CharField(label=_("Help text"), required=False, max_length=2000)

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any((data.get(f) or "").strip() for f in ("key", "label", "choices", "help"))

    def definition(self) -> dict[str, Any]:
        """The row as the action takes it: ``choices`` only when some were typed."""
        data = self.cleaned_data
        definition: dict[str, Any] = {
            "key": (data.get("key") or "").strip(),
            "label": (data.get("label") or "").strip(),
            "type": data.get("type"),
            "required": bool(data.get("required")),
        }
        choices = [c.strip() for c in (data.get("choices") or "").splitlines() if c.strip()]
        if choices:
            definition["choices"] = choices
        if (data.get("help") or "").strip():
            definition["help"] = data["help"].strip()
        return definition


class BaseAttributeFormSet(forms.BaseFormSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[int] = []  # position in the definitions → index of its form

    def definitions(self) -> list[dict[str, Any]]:
        """The rows kept (not removed, not blank), in order."""
        kept: list[dict[str, Any]] = []
        self._rows = []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None)
            if data is None or data.get("DELETE"):
                continue
            if form.is_blank():
                continue
            kept.append(form.definition())
            self._rows.append(index)
        return kept

    def form_for(self, position: int) -> AttributeRowForm | None:
        if 0 <= position < len(self._rows):
            return self.forms[self._rows[position]]
        return None


AttributeFormSet = forms.formset_factory(
    AttributeRowForm,
    formset=BaseAttributeFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_DEFINITIONS,
    absolute_max=MAX_DEFINITIONS + 20,
)


def attribute_formset(data: Any = None, *, ci_type: CIType | None = None) -> BaseAttributeFormSet:
    initial = []
    for d in ci_type.attributes if ci_type is not None else []:
        initial.append(
            {
                "key": d.get("key", ""),
                "label": d.get("label", ""),
                "type": d.get("type", AttributeType.TEXT),
                "required": bool(d.get("required")),
                "choices": "\n".join(d.get("choices") or []),
                "help": d.get("help", ""),
            }
        )
    return cast(
        BaseAttributeFormSet, AttributeFormSet(data, initial=initial, prefix=ATTRIBUTE_PREFIX)
    )


def with_another_row(data: Any) -> Any:
    """The posted data with one more blank attribute row (the "add an attribute" button)."""
    copy = data.copy()
    field = f"{ATTRIBUTE_PREFIX}-TOTAL_FORMS"
    try:
        total = int(copy.get(field, "0"))
    except ValueError:
        total = 0
    copy[field] = str(min(total + 1, MAX_DEFINITIONS + 20))
    return copy


def attach_type_errors(exc: DomainError, form: TypeForm, rows: BaseAttributeFormSet) -> None:
    """Each message of the action next to the field it names, or above the form."""
    for field, message in exc.errors:
        text = str(message)
        if field in form.fields and field != "version":
            form.add_error(field, text)
            continue
        parts = (field or "").split(".")
        if parts[0] == "attributes" and len(parts) >= 2 and parts[1].isdigit():
            row = rows.form_for(int(parts[1]))
            prop = parts[2] if len(parts) > 2 else None
            if row is not None and prop in row.fields:
                row.add_error(prop, text)
                continue
            if row is not None:
                row.add_error(None, text)
                continue
        form.add_error(None, f"{field}: {text}" if field and field != "version" else text)
    if not exc.errors:
        form.add_error(None, str(exc.message))


# --- relation kinds ----------------------------------------------------------------------------

DEPENDENCY_CHOICES = [
    (
        Dependency.SOURCE_ON_TARGET.value,
        _("The source depends on the target (an application runs on a server)"),
    ),
    (
        Dependency.TARGET_ON_SOURCE.value,
        _("The target depends on the source (a server hosts an application)"),
    ),
    (Dependency.NONE.value, _("Neither depends on the other (connects to)")),
]


class TypeChoices(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj: CIType) -> str:
        return obj.name if obj.is_active else f"{obj.name} ({_('not in use')})"


class KindForm(forms.Form):
    """A relation kind. Each end allows any type, or only the types ticked (at least one)."""

    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        help_text=_("Letters, digits and hyphens, such as “runs-on”: the API uses it."),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    name = forms.CharField(
        label=_("Forward label"),
        max_length=100,
        help_text=_("How it reads from the source: “runs on”."),
    )
    reverse_name = forms.CharField(
        label=_("Reverse label"),
        max_length=100,
        help_text=_("How it reads from the target: “hosts”."),
    )
    dependency = forms.ChoiceField(
        label=_("Which end depends on the other"),
        choices=DEPENDENCY_CHOICES,
        widget=forms.RadioSelect,
        help_text=_(
            "Impact analysis follows it: when what is depended on fails, so may the other."
        ),
    )
    acyclic = forms.BooleanField(
        label=_("Refuse cycles"),
        required=False,
        help_text=_("A relation that would close a loop (A runs on B runs on A) is refused."),
    )
    source_mode = forms.ChoiceField(
        label=_("Allowed source types"),
        choices=[(ANY, _("Any type")), (ONLY, _("Only these types"))],
        widget=forms.RadioSelect,
        initial=ANY,
        required=False,
    )
    source_types = TypeChoices(
        label=_("Source types"), queryset=CIType.objects.none(), required=False
    )
    target_mode = forms.ChoiceField(
        label=_("Allowed target types"),
        choices=[(ANY, _("Any type")), (ONLY, _("Only these types"))],
        widget=forms.RadioSelect,
        initial=ANY,
        required=False,
    )
    target_types = TypeChoices(
        label=_("Target types"), queryset=CIType.objects.none(), required=False
    )

    OWN_FIELDS = ["name", "reverse_name", "dependency", "acyclic"]

    def __init__(self, data: Any = None, *, kind: RelationKind | None = None) -> None:
        initial: dict[str, Any] = {"dependency": Dependency.SOURCE_ON_TARGET.value}
        chosen: set[int] = set()
        if kind is not None:
            initial = {f: getattr(kind, f) for f in self.OWN_FIELDS}
            for end in ("source", "target"):
                types = list(getattr(kind, f"{end}_types").all())
                initial[f"{end}_types"] = [t.pk for t in types]
                initial[f"{end}_mode"] = ONLY if types else ANY
                chosen.update(t.pk for t in types)
        super().__init__(data, initial=initial)
        self.kind = kind
        if kind is not None:
            del self.fields["code"]
        # Types in use, and those no longer in use that the kind still names.
        offered = CIType.objects.filter(is_active=True) | CIType.objects.filter(pk__in=chosen)
        for end in ("source", "target"):
            cast(TypeChoices, self.fields[f"{end}_types"]).queryset = offered.order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for end in ("source", "target"):
            if data.get(f"{end}_mode") == ONLY and not data.get(f"{end}_types"):
                self.add_error(
                    f"{end}_types",
                    _("Tick at least one type, or allow any type."),
                )
        return data

    def values(self) -> dict[str, Any]:
        """The keyword arguments of ``create_relation_kind``/``update_relation_kind``."""
        data = self.cleaned_data
        values = {f: data.get(f) for f in self.OWN_FIELDS}
        values["acyclic"] = bool(values["acyclic"])
        if "code" in self.fields:
            values["code"] = data.get("code")
        for end in ("source", "target"):
            values[f"{end}_types"] = (
                list(data.get(f"{end}_types") or []) if data.get(f"{end}_mode") == ONLY else []
            )
        return values

    def attach(self, exc: DomainError) -> None:
        for field, message in exc.errors:
            if field in self.fields:
                self.add_error(field, str(message))
            else:
                self.add_error(None, str(message))
        if not exc.errors:
            self.add_error(None, str(exc.message))

"""The checks on a configuration item's own fields, shared by the actions and the importer.

``clean_fields`` takes values as a form, the API or a CSV cell gives them (``"12.50"``,
``"2026-03-31"``, model instances for references) and returns them in the form they are stored,
collecting every problem as ``(field, message)`` so all of them are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from keel.cmdb.lifecycle import Status
from keel.cmdb.models import CIType

Errors = list[tuple[str, Any]]

NAME_MAX = 200
TEXT_MAX = 20_000
SHORT_MAX = 200
COST_MAX = Decimal("999999999999.99")
CURRENCY = re.compile(r"^[A-Z]{3}$")

# Fields a person may set on an item (``type_version`` follows the type; the rest is system).
EDITABLE = [
    "name",
    "type",
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
    "attributes",
    "external_id",
    "service",
    "used_by_departments",
]


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(_("Expected text."))
    value = value.strip()
    if len(value) > limit:
        raise ValueError(_("At most %(n)s characters.") % {"n": f"{limit:,}"})
    return value


def _cost(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(_("Expected an amount, such as 1200.00."))
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(_("Expected an amount, such as 1200.00.")) from None
    if not amount.is_finite() or amount < 0 or amount > COST_MAX:
        raise ValueError(_("Expected an amount from 0 to 999,999,999,999.99."))
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(_("At most two decimal places."))
    return amount.quantize(Decimal("0.01"))


def _date(value: Any) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(_("Expected a date as YYYY-MM-DD."))


def _currency(value: Any) -> str:
    text = _text(value, 3).upper()
    if text and not CURRENCY.match(text):
        raise ValueError(_("Use a three-letter currency code such as EUR or CNY."))
    return text


def _status(value: Any) -> str:
    if value not in Status.values:
        raise ValueError(_("Choose one of: %(s)s.") % {"s": ", ".join(Status.values)})
    return str(value)


_CLEANERS = {
    "name": lambda v: _text(v, NAME_MAX),
    "description": lambda v: _text(v, TEXT_MAX),
    "location": lambda v: _text(v, SHORT_MAX),
    "supplier": lambda v: _text(v, SHORT_MAX),
    "external_id": lambda v: _text(v, SHORT_MAX),
    "cost": _cost,
    "currency": _currency,
    "warranty_expires": _date,
    "licence_expires": _date,
    "status": _status,
}


def clean_fields(values: Mapping[str, Any], *, creating: bool) -> tuple[dict[str, Any], Errors]:
    """``values`` in their stored form, and ``(field, message)`` for each that is not allowed.

    References (``type``, ``owner``, ``team`` …) arrive as records, already looked up; only their
    presence is checked here. ``attributes`` pass through: they are checked against the type.
    """
    errors: Errors = [(f, _("Unknown field.")) for f in sorted(set(values) - set(EDITABLE))]
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        if field not in EDITABLE:
            continue
        cleaner = _CLEANERS.get(field)
        if cleaner is None:
            cleaned[field] = value
            continue
        try:
            cleaned[field] = cleaner(value)
        except ValueError as exc:
            errors.append((field, str(exc)))
    named = any(f == "name" for f, _m in errors)
    if ("name" in cleaned or creating) and not cleaned.get("name") and not named:
        errors.append(("name", _("This field is required.")))
    if (creating or "type" in values) and not isinstance(values.get("type"), CIType):
        errors.append(("type", _("Choose the item's type.")))
    departments = values.get("used_by_departments")
    if departments is not None and not isinstance(departments, list | tuple | set):
        errors.append(("used_by_departments", _("Give a list of departments.")))
    return cleaned, errors


def check_type_in_use(ci_type: Any, errors: Errors, field: str = "type") -> None:
    """New items (recorded, re-typed or imported) are only of types still in use."""
    if isinstance(ci_type, CIType) and not ci_type.is_active:
        errors.append(
            (
                field,
                _("“%(type)s” is no longer in use; choose another type.") % {"type": ci_type.name},
            )
        )

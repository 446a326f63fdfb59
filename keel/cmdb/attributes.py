"""Typed attributes of configuration items: what a CI type declares, and values checked against it.

A CI type carries a list of definitions such as
``{"key": "ram_gb", "label": "RAM (GB)", "type": "integer", "required": true}``. Values come from
JSON (the API) or from text (a CSV cell); both are cleaned into one stored form:
text, email and url as strings, integers as numbers, decimals as exact strings ("12.50"), booleans
as ``true``/``false``, dates as ``YYYY-MM-DD``, choices as one of the declared choices.
Errors name the field as ``attributes.<key>`` (values) or ``attributes.<n>.<property>``
(definitions), so a form or an import can point at the cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
TEXT_MAX = 2000
LABEL_MAX = 200
MAX_DEFINITIONS = 100
MAX_CHOICES = 200
MAX_INTEGER = 2**53  # exact in JSON everywhere (JavaScript included)
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}
PROPERTIES = {"key", "label", "type", "required", "choices", "help"}

_url = URLValidator(schemes=["http", "https", "ftp", "ftps"])


class AttributeType(models.TextChoices):
    TEXT = "text", gettext_lazy("Text")
    INTEGER = "integer", gettext_lazy("Whole number")
    DECIMAL = "decimal", gettext_lazy("Decimal number")
    BOOLEAN = "boolean", gettext_lazy("Yes/no")
    DATE = "date", gettext_lazy("Date")
    CHOICE = "choice", gettext_lazy("Choice")
    EMAIL = "email", gettext_lazy("E-mail address")
    URL = "url", gettext_lazy("Web address")


Errors = list[tuple[str, Any]]


def validate_definitions(definitions: Any) -> tuple[list[dict[str, Any]], Errors]:
    """The definitions in their stored form, and every problem named ``attributes.<n>.<prop>``."""
    if not isinstance(definitions, list):
        return [], [("attributes", _("Give a list of attribute definitions."))]
    if len(definitions) > MAX_DEFINITIONS:
        return [], [("attributes", _("At most %(n)s attributes.") % {"n": MAX_DEFINITIONS})]
    cleaned: list[dict[str, Any]] = []
    errors: Errors = []
    seen: set[str] = set()
    for n, raw in enumerate(definitions):
        at = f"attributes.{n}"
        if not isinstance(raw, Mapping):
            errors.append((at, _("Each attribute is an object with a key, a label and a type.")))
            continue
        for extra in sorted(set(raw) - PROPERTIES):
            errors.append((f"{at}.{extra}", _("Unknown property.")))
        key = raw.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors.append(
                (
                    f"{at}.key",
                    _("Use lower-case letters, digits and underscores, starting with a letter."),
                )
            )
        elif key in seen:
            errors.append((f"{at}.key", _("Another attribute already uses this key.")))
        else:
            seen.add(key)
        label = raw.get("label")
        label = label.strip() if isinstance(label, str) else ""
        if not label or len(label) > LABEL_MAX:
            errors.append((f"{at}.label", _("Give a label of up to 200 characters.")))
        kind = raw.get("type")
        if kind not in AttributeType.values:
            errors.append(
                (
                    f"{at}.type",
                    _("Choose one of: %(types)s.") % {"types": ", ".join(AttributeType.values)},
                )
            )
        required = raw.get("required", False)
        if not isinstance(required, bool):
            errors.append((f"{at}.required", _("Use true or false.")))
        help_text = raw.get("help", "")
        if not isinstance(help_text, str) or len(help_text) > TEXT_MAX:
            errors.append((f"{at}.help", _("Give help text of up to 2,000 characters.")))
        definition: dict[str, Any] = {
            "key": key,
            "label": label,
            "type": kind,
            "required": required is True,
        }
        choices = raw.get("choices")
        if kind == AttributeType.CHOICE:
            if (
                not isinstance(choices, list)
                or not choices
                or len(choices) > MAX_CHOICES
                or not all(isinstance(c, str) and c.strip() for c in choices)
                or len({c.strip() for c in choices}) != len(choices)
            ):
                errors.append((f"{at}.choices", _("Give a list of different, non-empty choices.")))
            else:
                definition["choices"] = [c.strip() for c in choices]
        elif choices not in (None, []):
            errors.append((f"{at}.choices", _("Only choice attributes have choices.")))
        if isinstance(help_text, str) and help_text.strip():
            definition["help"] = help_text.strip()
        cleaned.append(definition)
    return cleaned, errors


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and value.is_integer():  # spreadsheet numbers come as floats
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int) or abs(value) > MAX_INTEGER:
        raise ValueError
    return value


def _decimal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError from None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 15:
        raise ValueError
    return format(number, "f")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return date.fromisoformat(value.strip()).isoformat()
    raise ValueError


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value.strip()


def clean_value(definition: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    """``(stored value, None)``, or ``(None, message)`` when ``value`` does not fit the type."""
    kind = definition["type"]
    try:
        if kind == AttributeType.INTEGER:
            return _integer(value), None
        if kind == AttributeType.DECIMAL:
            return _decimal(value), None
        if kind == AttributeType.BOOLEAN:
            return _boolean(value), None
        if kind == AttributeType.DATE:
            return _date(value), None
        text = _text(value)
    except ValueError:
        return None, str(EXPECTED[kind])
    if len(text) > TEXT_MAX:
        return None, _("At most 2,000 characters.")
    if kind == AttributeType.CHOICE:
        choices = definition.get("choices", [])
        match = next((c for c in choices if c.lower() == text.lower()), None)
        if match is None:
            return None, _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}
        return match, None
    try:
        if kind == AttributeType.EMAIL:
            validate_email(text)
        elif kind == AttributeType.URL:
            _url(text)
    except ValidationError:
        return None, str(EXPECTED[kind])
    return text, None


EXPECTED = {
    AttributeType.TEXT: gettext_lazy("Expected text."),
    AttributeType.INTEGER: gettext_lazy("Expected a whole number."),
    AttributeType.DECIMAL: gettext_lazy("Expected a number, such as 12.50."),
    AttributeType.BOOLEAN: gettext_lazy("Expected yes or no (true or false)."),
    AttributeType.DATE: gettext_lazy("Expected a date as YYYY-MM-DD."),
    AttributeType.CHOICE: gettext_lazy("Expected one of the choices."),
    AttributeType.EMAIL: gettext_lazy("Expected an e-mail address."),
    AttributeType.URL: gettext_lazy("Expected a web address starting with http:// or https://."),
}


def clean_values(
    definitions: list[dict[str, Any]], values: Any, *, prefix: str = "attributes"
) -> tuple[dict[str, Any], Errors]:
    """Every value cleaned against ``definitions``; errors name ``<prefix>.<key>``.

    Blank values are left out (and are an error when the attribute is required); keys the type
    does not declare are refused rather than silently kept.
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        return {}, [(prefix, _("Give the attributes as an object of key and value."))]
    errors: Errors = []
    known = {d["key"]: d for d in definitions}
    for key in values:
        if key not in known:
            errors.append((f"{prefix}.{key}", _("This type has no such attribute.")))
    cleaned: dict[str, Any] = {}
    for key, definition in known.items():
        value = values.get(key)
        if _blank(value):
            if definition.get("required"):
                errors.append((f"{prefix}.{key}", _("This attribute is required.")))
            continue
        stored, problem = clean_value(definition, value)
        if problem:
            errors.append((f"{prefix}.{key}", problem))
        else:
            cleaned[key] = stored
    return cleaned, errors

"""The forms of Keel's own pages: log-in, profile and API tokens.

Forms only parse and present; the rules (what a valid e-mail or time zone is) live in the
actions, whose :class:`~keel.core.errors.FieldError` is attached back to the fields here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keel.core.errors import DomainError
from keel.core.models import Language

OTHER_ZONE = "other"

# The zones most desks work in, offered in the menu; any other IANA name can be typed.
COMMON_TIME_ZONES = [
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "Africa/Johannesburg",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Pacific/Auckland",
]


def _zone_label(name: str, at: datetime) -> str:
    offset = at.astimezone(ZoneInfo(name)).strftime("%z")
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


def time_zone_choices() -> list[tuple[str, Any]]:
    at = timezone.now()
    return [
        *((name, _zone_label(name, at)) for name in COMMON_TIME_ZONES),
        (OTHER_ZONE, _("Other (type its name)")),
    ]


class KeelForm(forms.Form):
    """A form that can take the field errors an action reports."""

    def field_for_error(self, name: str) -> str | None:
        """The form field that shows an action's error about ``name`` (None: the whole form)."""
        return name if name in self.fields else None

    def attach(self, error: DomainError) -> None:
        """Show an action's errors next to the fields they name (the rest above the form)."""
        for name, message in error.errors:
            self.add_error(self.field_for_error(name), str(message))
        if not error.errors:
            self.add_error(None, str(error.message))


class LoginForm(AuthenticationForm):
    """Django's log-in form; the account scheduled tasks act as can never sign in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def confirm_login_allowed(self, user: Any) -> None:
        if getattr(user, "is_system", False):
            raise ValidationError(self.error_messages["inactive"], code="inactive")
        super().confirm_login_allowed(user)


class ProfileForm(KeelForm):
    """What people change about themselves: name, how to reach them, language and time zone."""

    name = forms.CharField(
        label=_("Full name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    # Checked by the action, so the page and the API give the same answer.
    email = forms.CharField(
        label=_("E-mail address"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Dates and times are shown in this zone."),
    )
    time_zone_other = forms.CharField(
        label=_("Other time zone"),
        max_length=64,
        required=False,
        help_text=_("An IANA name such as Asia/Urumqi or America/Toronto."),
        widget=forms.TextInput(attrs={"placeholder": "Asia/Urumqi", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        zone = user.time_zone or "UTC"
        kwargs.setdefault(
            "initial",
            {
                "name": user.name,
                "email": user.email,
                "phone": user.phone,
                "language": user.language,
                "time_zone": zone if zone in COMMON_TIME_ZONES else OTHER_ZONE,
                "time_zone_other": "" if zone in COMMON_TIME_ZONES else zone,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
        self.fields["time_zone"].widget.attrs["data-other-zone"] = OTHER_ZONE

    def field_for_error(self, name: str) -> str | None:
        if name == "time_zone" and self.data.get("time_zone") == OTHER_ZONE:
            return "time_zone_other"
        return super().field_for_error(name)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("time_zone") == OTHER_ZONE:
            other = (cleaned.get("time_zone_other") or "").strip()
            if not other:
                self.add_error("time_zone_other", _("Type the name of your time zone."))
            cleaned["time_zone_other"] = other
        return cleaned

    def values(self) -> dict[str, Any]:
        """The cleaned data, as the keyword arguments of ``update_user``."""
        data = self.cleaned_data
        zone = data["time_zone_other"] if data["time_zone"] == OTHER_ZONE else data["time_zone"]
        return {
            "name": data["name"].strip(),
            "email": data["email"].strip(),
            "phone": data["phone"].strip(),
            "language": data["language"],
            "time_zone": zone,
        }


class TokenForm(KeelForm):
    """A new API token: only its name, so its holder knows later what uses it."""

    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("Say what will use it, for example “Monitoring” or “Reporting script”."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The profile page holds this form beside the profile form: keep their ids apart.
        kwargs.setdefault("auto_id", "id_token_%s")
        super().__init__(*args, **kwargs)

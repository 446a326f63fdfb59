"""System checks: problems with the set-up, reported by ``keel check`` and at start-up."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register("keel")
def check_email_backend(app_configs, **kwargs):
    if getattr(settings, "KEEL_PRODUCTION", False) and settings.EMAIL_BACKEND.endswith(
        "console.EmailBackend"
    ):
        return [
            Warning(
                "E-mail goes to the console in production: nobody will receive notifications.",
                hint="Set KEEL_EMAIL_URL=smtp://user:password@host:587 (or smtps://…:465).",
                id="keel.W001",
            )
        ]
    return []

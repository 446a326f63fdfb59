"""Domain errors with stable codes; pages and the API translate them in one place each."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from keel.core.permissions import NotFound

__all__ = ["Conflict", "DomainError", "FieldError", "InvalidTransition", "NotFound", "StaleVersion"]


class DomainError(Exception):
    """A request that is well-formed but cannot be carried out as asked."""

    code = "domain_error"
    status = 422

    def __init__(self, message: object = "", *, errors: list[tuple[str, object]] | None = None):
        super().__init__(str(message))
        self.message = message
        self.errors = errors or []


class FieldError(DomainError):
    """One or more fields hold values that are not allowed; ``errors`` names each field."""

    code = "invalid"
    status = 422

    def __init__(self, field: str | None = None, message: object = "", *, errors=None):
        errors = list(errors or [])
        if field is not None:
            errors.append((field, message))
        super().__init__(message or _("Some fields are not valid."), errors=errors)


class Conflict(DomainError):
    """The record is not in a state that allows this (a duplicate, a state clash)."""

    code = "conflict"
    status = 409


class StaleVersion(Conflict):
    """Someone else changed the record after it was read; reload and try again."""

    code = "stale_version"


class InvalidTransition(Conflict):
    """The lifecycle does not allow this step from the record's current status."""

    code = "invalid_transition"

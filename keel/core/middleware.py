"""Request id for the audit trail, each user's own language and time zone, and a shorter path
for API calls that carry a bearer token."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from keel.core import context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Tag each request with an id (the caller's ``X-Request-ID`` when sane) for the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        token = context.request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class UserPreferencesMiddleware:
    """Show pages in the signed-in person's language and time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


# What only a browser needs: its session and log-in, CSRF (a token is not sent by the browser by
# itself), flash messages, and log-in throttling (tokens are not passwords).
BROWSER_ONLY = frozenset(
    {
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)
API_PREFIX = "/api/"
PAGE_CSP = "csp.middleware.CSPMiddleware"


def _chain(paths: list[str]) -> Callable[[Any], Any]:
    """A request handler through ``paths`` only (as Django builds the full one from settings)."""
    handler = BaseHandler()
    handler._view_middleware = []
    handler._template_response_middleware = []
    handler._exception_middleware = []
    get_response = convert_exception_to_response(handler._get_response)
    for path in reversed(paths):
        try:
            middleware = import_string(path)(get_response)
        except MiddlewareNotUsed:
            continue
        if hasattr(middleware, "process_view"):
            handler._view_middleware.insert(0, middleware.process_view)
        if hasattr(middleware, "process_template_response"):
            handler._template_response_middleware.append(middleware.process_template_response)
        if hasattr(middleware, "process_exception"):
            handler._exception_middleware.append(middleware.process_exception)
        get_response = convert_exception_to_response(middleware)
    handler._middleware_chain = get_response
    return get_response


class TokenApiMiddleware:
    """API calls with ``Authorization: Bearer …`` skip the browser's middleware.

    A script's call needs no session, CSRF check, messages or log-in throttling; loading them
    cost more than some answers. Such calls go on through the middleware listed after this one
    minus :data:`BROWSER_ONLY` (language, security headers, the person's time zone), with the
    constant policy of :class:`JsonContentSecurityPolicy` in place of a page's, and the API
    authenticates the token itself. Every other request goes on through all of them.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        own = f"{__name__}.{type(self).__name__}"
        after = settings.MIDDLEWARE[list(settings.MIDDLEWARE).index(own) + 1 :]
        self.token_api = _chain(
            [
                f"{__name__}.JsonContentSecurityPolicy" if path == PAGE_CSP else path
                for path in after
                if path not in BROWSER_ONLY
            ]
        )

    def __call__(self, request):
        if (
            request.path_info.startswith(API_PREFIX)
            and request.headers.get("Authorization", "")[:7].lower() == "bearer "
        ):
            return self.token_api(request)
        return self.get_response(request)


class JsonContentSecurityPolicy:
    """The content security policy of an API answer: JSON loads nothing and no page frames it.

    One constant header, where django-csp builds a page's policy for every request (for its
    nonces); that was a sixth of the middleware's time on a token call.
    """

    HEADER = "default-src 'none'; frame-ancestors 'none'"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.HEADER
        return response

"""Pages that answer htmx with a fragment of themselves, at the same address as the whole page.

Such a response must say that it varies with htmx's headers: the browser keeps responses by
address, and without ``Vary`` going Back to the page would show the kept fragment alone (a bare
table with no menu, tabs or filters).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.views.decorators.vary import vary_on_headers

HEADERS = ("HX-Request", "HX-History-Restore-Request")

# For each view that may answer with a fragment: whole page and fragment are kept apart.
varies_with_htmx = vary_on_headers(*HEADERS)


def is_htmx(request: HttpRequest) -> bool:
    """An htmx swap (not the full page htmx asks for when it restores history)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )

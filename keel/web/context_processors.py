"""What every page's layout needs: the navigation for the signed-in person."""

from __future__ import annotations

from keel.web.navigation import sections_for


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": []}
    return {"nav_sections": sections_for(user, request.path)}

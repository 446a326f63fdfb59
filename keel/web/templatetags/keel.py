"""Small template helpers for Keel's layout and text; none of them touches the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import nh3
from django import template
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

import keel

register = template.Library()


@register.simple_tag
def keel_version() -> str:
    return keel.__version__


@register.filter
def minutes(value: Any, default: int = 15) -> int:
    """Whole minutes in a ``timedelta`` (rounded up), or ``default`` when there is none."""
    if not isinstance(value, timedelta):
        return default
    return max(1, -(-int(value.total_seconds()) // 60))


@register.filter
def initials(user: Any) -> str:
    """One or two letters for a person's avatar: "Li Na" → "LN", "王芳" → "王"."""
    name = str(user).strip()
    if not name:
        return "?"
    parts = name.split()
    if len(parts) > 1 and parts[0][:1].isascii() and parts[-1][:1].isascii():
        return (parts[0][0] + parts[-1][0]).upper()
    return name[0].upper()


# Markdown as people type it in text boxes: CommonMark with line breaks kept, raw HTML shown as
# text, and the result cleaned by nh3 to a short list of harmless tags (no images: the
# Content-Security-Policy would block outside ones, and they can track who reads a page).
_markdown = (
    MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    .enable("strikethrough")
    .enable("table")
)
_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


@register.filter(is_safe=True)
def markdown(value: Any) -> str:
    """Render ``value`` as Markdown, sanitised: typed HTML and scripts never reach the page."""
    text = "" if value is None else str(value)
    if not text.strip():
        return ""
    html = nh3.clean(
        _markdown.render(text),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(html)  # noqa: S308  (cleaned by nh3 just above)

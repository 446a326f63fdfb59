"""Template helpers for incident pages: SLA clocks, priority and status badges, timeline lines,
and the queue's kept rows.

None of them queries the database: they read the fields the page's queries already loaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.template import Context, NodeList
from django.template.base import FilterExpression, Parser, Token
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from keel.catalog.priority import PRIORITY_LABELS
from keel.incidents import sla
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import AUDIENCES, Channel, EventKind, ResolutionCode

register = template.Library()

DATETIME = "Y-m-d H:i"


def _now(context: Any) -> datetime:
    return context.get("now") or timezone.now()


def _local(value: datetime | None) -> str:
    return date_format(timezone.localtime(value), DATETIME) if value else "—"


@register.filter
def duration(seconds: float | None) -> str:
    """A span of time for people: "2 d 3 h", "4 h 20 min", "15 min" (always at least 1 min)."""
    if seconds is None:
        return ""
    minutes = max(1, int(abs(seconds) // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours and not mins:
        return _("%(hours)s h") % {"hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)s min") % {"minutes": mins}


def _clock_text(clock: sla.Clock) -> str:
    if clock.state == sla.State.PAUSED:
        return _("Paused")
    if clock.state == sla.State.MET:
        return _("Met")
    if clock.state == sla.State.MISSED:
        return _("Missed")
    if clock.state == sla.State.NOT_APPLICABLE:
        return _("Not applicable")
    if clock.seconds_left is None:
        return _("No target")
    if clock.seconds_left < 0:
        return _("%(time)s overdue") % {"time": duration(clock.seconds_left)}
    return _("%(time)s left") % {"time": duration(clock.seconds_left)}


SLA_STATE_LABELS = {
    sla.State.OK: gettext_lazy("On track"),
    sla.State.WARNING: gettext_lazy("At risk"),
    sla.State.BREACHED: gettext_lazy("Breached"),
    sla.State.PAUSED: gettext_lazy("Paused"),
    sla.State.MET: gettext_lazy("Met"),
    sla.State.MISSED: gettext_lazy("Missed"),
    sla.State.NOT_APPLICABLE: gettext_lazy("Not applicable"),
}


def response_clock(incident: Any, now: datetime) -> sla.Clock:
    """The response clock: met or missed once someone answered, else running against respond_by."""
    if incident.respond_by is None:
        return sla.Clock(sla.State.OK, None, None)
    if (
        incident.status == Status.CANCELLED
        and incident.first_response_at is None
        and not incident.response_breached
    ):
        return sla.Clock(sla.State.NOT_APPLICABLE, incident.respond_by, None)
    if incident.first_response_at is not None or not incident.is_open:
        missed = incident.response_breached or (
            incident.first_response_at is not None
            and incident.first_response_at > incident.respond_by
        )
        return sla.Clock(sla.State.MISSED if missed else sla.State.MET, incident.respond_by, None)
    left = (incident.respond_by - now).total_seconds()
    if left < 0 or incident.response_breached:
        return sla.Clock(sla.State.BREACHED, incident.respond_by, left)
    return sla.Clock(sla.State.OK, incident.respond_by, left)


def _badge(clock: sla.Clock, label: str, text: str | None = None) -> SafeString:
    title = label
    if clock.deadline is not None:
        title = f"{label}: {_local(clock.deadline)}"
    return format_html(
        '<span class="sla sla-{}" title="{}"><span class="sla-dot" aria-hidden="true"></span>{}</span>',
        clock.state,
        title,
        _clock_text(clock) if text is None else text,
    )


def _response_text(clock: sla.Clock) -> str:
    seconds = clock.seconds_left or 0
    if seconds < 0:
        return _("Response %(time)s overdue") % {"time": duration(seconds)}
    return _("Response due in %(time)s") % {"time": duration(seconds)}


@register.simple_tag(takes_context=True)
def sla_badge(context: Any, incident: Any, with_deadline: bool = False) -> SafeString:
    """The clock that matters now, as a coloured badge: the response clock while the first
    response is awaited ("Response due in 40 min"), else the resolution clock (time left or over,
    paused, met or missed). ``with_deadline`` adds that clock's deadline on a line of its own."""
    now = _now(context)
    awaited = response_clock(incident, now)
    if awaited.seconds_left is not None:  # running: no one has answered the open incident yet
        label, clock, text = _("Respond by"), awaited, _response_text(awaited)
    else:
        clock = sla.resolution_clock(incident, now)
        label, text = _("Resolve by"), _clock_text(clock)
    badge = _badge(clock, label, text)
    if not with_deadline or clock.deadline is None:
        return badge
    return format_html(
        '{}<span class="cell-sub">{} {}</span>', badge, label, _local(clock.deadline)
    )


@register.simple_tag(takes_context=True)
def clocks(context: Any, incident: Any) -> list[dict[str, Any]]:
    """Both SLA clocks of an incident, for its page: label, deadline, state, badge."""
    now = _now(context)
    rows = []
    for label, clock in (
        (_("Respond by"), response_clock(incident, now)),
        (_("Resolve by"), sla.resolution_clock(incident, now)),
    ):
        rows.append(
            {
                "label": label,
                "deadline": clock.deadline,
                "state": clock.state,
                "state_label": SLA_STATE_LABELS.get(clock.state, clock.state),
                "badge": _badge(clock, label),
            }
        )
    return rows


@register.simple_tag
def priority_badge(incident: Any) -> SafeString:
    return format_html(
        '<span class="prio prio-{}" title="{}">P{}</span>',
        incident.priority,
        PRIORITY_LABELS.get(incident.priority, ""),
        incident.priority,
    )


@register.filter
def priority_label(priority: int) -> str:
    return str(PRIORITY_LABELS.get(priority, ""))


@register.simple_tag
def status_badge(incident: Any) -> SafeString:
    label = incident.get_status_display()
    if incident.status == Status.ON_HOLD and incident.hold_reason:
        label = incident.get_hold_reason_display()
    return format_html('<span class="status status-{}">{}</span>', incident.status, label)


class KeptRowNode(template.Node):
    def __init__(self, row: FilterExpression, nodelist: NodeList) -> None:
        self.row = row
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        row = self.row.resolve(context)
        if row.html is not None:
            return row.html
        with context.push(incident=row.incident):
            html = self.nodelist.render(context)
        row.keep(html)
        return html


@register.tag
def kept_row(parser: Parser, token: Token) -> KeptRowNode:
    """``{% kept_row row %}…{% endkept_row %}``: a queue row (``views/_queue_rows.py``) as it was
    kept, or its body rendered with ``incident`` and kept."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("kept_row takes one argument: the row.")
    nodelist = parser.parse(("endkept_row",))
    parser.delete_first_token()
    return KeptRowNode(parser.compile_filter(bits[1]), nodelist)


@register.filter
def stars(rating: int | None) -> SafeString:
    """A 1–5 rating as five stars, read out as "4 out of 5"."""
    if not rating:
        return SafeString("")
    return format_html(
        '<span class="stars" role="img" aria-label="{}">{}<span class="stars-off">{}</span></span>',
        _("%(rating)s out of 5") % {"rating": rating},
        "★" * rating,
        "★" * (5 - rating),
    )


def _status(value: str | None) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value or "—"


def _label(choices: Any, value: str | None) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or ""


SLA_EVENTS = {
    "warning": gettext_lazy(
        "The resolution target is at risk: three quarters of the time is used."
    ),
    "breached": gettext_lazy("The resolution target was missed."),
    "response_breached": gettext_lazy("The response target was missed."),
}
ESCALATIONS = {
    "functional": gettext_lazy("Escalated to the next-level team."),
    "unassigned": gettext_lazy("Escalated to the team lead: nobody took it in time."),
}


@register.filter
def audience(value: str | None) -> str:
    """Who a stakeholder update went to, in the reader's language where it is a suggested one."""
    return str(AUDIENCES.get(value or "", value or "—"))


@register.simple_tag
def event_line(event: Any) -> SafeString:
    """One sentence saying what an event in the timeline did (its text is shown below it)."""
    data = event.data or {}
    kind = event.kind
    if kind == EventKind.STATUS and "new" not in data and data.get("activity"):
        # A status change imported from another tool's log: its own words for it.
        return format_html("{}", _("Status in the source: %(activity)s") % data)
    if kind == EventKind.STATUS:
        if data.get("awaiting_review"):
            return format_html(
                "{}",
                _(
                    "Confirmed the resolution; the incident closes once its post-incident "
                    "review is completed."
                ),
            )
        if data.get("review_completed"):
            return format_html(
                "{}", _("Completed the post-incident review; the confirmed incident is closed.")
            )
        if data.get("confirmed"):
            return format_html("{}", _("Confirmed the resolution; the incident is closed."))
        if data.get("reopened") and data.get("old") == Status.RESOLVED:
            return format_html("{}", _("Reopened: the resolution did not fix it."))
        line = format_html(
            "{} <span class='arrow' aria-hidden='true'>→</span> <strong>{}</strong>",
            _status(data.get("old")),
            _status(data.get("new")),
        )
        if data.get("hold_reason"):
            line = format_html("{} · {}", line, _label(HoldReason, data["hold_reason"]))
        if data.get("code"):
            line = format_html("{} · {}", line, _label(ResolutionCode, data["code"]))
        return line
    if kind == EventKind.ASSIGNMENT:
        who = data.get("assignee") or _("nobody in particular")
        text = (
            _("Reassigned to %(team)s · %(person)s")
            if data.get("reassignment")
            else _("Assigned to %(team)s · %(person)s")
        )
        return format_html("{}", text % {"team": data.get("team", ""), "person": who})
    if kind == EventKind.PRIORITY:
        parts = []
        for field, label in (
            ("priority", _("Priority")),
            ("impact", _("Impact")),
            ("urgency", _("Urgency")),
        ):
            change = data.get(field)
            if isinstance(change, list) and len(change) == 2:
                prefix = "P" if field == "priority" else ""
                parts.append((label, f"{prefix}{change[0]}", f"{prefix}{change[1]}"))
        if not parts:
            return format_html("{}", _("Priority reviewed; unchanged."))
        return format_html_join(" · ", "{} {} → <strong>{}</strong>", parts)
    if kind == EventKind.WORKLOG:
        minutes = event.minutes or 0
        return format_html(
            "{}",
            ngettext("Logged %(count)s minute of work", "Logged %(count)s minutes of work", minutes)
            % {"count": minutes},
        )
    if kind == EventKind.EMAIL:
        to = ", ".join(data.get("to") or [])
        return format_html("{}", _("E-mail sent to %(to)s") % {"to": to or "—"})
    if kind == EventKind.SLA:
        return format_html("{}", SLA_EVENTS.get(data.get("state"), _("Service level event")))
    if kind == EventKind.ESCALATION:
        return format_html("{}", ESCALATIONS.get(data.get("kind"), _("Escalated.")))
    if kind == EventKind.COMMUNICATION:
        return format_html(
            "{}", _("Update to %(audience)s") % {"audience": audience(data.get("audience"))}
        )
    if kind == EventKind.RATING:
        return format_html("{} {}", _("Rated the service"), stars(data.get("rating")))
    if kind == EventKind.ATTACHMENT:
        size = data.get("size")
        return format_html(
            "{}{}",
            _("Attached a file"),
            f" ({filesizeformat(size)})" if size else "",
        )
    if kind == EventKind.MAJOR:
        return format_html(
            "{}",
            _("Declared a major incident; manager: %(manager)s")
            % {"manager": data.get("manager", "")},
        )
    if kind == EventKind.LINK:
        return format_html(
            "{}", _("Linked %(child)s to this major incident") % {"child": data.get("child", "")}
        )
    if kind == EventKind.COMMENT:
        return format_html("{}", _("Commented"))
    if kind == EventKind.INTERACTION:
        channel = _label(Channel, data.get("channel"))
        number = data.get("interaction")
        if channel and number:
            text = _("Contact: %(channel)s (%(number)s)") % {"channel": channel, "number": number}
        elif channel or number:
            text = _("Contact: %(detail)s") % {"detail": channel or number}
        else:
            text = _("Contact")
        return format_html("{}", text)
    if kind == EventKind.ACTIVITY:
        activity = data.get("activity") or _("unnamed activity")
        if data.get("team"):
            text = _("Activity in the source: %(activity)s (%(team)s)") % {
                "activity": activity,
                "team": data["team"],
            }
        else:
            text = _("Activity in the source: %(activity)s") % {"activity": activity}
        return format_html("{}", text)
    return format_html("{}", event.get_kind_display())

"""Incident pages: the portal (report a problem, my incidents), the agent console, recording on
someone's behalf, and the incident page with every step of its life.

Views are thin: they parse a form, fetch through a scoped query, call one action and render.
"""

from keel.incidents.views._common import incident_url, is_agent
from keel.incidents.views.console import assignee_options, bulk_assign, queue
from keel.incidents.views.incident import act, detail, download
from keel.incidents.views.portal import mine
from keel.incidents.views.recording import known_issues, people_options, record, report
from keel.incidents.views.satisfaction import satisfaction

__all__ = [
    "act",
    "assignee_options",
    "bulk_assign",
    "detail",
    "download",
    "incident_url",
    "is_agent",
    "known_issues",
    "mine",
    "people_options",
    "queue",
    "record",
    "report",
    "satisfaction",
]

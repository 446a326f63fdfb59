"""Every change to an incident, by stage of its life; each action is one transaction.

Each action checks permission and scope, the lifecycle table, and the version the caller read (a
stale write gets ``StaleVersion``, HTTP 409); it writes the incident and its timeline, records one
audit event, and queues notifications after commit. Callers use ``actions.open_incident(...)``.
"""

from keel.incidents.actions._base import (
    ALLOWED_EXTENSIONS,
    TEXT_MAX,
    TITLE_MAX,
    WORKLOG_MAX_MINUTES,
    _max_attachment_bytes,
    _reopen_days,
    _save,
)
from keel.incidents.actions.conversation import (
    add_attachment,
    comment,
    log_work,
    note_email,
    rate,
)
from keel.incidents.actions.interactions import (
    CONTACT_CHANNELS,
    link_interaction,
    record_interaction,
)
from keel.incidents.actions.links import resolve_cis, set_affected_cis
from keel.incidents.actions.major import (
    REVIEW_FIELDS,
    add_review_action,
    communicate,
    declare_major,
    link_child,
    save_review,
)
from keel.incidents.actions.recording import (
    change_priority,
    open_incident,
    update_incident,
)
from keel.incidents.actions.steps import (
    assign,
    cancel,
    close,
    confirm,
    hold,
    reject,
    reopen,
    resolve,
    resume,
    start,
)
from keel.incidents.actions.sweep import (
    auto_close_resolved,
    sweep_sla,
)

__all__ = [
    "ALLOWED_EXTENSIONS",
    "CONTACT_CHANNELS",
    "REVIEW_FIELDS",
    "TEXT_MAX",
    "TITLE_MAX",
    "WORKLOG_MAX_MINUTES",
    "_max_attachment_bytes",
    "_reopen_days",
    "_save",
    "add_attachment",
    "add_review_action",
    "assign",
    "auto_close_resolved",
    "cancel",
    "change_priority",
    "close",
    "comment",
    "communicate",
    "confirm",
    "declare_major",
    "hold",
    "link_child",
    "link_interaction",
    "log_work",
    "note_email",
    "open_incident",
    "rate",
    "record_interaction",
    "reject",
    "reopen",
    "resolve",
    "resolve_cis",
    "resume",
    "save_review",
    "set_affected_cis",
    "start",
    "sweep_sla",
    "update_incident",
]

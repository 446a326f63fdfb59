"""The forms of incident pages: reporting, recording, every step, comments, work, and reviews.

Forms only parse and present. The rules (what a valid level, reason or file is) live in the
actions, whose :class:`~keel.core.errors.FieldError` is attached back to the fields here. Each
form's ``values()`` gives the keyword arguments of its action. Several forms share the incident
page, so each gets ids of its own (``id_resolve_notes``) while the posted names stay plain.
"""

from keel.incidents.forms._base import IncidentForm, upload_problems
from keel.incidents.forms.links import AffectedCIsForm
from keel.incidents.forms.major import (
    CommunicateForm,
    LinkForm,
    MajorForm,
    ReviewActionForm,
    ReviewForm,
)
from keel.incidents.forms.queue import BulkAssignForm
from keel.incidents.forms.recording import AGENT_CHANNELS, RecordForm, ReportForm
from keel.incidents.forms.steps import (
    AssignForm,
    AssignToMeForm,
    CancelForm,
    CloseForm,
    ConfirmForm,
    HoldForm,
    RateForm,
    RejectForm,
    ReopenForm,
    ResolveForm,
    ResumeForm,
    StartForm,
)
from keel.incidents.forms.work import AttachmentForm, CommentForm, PriorityForm, WorklogForm

__all__ = [
    "AGENT_CHANNELS",
    "AffectedCIsForm",
    "AssignForm",
    "AssignToMeForm",
    "AttachmentForm",
    "BulkAssignForm",
    "CancelForm",
    "CloseForm",
    "CommentForm",
    "CommunicateForm",
    "ConfirmForm",
    "HoldForm",
    "IncidentForm",
    "LinkForm",
    "MajorForm",
    "PriorityForm",
    "RateForm",
    "RecordForm",
    "RejectForm",
    "ReopenForm",
    "ReportForm",
    "ResolveForm",
    "ResumeForm",
    "ReviewActionForm",
    "ReviewForm",
    "StartForm",
    "WorklogForm",
    "upload_problems",
]

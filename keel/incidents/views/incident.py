"""The incident page and every form on it: steps of the lifecycle, conversation, work,
files, priority, and the major-incident procedure.

Domain errors come back in one place (:func:`act`): field errors next to their fields, a stale
version as 409 with the typed text kept, out of scope as 404, a missing permission as 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keel.core.errors import DomainError, FieldError, NotFound, StaleVersion
from keel.core.permissions import is_staff_member, team_ids_of
from keel.incidents import actions, contacts, forms, lifecycle, queries
from keel.incidents.forms.contacts import IncidentContactForm
from keel.incidents.lifecycle import Status
from keel.incidents.models import EventKind, Incident
from keel.incidents.views._common import RECORDED, incident_or_404, incident_url

# The step forms of the lifecycle table, by step name.
STEP_FORMS: dict[str, type[forms.IncidentForm]] = {
    "assign": forms.AssignForm,
    "start": forms.StartForm,
    "hold": forms.HoldForm,
    "resume": forms.ResumeForm,
    "resolve": forms.ResolveForm,
    "confirm": forms.ConfirmForm,
    "reject": forms.RejectForm,
    "reopen": forms.ReopenForm,
    "cancel": forms.CancelForm,
    "close": forms.CloseForm,
}
# The likeliest next step is the one primary button; the first of these the page offers.
PRIMARY_STEPS = ["assign-me", "start", "resume", "resolve", "confirm"]
DANGER_STEPS = {"cancel", "reject"}


def _may_take(user: Any, incident: Incident, step: lifecycle.Step) -> bool:
    if step.name == "cancel" and incident.status == Status.NEW and user.pk == incident.requester_id:
        return True
    return user.has_perm(step.permission) or (
        step.requester_may and user.pk == incident.requester_id
    )


def _render_incident(
    request: HttpRequest,
    incident: Incident,
    *,
    bound: forms.IncidentForm | None = None,
    error: Any = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    staff = is_staff_member(user)
    now = timezone.now()

    def make(form_class: type[forms.IncidentForm], **kwargs: Any) -> forms.IncidentForm:
        if bound is not None and bound.key == form_class.key:
            return bound
        return form_class(incident=incident, user=user, **kwargs)

    recorded = request.session.get(RECORDED) == incident.number
    if recorded:
        del request.session[RECORDED]
    events = list(queries.timeline(incident, staff=staff))
    files = list(queries.attachments(incident, staff=staff))
    is_requester = user.pk == incident.requester_id
    is_final = incident.status in lifecycle.FINAL
    context: dict[str, Any] = {
        "incident": incident,
        "now": now,
        "events": events,
        "files": files,
        "error": error,
        "bound_key": bound.key if bound is not None else "",
        "recorded": recorded,
        "is_requester": is_requester,
        "is_final": is_final,
        "staff": staff,
        "affected_cis": _affected_cis(incident),
    }
    steps = [
        s
        for s in lifecycle.available(incident.status)
        if _may_take(user, incident, s) and not (s.name == "confirm" and incident.confirmed_at)
    ]
    if not staff:
        may_write = is_requester and not is_final
        context.update(
            {
                "progress": _progress(incident),
                "comment_form": make(forms.CommentForm) if may_write else None,
                "attach_form": make(forms.AttachmentForm) if may_write else None,
                "confirm_form": make(forms.ConfirmForm)
                if is_requester
                and incident.status == Status.RESOLVED
                and incident.confirmed_at is None
                else None,
                "reject_form": make(forms.RejectForm)
                if is_requester and incident.status == Status.RESOLVED
                else None,
                "rate_form": make(forms.RateForm)
                if is_requester and incident.status == Status.CLOSED and incident.rating is None
                else None,
                "cancel_form": make(forms.CancelForm)
                if any(s.name == "cancel" for s in steps)
                else None,
                "reopen_form": make(forms.ReopenForm)
                if is_requester and _may_reopen(incident, now)
                else None,
            }
        )
        return render(request, "incidents/portal_incident.html", context, status=status)

    can_work = user.has_perm("incidents.work_incident")
    can_manage_major = user.has_perm("incidents.manage_major_incident")
    step_forms = []
    if (
        incident.assignee_id is None
        and incident.is_open
        and incident.team_id in team_ids_of(user)
        and user.has_perm("incidents.assign_incident")
    ):
        step_forms.append(
            {
                "name": "assign-me",
                "label": _("Assign to me"),
                "form": make(forms.AssignToMeForm),
                "simple": True,
            }
        )
    for step in steps:
        form = make(STEP_FORMS[step.name])
        step_forms.append(
            {
                "name": step.name,
                "label": step.label,
                "form": form,
                "simple": not form.visible_fields(),
                "danger": step.name in DANGER_STEPS,
            }
        )
    offered = [s["name"] for s in step_forms]
    primary = next((name for name in PRIMARY_STEPS if name in offered), None)
    for entry in step_forms:
        entry["primary"] = entry["name"] == primary
    review = queries.review_for(incident) if incident.is_major else None
    reads_contacts = contacts.may_read(user)
    context.update(
        {
            "steps": step_forms,
            "can_work": can_work,
            "comment_form": make(forms.CommentForm) if can_work and not is_final else None,
            "worklog_form": make(forms.WorklogForm) if can_work else None,
            "attach_form": make(forms.AttachmentForm) if can_work and not is_final else None,
            "priority_form": make(forms.PriorityForm) if can_work and incident.is_open else None,
            "reads_contacts": reads_contacts,
            "contacts": list(contacts.for_incident(incident)) if reads_contacts else [],
            # People call about closed incidents too, so the form stays.
            "contact_form": make(IncidentContactForm) if contacts.may_record(user) else None,
            "cis_form": make(forms.AffectedCIsForm)
            if user.has_perm("incidents.change_incident") and not is_final
            else None,
            "children": list(queries.children(incident, request.user)) if incident.is_major else [],
            "review": review,
            "communications": [e for e in events if e.kind == EventKind.COMMUNICATION],
            "worked_minutes": sum(e.minutes or 0 for e in events if e.kind == EventKind.WORKLOG),
            "major_form": make(forms.MajorForm)
            if can_manage_major and incident.is_open and not incident.is_major
            else None,
            "communicate_form": make(forms.CommunicateForm)
            if can_work and incident.is_major and not is_final
            else None,
            "link_form": make(forms.LinkForm) if can_work and incident.is_major else None,
            "review_form": make(forms.ReviewForm, review=review)
            if can_manage_major and review is not None and review.completed_at is None
            else None,
            "review_action_form": make(forms.ReviewActionForm)
            if can_manage_major and review is not None and review.completed_at is None
            else None,
        }
    )
    return render(request, "incidents/incident.html", context, status=status)


def _affected_cis(incident: Incident) -> list[dict[str, Any]]:
    """The incident's items, each linked to its CMDB page when the CMDB pages are installed."""
    items = sorted(incident.affected_cis.all(), key=lambda ci: ci.number)
    linked = False
    if items:
        try:
            resolve(f"/cmdb/items/{items[0].pk}/")
            linked = True
        except Resolver404:
            pass
    return [{"ci": ci, "url": f"/cmdb/items/{ci.pk}/" if linked else ""} for ci in items]


# The stages a requester sees their incident pass through; on hold shows in place of "in progress".
PROGRESS = [
    (Status.NEW, gettext_lazy("Recorded")),
    (Status.ASSIGNED, gettext_lazy("Assigned")),
    (Status.IN_PROGRESS, gettext_lazy("In progress")),
    (Status.RESOLVED, gettext_lazy("Resolved")),
    (Status.CLOSED, gettext_lazy("Closed")),
]


def _progress(incident: Incident) -> list[dict[str, Any]]:
    status = Status.IN_PROGRESS if incident.status == Status.ON_HOLD else incident.status
    reached = [s for s, _label in PROGRESS].index(status) if status in dict(PROGRESS) else -1
    stages = []
    for index, (value, label) in enumerate(PROGRESS):
        state = "done" if index < reached else "current" if index == reached else "todo"
        if value == Status.CLOSED and incident.status == Status.CLOSED:
            state = "done"
        if value == Status.IN_PROGRESS and incident.status == Status.ON_HOLD:
            label = incident.get_hold_reason_display() or Status.ON_HOLD.label
        stages.append({"label": label, "state": state})
    return stages


def _may_reopen(incident: Incident, now: datetime) -> bool:
    if incident.status != Status.CLOSED or incident.closed_at is None:
        return False
    return now <= incident.closed_at + timedelta(days=actions._reopen_days())


@login_required
def detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_incident(request, incident_or_404(request, number))


@transaction.atomic
def _attach(*, actor: Any, incident: Incident, uploads: list[Any], public: bool) -> None:
    for upload in uploads:
        actions.add_attachment(actor=actor, incident=incident, upload=upload, public=public)


def _log_contact(*, actor: Any, incident: Incident, **values: Any) -> Any:
    return actions.record_interaction(actor=actor, incident=incident, **values)


def _link(*, actor: Any, incident: Incident, child: Incident) -> Incident:
    return actions.link_child(actor=actor, major=incident, child=child)


# What each form on the incident page posts to: its form, its action, and what to say when done.
POSTS: dict[str, tuple[type[forms.IncidentForm], Callable[..., Any], Any]] = {
    "assign": (forms.AssignForm, actions.assign, gettext_lazy("Assigned.")),
    "assign-me": (forms.AssignToMeForm, actions.assign, gettext_lazy("Assigned to you.")),
    "start": (forms.StartForm, actions.start, gettext_lazy("Work started.")),
    "hold": (
        forms.HoldForm,
        actions.hold,
        gettext_lazy("On hold; the resolution clock is paused."),
    ),
    "resume": (forms.ResumeForm, actions.resume, gettext_lazy("Work resumed; the clock runs.")),
    "resolve": (
        forms.ResolveForm,
        actions.resolve,
        gettext_lazy("Resolved; the requester is asked to confirm."),
    ),
    "confirm": (
        forms.ConfirmForm,
        actions.confirm,
        gettext_lazy("Thank you. The incident is closed."),
    ),
    "reject": (
        forms.RejectForm,
        actions.reject,
        gettext_lazy("Reopened; the team will work on it again."),
    ),
    "reopen": (forms.ReopenForm, actions.reopen, gettext_lazy("Reopened.")),
    "cancel": (forms.CancelForm, actions.cancel, gettext_lazy("Cancelled.")),
    "close": (forms.CloseForm, actions.close, gettext_lazy("Closed.")),
    "rate": (forms.RateForm, actions.rate, gettext_lazy("Thank you for your rating.")),
    "comment": (forms.CommentForm, actions.comment, gettext_lazy("Comment added.")),
    "worklog": (forms.WorklogForm, actions.log_work, gettext_lazy("Work logged.")),
    "attach": (forms.AttachmentForm, _attach, gettext_lazy("Files attached.")),
    "contact": (IncidentContactForm, _log_contact, gettext_lazy("Contact recorded.")),
    "cis": (
        forms.AffectedCIsForm,
        actions.set_affected_cis,
        gettext_lazy("Affected configuration items saved."),
    ),
    "priority": (
        forms.PriorityForm,
        actions.change_priority,
        gettext_lazy("Priority saved; the deadlines follow it."),
    ),
    "major": (
        forms.MajorForm,
        actions.declare_major,
        gettext_lazy("Declared a major incident; a post-incident review is now required."),
    ),
    "communicate": (forms.CommunicateForm, actions.communicate, gettext_lazy("Update posted.")),
    "link": (forms.LinkForm, _link, gettext_lazy("Incident linked.")),
    "review": (forms.ReviewForm, actions.save_review, gettext_lazy("Review saved.")),
    "review-action": (
        forms.ReviewActionForm,
        actions.add_review_action,
        gettext_lazy("Action added to the review."),
    ),
}
# Where the page scrolls back to after each kind of post.
ANCHORS = {
    "comment": "timeline",
    "worklog": "timeline",
    "attach": "attachments",
    "contact": "contacts",
}
ANCHORS |= dict.fromkeys(["major", "communicate", "link", "review", "review-action"], "major")


@login_required
def act(request: HttpRequest, number: str, key: str) -> HttpResponse:
    """Post one form of the incident page: a step, a comment, work, a file, the review…

    A form that failed is shown at its own address; reloading that address later, or opening
    it from the history, leads back to the incident page.
    """
    try:
        form_class, action, done = POSTS[key]
    except KeyError:
        raise Http404 from None
    if request.method != "POST":
        return redirect(incident_url(incident_or_404(request, number).number))
    incident = incident_or_404(request, number)
    form = form_class(request.POST, request.FILES, incident=incident, user=request.user)
    if not form.is_valid():
        return _render_incident(request, incident, bound=form, status=422)
    try:
        action(actor=request.user, incident=incident, **form.values())
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        # The action rolled back; show the incident as it now is, with the person's text kept.
        fresh = incident_or_404(request, number)
        if isinstance(exc, StaleVersion):
            data = request.POST.copy()
            data["version"] = str(fresh.version)
            form = form_class(data, request.FILES, incident=fresh, user=request.user)
            form.is_valid()
            message = _(
                "Someone else changed %(number)s while you were writing. The page now shows "
                "their change; your text is kept below. Check it and send it again."
            ) % {"number": fresh.number}
            return _render_incident(request, fresh, bound=form, error=message, status=409)
        form.attach(exc)
        message = exc.message if not isinstance(exc, FieldError) else ""
        return _render_incident(request, fresh, bound=form, error=message, status=exc.status)
    if key == "review" and form.values().get("complete"):
        done = (
            gettext_lazy(
                "Review completed; the requester had confirmed, so the incident is closed."
            )
            if incident.status == Status.CLOSED
            else gettext_lazy("Review completed; the incident may now close.")
        )
    if key == "confirm" and incident.status != Status.CLOSED:
        done = gettext_lazy(
            "Thank you. The team closes the incident once its post-incident review is completed."
        )
    messages.success(request, done)
    if not queries.may_see(request.user, incident.pk):
        # Given to a team outside the agent's view: their work on it is done; say where it went.
        messages.info(request, _passed_on(incident))
        return redirect("incidents:queue")
    anchor = ANCHORS.get(key)
    return redirect(incident_url(incident.number) + (f"#{anchor}" if anchor else ""))


def _passed_on(incident: Incident) -> str:
    team = Incident.objects.filter(pk=incident.pk).values_list("team__name", flat=True).first()
    return _("%(number)s is now with %(team)s and has left your view.") % {
        "number": incident.number,
        "team": team or "—",
    }


IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}


@login_required
def download(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """An attachment, for whoever may see the incident (requesters: public files only)."""
    incident = incident_or_404(request, number)
    attachment = (
        queries.attachments(incident, staff=is_staff_member(request.user)).filter(pk=pk).first()
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle,
        as_attachment=attachment.content_type not in IMAGE_TYPES,
        filename=attachment.name,
        content_type=attachment.content_type,
    )

"""Replaying an imported source's history through Keel's own incident actions.

Each imported incident is recorded again as a NEW incident (channel "import", source id
``replay:<original id>``, the original's service, category, impact and urgency; the originals are
only read), then its timeline's activities are taken as the steps they stand for, in time order
across all incidents, spaced out by a ``Scheduler``. Every step goes through the action a person
would use (``assign``, ``start``, ``hold``, ``resolve``…), so the lifecycle, the SLA clock, the
timeline and the audit trail all work as they do every day; a step the lifecycle refuses is
counted with its reason, never forced.

Time: ``open_incident`` could take ``at=``, but the steps after it (``assign``, ``hold``,
``resolve``…) always stamp the real time. So that an incident's record is one consistent story,
the replay stamps nothing itself: every record carries the real time at which the replay took the
step, and the simulated clock decides only *when* each step is taken. At ``--speed 1`` the SLA
clocks run exactly as they did; at 600 the history is compressed 600 times against them.

Nobody is told: ``notifications_suppressed()`` turns off every e-mail the incident actions would
queue (acknowledgements, assignment, resolution and SLA notices) while the replay runs, and the
replayed incidents' requester is an account with no e-mail address.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from keel.catalog.models import Category, Service
from keel.core import audit
from keel.core.actions import system_user
from keel.core.errors import DomainError, StaleVersion
from keel.core.models import Team
from keel.core.permissions import require
from keel.imports import replay as planning
from keel.incidents import actions as incident_actions
from keel.incidents import notify
from keel.incidents.lifecycle import OPEN, Status
from keel.incidents.models import Channel, Incident, ResolutionCode

User = get_user_model()


def notifications_suppressed() -> contextlib.AbstractContextManager[None]:
    """Queue no notification while the block runs (in this thread).

    The incident actions queue every e-mail through ``notify`` and the SLA sweep its notices
    through ``notify.sla_notices``; both queue nothing here. Nothing is sent, nothing is queued
    for the worker, and no "e-mail sent" line is written on a timeline.
    """
    return notify.silenced()


@dataclass
class ReplaySummary:
    source: str
    speed: float
    incidents: int = 0  # recorded anew
    already: int = 0  # replayed by an earlier run: left alone
    not_opened: Counter[str] = field(default_factory=Counter)  # reason → count
    applied: Counter[str] = field(default_factory=Counter)  # step → count
    skipped: Counter[str] = field(default_factory=Counter)  # activity → count
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)  # (step, reason) → count
    events: int = 0  # openings and timeline events taken in turn
    seconds: float = 0.0
    slept: float = 0.0
    history_from: datetime | None = None
    history_to: datetime | None = None

    @property
    def steps(self) -> int:
        return sum(self.applied.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[ReplaySummary, planning.Planned, int, int], None]


@transaction.atomic
def replay_requester(source: str, title: str = "") -> Any:
    """The person replayed incidents are recorded for: active (the lifecycle needs a requester
    who could confirm), but with no e-mail address and no password, so no one is ever told or
    able to sign in as them."""
    username = f"replay-{source}"[:150]
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(
            username=username,
            name=(_("Replay of %(title)s") % {"title": title or source})[:150],
            email="",
            is_active=True,
        )
        user.set_unusable_password()
        user.save()
        audit.record(
            system_user(),
            "user.created",
            user,
            reason=_("replay of %(source)s") % {"source": source},
        )
    elif not user.is_active or user.email:
        changes = {"is_active": [user.is_active, True], "email": [user.email, ""]}
        user.is_active, user.email = True, ""
        user.save(update_fields=["is_active", "email"])
        audit.record(
            system_user(),
            "user.updated",
            user,
            changes=changes,
            reason=_("replay of %(source)s: its requester has no e-mail address")
            % {"source": source},
        )
    return user


class _Replayer:
    """Takes the planned openings and steps in turn; keeps the new incidents by original."""

    def __init__(self, source: str, actor: Any, requester: Any, summary: ReplaySummary):
        self.source = source
        self.actor = actor
        self.requester = requester
        self.summary = summary
        self.incidents: dict[int, Incident] = {}
        self.services: dict[int, Service] = {}
        self.categories: dict[int, Category] = {}
        self.teams_by_id: dict[int, Team] = {}
        self.teams_by_name: dict[str, Team | None] = {}

    # --- lookups ---------------------------------------------------------------------------

    def _service(self, pk: int) -> Service:
        if pk not in self.services:
            self.services[pk] = Service.objects.select_related("team").get(pk=pk)
        return self.services[pk]

    def _category(self, pk: int | None) -> Category | None:
        if pk is None:
            return None
        if pk not in self.categories:
            self.categories[pk] = Category.objects.get(pk=pk)
        return self.categories[pk]

    def _team(self, team_id: int | None, name: str) -> Team | None:
        if team_id:
            if team_id not in self.teams_by_id:
                self.teams_by_id[team_id] = Team.objects.filter(pk=team_id).first()  # type: ignore[assignment]
            if self.teams_by_id[team_id] is not None:
                return self.teams_by_id[team_id]
        key = name.strip().lower()
        if not key:
            return None
        if key not in self.teams_by_name:
            self.teams_by_name[key] = (
                Team.objects.filter(name__iexact=key).first()
                or Team.objects.filter(code__iexact=key).first()
            )
        return self.teams_by_name[key]

    # --- one planned item ------------------------------------------------------------------

    def take(self, item: planning.Planned) -> None:
        summary = self.summary
        summary.events += 1
        if item.step == "open":
            self._open(item.original)
            return
        incident = self.incidents.get(item.original.pk)
        if incident is None:
            return  # not opened (replayed before, or refused): its steps go with it
        if item.step == "skip":
            summary.skipped[item.activity] += 1
            return
        try:
            self._step(incident, item)
        except StaleVersion:
            # Someone else (the SLA sweep of a running worker) changed it: read it again, retry.
            incident.refresh_from_db()
            try:
                self._step(incident, item)
            except DomainError as exc:
                self._refused(item, incident, exc)
        except DomainError as exc:
            self._refused(item, incident, exc)

    def _refused(self, item: planning.Planned, incident: Incident, exc: DomainError) -> None:
        incident.refresh_from_db()  # the action's transaction rolled back; so does our copy
        reason = str(exc.message)
        if exc.errors:
            reason += " " + "; ".join(str(message) for _field, message in exc.errors)
        self.summary.refused[(item.step, reason.strip())] += 1

    def _open(self, original: planning.Original) -> None:
        try:
            incident = incident_actions.open_incident(
                actor=self.actor,
                title=original.title,
                description=original.description,
                service=self._service(original.service_id),
                category=self._category(original.category_id),
                impact=original.impact,
                urgency=original.urgency,
                requester=self.requester,
                channel=Channel.IMPORT,
                external_id=(planning.REPLAY_PREFIX + original.external_id)[:100],
                notify_requester=False,
            )
        except DomainError as exc:
            reason = "; ".join(str(m) for _f, m in exc.errors) or str(exc.message)
            self.summary.not_opened[reason] += 1
            return
        self.incidents[original.pk] = incident
        self.summary.incidents += 1
        self.summary.applied["open"] += 1

    def _step(self, incident: Incident, item: planning.Planned) -> None:
        actor, args, applied = self.actor, item.kwargs, self.summary.applied
        note = _("Replayed from %(source)s %(id)s: %(activity)s") % {
            "source": self.source,
            "id": item.original.external_id,
            "activity": item.activity,
        }
        step = item.step
        if step == "assign":
            team = self._team(args.get("team_id"), args.get("team") or "")
            if team is None:
                self.summary.skipped[
                    _("%(activity)s (no team %(team)s in Keel)")
                    % {"activity": item.activity, "team": args.get("team") or "—"}
                ] += 1
                return
            if team.pk == incident.team_id and incident.assignee_id is None:
                # Keel records an incident with its service's team already: nothing changes.
                self.summary.skipped[
                    _("%(activity)s (already with that team)") % {"activity": item.activity}
                ] += 1
                return
            incident_actions.assign(actor=actor, incident=incident, team=team, reason=note)
        elif step == "progress":
            if incident.status == Status.ON_HOLD:
                incident_actions.resume(actor=actor, incident=incident, note=note)
                step = "resume"
            elif incident.status == Status.IN_PROGRESS:
                self.summary.skipped[
                    _("%(activity)s (already in progress)") % {"activity": item.activity}
                ] += 1
                return
            else:
                incident_actions.start(actor=actor, incident=incident)
                step = "start"
        elif step == "hold":
            incident_actions.hold(actor=actor, incident=incident, reason=args["reason"], note=note)
        elif step == "resume":
            incident_actions.resume(actor=actor, incident=incident, note=note)
        elif step == "resolve":
            self._resolve(incident, item, note)
        elif step == "close":
            if incident.status in OPEN:
                # The source closes without a separate resolution: resolve it first.
                self._resolve(incident, item, note)
                applied["resolve"] += 1
            incident_actions.close(actor=actor, incident=incident, reason=note)
        elif step == "reopen":
            incident_actions.reopen(actor=actor, incident=incident, reason=note)
        elif step == "cancel":
            incident_actions.cancel(actor=actor, incident=incident, reason=note)
        elif step == "comment":
            incident_actions.comment(actor=actor, incident=incident, body=note, public=False)
        else:  # pragma: no cover (the plan names only the steps above)
            raise ValueError(step)
        applied[step] += 1

    def _resolve(self, incident: Incident, item: planning.Planned, note: str) -> None:
        original = item.original
        code = original.resolution_code
        if code not in ResolutionCode.values:
            code = ResolutionCode.OTHER
        notes = original.resolution_notes or note
        incident_actions.resolve(actor=self.actor, incident=incident, code=code, notes=notes)


def run_replay(
    source: str,
    *,
    actor: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    speed: float = 0,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplaySummary:
    """Replay ``source``'s imported incidents recorded in [since, until) (the first ``limit``).

    Acts as ``actor`` (an administrator: one who may run imports) or the system account. Each
    incident already replayed by an earlier run is left alone, so a replay cut short can be run
    again to finish.
    """
    if actor is not None:
        require(actor, "imports.run_import")
    else:
        actor = system_user()
    summary = ReplaySummary(source=source, speed=speed)
    incidents = planning.originals(source, since=since, until=until, limit=limit)
    done = planning.replayed_already(o.external_id for o in incidents)
    summary.already = len(done)
    incidents = [o for o in incidents if o.external_id not in done]
    items = planning.plan(incidents, planning.timeline_rows([o.pk for o in incidents], until=until))
    started = time.perf_counter()
    if not items:
        return summary
    summary.history_from, summary.history_to = items[0].at, items[-1].at
    scheduler = planning.Scheduler(items[0].at, speed, clock=clock, sleep=sleep)
    replayer = _Replayer(source, actor, replay_requester(source), summary)
    total = len(items)
    with notifications_suppressed():
        for position, item in enumerate(items, 1):
            scheduler.wait_for(item.at)
            replayer.take(item)
            if progress is not None:
                progress(summary, item, position, total)
    summary.slept = scheduler.slept
    summary.seconds = time.perf_counter() - started
    return summary

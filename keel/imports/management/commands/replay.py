"""``keel replay --source NAME [--since D] [--until D] [--limit N] [--speed X] [--as USER]``.

Feeds an imported source's history through Keel's incident actions in time order, as new
incidents (``replay:<source id>``), at ``--speed`` times real time (600: ten minutes of history a
second; 0: as fast as possible). Nobody is notified. Prints progress and a summary: incidents
replayed, steps applied, activities skipped, steps the lifecycle refused (with why) and events/s.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from datetime import time as day_start

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.core.models import User
from keel.imports.actions.replay import ReplaySummary, run_replay
from keel.imports.replay import Planned


def _moment(text: str) -> datetime:
    """A date (``2013-10-01``) or a date and time (``2013-10-01T08:00``), in the server's zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            _("%(value)r is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM).")
            % {"value": text}
        ) from None
    if len(text) == 10:
        moment = datetime.combine(moment.date(), day_start())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "Replay an imported source's history through Keel's actions, at a chosen speed."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="the imported source (bpic2014…)")
        parser.add_argument("--since", help="only incidents recorded from this date (ISO)")
        parser.add_argument("--until", help="only history before this date (ISO)")
        parser.add_argument("--limit", type=int, help="at most this many incidents (oldest first)")
        parser.add_argument(
            "--speed",
            type=float,
            default=0,
            help="times real time (600: ten minutes of history a second; 0: as fast as possible)",
        )
        parser.add_argument("--as", dest="username", help="the administrator the replay acts as")

    def handle(self, *args, **options):
        since = _moment(options["since"]) if options["since"] else None
        until = _moment(options["until"]) if options["until"] else None
        if since and until and until <= since:
            raise CommandError(_("--until must be after --since."))
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError(_("--limit must be 1 or more."))
        if options["speed"] < 0:
            raise CommandError(_("--speed must be 0 (as fast as possible) or more."))
        actor = None
        if options["username"]:
            actor = User.objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(
                    _("No active user named %(name)r.") % {"name": options["username"]}
                )
        tty = sys.stdout.isatty()
        last = [0.0]

        def progress(summary: ReplaySummary, item: Planned, done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last[0] < (0.5 if tty else 5):
                return
            last[0] = now
            line = _(
                "  %(at)s  %(done)s/%(total)s events, %(incidents)s incidents, %(steps)s steps, "
                "%(refused)s refused"
            ) % {
                "at": timezone.localtime(item.at).strftime("%Y-%m-%d %H:%M"),
                "done": f"{done:,}",
                "total": f"{total:,}",
                "incidents": f"{summary.incidents:,}",
                "steps": f"{summary.steps:,}",
                "refused": f"{sum(summary.refused.values()):,}",
            }
            self.stdout.write(("\r" + line) if tty else line, ending="" if tty else "\n")
            self.stdout.flush()
            if tty and done >= total:
                self.stdout.write("")

        self.stdout.write(
            _("Replaying %(source)s at %(speed)s")
            % {
                "source": options["source"],
                "speed": _("full speed")
                if options["speed"] == 0
                else _("%(x)s× real time") % {"x": f"{options['speed']:g}"},
            }
        )
        try:
            summary = run_replay(
                options["source"],
                actor=actor,
                since=since,
                until=until,
                limit=options["limit"],
                speed=options["speed"],
                progress=progress,
            )
        except PermissionDenied:
            raise CommandError(
                _("%(name)s may not replay imports: an administrator is needed.")
                % {"name": options["username"]}
            ) from None
        self._report(summary)

    def _report(self, summary: ReplaySummary) -> None:
        write = self.stdout.write
        write("")
        if summary.history_from is None:
            write(
                _("Nothing to replay: no incidents imported from %(source)s%(more)s.")
                % {
                    "source": summary.source,
                    "more": _(" that were not replayed already") if summary.already else "",
                }
            )
            return
        write(
            _("History from %(start)s to %(end)s.")
            % {
                "start": timezone.localtime(summary.history_from).strftime("%Y-%m-%d %H:%M"),
                "end": timezone.localtime(summary.history_to).strftime("%Y-%m-%d %H:%M"),
            }
        )
        write(
            _("Incidents replayed: %(count)s (already replayed before, left alone: %(already)s)")
            % {"count": f"{summary.incidents:,}", "already": f"{summary.already:,}"}
        )
        for reason, count in summary.not_opened.most_common():
            write(_("  not recorded (%(count)s): %(reason)s") % {"count": count, "reason": reason})
        write(_("Steps applied: %(count)s") % {"count": f"{summary.steps:,}"})
        for step, count in summary.applied.most_common():
            write(f"  {step:<10} {count:>10,}")
        write(
            _("Activities skipped (no Keel step): %(count)s")
            % {"count": f"{sum(summary.skipped.values()):,}"}
        )
        for activity, count in summary.skipped.most_common():
            write(f"  {count:>10,}  {activity}")
        write(
            _("Steps refused by the lifecycle: %(count)s")
            % {"count": f"{sum(summary.refused.values()):,}"}
        )
        for (step, reason), count in summary.refused.most_common():
            write(f"  {count:>10,}  {step}: {reason}")
        write(
            _(
                "%(events)s events in %(seconds)s s (%(slept)s s waiting for history): "
                "%(rate)s events/s, %(steps)s steps/s."
            )
            % {
                "events": f"{summary.events:,}",
                "seconds": f"{summary.seconds:.1f}",
                "slept": f"{summary.slept:.1f}",
                "rate": f"{summary.events_per_second:,.0f}",
                "steps": f"{summary.steps / summary.seconds if summary.seconds else 0:,.0f}",
            }
        )

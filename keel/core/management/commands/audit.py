"""``keel audit verify``: walk the audit chain and report the first broken link."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from keel.core import audit


class Command(BaseCommand):
    help = "Check the audit trail: every event unchanged, none missing, chained in order."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("verify", help="verify the hash chain")

    def handle(self, *args, **options):
        started = time.perf_counter()
        result = audit.verify()
        seconds = time.perf_counter() - started
        if not result.ok:
            raise CommandError(
                f"Audit trail BROKEN at event #{result.broken_seq}: {result.problem} "
                f"({result.checked} events verified before it)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit trail intact: {result.checked} events verified in {seconds:.2f} s."
            )
        )

"""``keel import MAPPING --data DIR [--dry-run]``: bring another tool's records into Keel.

Shipped mappings are found by name (``keel import bpic2014``); any other mapping by its path.
The dry run prints every row it would refuse (line, column, reason) and writes nothing; a real
run prints a progress line per file and a summary, and can be run again to complete or refresh
an import (records are keyed on their source ids).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from keel.core.errors import DomainError
from keel.core.models import User
from keel.imports import mapping as mappings
from keel.imports.actions import FileSummary, ImportFailed, run_import
from keel.imports.targets import TARGETS

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


def find_mapping(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    shipped = SHIPPED / f"{name}.toml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.toml")))
    raise CommandError(f"No mapping file {name!r} (shipped mappings: {names}).")


class Command(BaseCommand):
    help = "Import records from another tool's export, as a mapping file describes."

    def add_arguments(self, parser):
        parser.add_argument("mapping", help="a mapping file, or the name of a shipped one")
        parser.add_argument("--data", required=True, help="the folder holding the export files")
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything, write nothing"
        )
        parser.add_argument("--only", action="append", default=[], choices=sorted(TARGETS))
        parser.add_argument("--batch", type=int, default=5000, help="rows per transaction")
        parser.add_argument("--as", dest="username", help="the administrator the import acts as")
        parser.add_argument(
            "--set-levels",
            action="store_true",
            help="widen the priority scale to the source's levels first",
        )
        parser.add_argument("--show", type=int, default=50, help="problems to print (0: all)")

    def handle(self, *args, **options):
        try:
            mapping = mappings.load(find_mapping(options["mapping"]), targets=TARGETS)
        except mappings.MappingError as exc:
            raise CommandError(f"{options['mapping']}: {exc}") from None
        actor = None
        if options["username"]:
            actor = User.objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(f"No active user named {options['username']!r}.")
        if options["batch"] < 1:
            raise CommandError("--batch must be 1 or more.")
        tty = sys.stdout.isatty()
        last = [0.0]

        def progress(result: FileSummary, done: int, size: int) -> None:
            now = time.monotonic()
            if done < size and now - last[0] < (0.2 if tty else 5):
                return
            last[0] = now
            share = done / size if size else 1
            bar = "#" * int(share * 30)
            line = (
                f"  {result.path} → {result.target} [{bar:<30}] {share:4.0%} "
                f"{result.read:,} read, {result.created:,} new, {result.updated:,} updated, "
                f"{result.rejected:,} refused"
            )
            self.stdout.write(("\r" + line) if tty else line, ending="" if tty else "\n")
            self.stdout.flush()
            if tty and done >= size:
                self.stdout.write("")

        verb = "Checking" if options["dry_run"] else "Importing"
        self.stdout.write(f"{verb} {mapping.title} from {options['data']}")
        try:
            summary = run_import(
                mapping,
                data_dir=options["data"],
                actor=actor,
                dry_run=options["dry_run"],
                batch_size=options["batch"],
                only=options["only"],
                progress=progress,
                set_levels=options["set_levels"],
            )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from None
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self._report(summary, options["show"])

    def _report(self, summary, show: int) -> None:
        write = self.stdout.write
        head = "would create" if summary.dry_run else "created"
        write("")
        write(
            f"{'file':<44} {'target':<15} {'read':>9} {head:>12} {'updated':>9} "
            f"{'merged':>8} {'refused':>8} {'warned':>7} {'seconds':>8}"
        )
        for f in summary.files:
            write(
                f"{f.path[:44]:<44} {f.target:<15} {f.read:>9,} {f.created:>12,} {f.updated:>9,} "
                f"{f.merged:>8,} {f.rejected:>8,} {f.warnings:>7,} {f.seconds:>8.1f}"
            )
        for kind, names in summary.would_create.items():
            write(
                f"would create {len(names)} {kind}: {', '.join(names[:10])}"
                + (" …" if len(names) > 10 else "")
            )
        problems = summary.problems if show == 0 else summary.problems[:show]
        for path, problem in problems:
            tag = "warning" if problem.warning else "refused"
            column = f" [{problem.column}]" if problem.column else ""
            write(f"{path} line {problem.line}{column}: {tag}: {problem.message}")
        if len(problems) < len(summary.problems):
            write(f"… and {len(summary.problems) - len(problems):,} more (--show 0 lists all)")
        outcome = (
            "Dry run: nothing written." if summary.dry_run else f"Import run {summary.run_id}."
        )
        write(f"{outcome} {summary.seconds:.1f} s.")

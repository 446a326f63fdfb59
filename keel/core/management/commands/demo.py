"""``keel demo --preset small|enterprise``: load a demo organisation to try Keel with."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keel.core import demo


class Command(BaseCommand):
    help = "Load a demo organisation (people, teams, departments, calendars)."

    def add_arguments(self, parser):
        parser.add_argument("--preset", choices=demo.PRESETS, default="small")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="only when the database has no people yet (for `make run`)",
        )

    def handle(self, *args, **options):
        if demo.has_people():
            if options["if_empty"]:
                return
            raise CommandError(
                "This database already has people; demo data goes into an empty database only."
            )
        demo.load(options["preset"])
        self.stdout.write(self.style.SUCCESS(f"Loaded the {options['preset']} demo organisation."))
        for username, password, what in demo.existing_logins():
            self.stdout.write(f"  {username:<12} {password}   {what}")

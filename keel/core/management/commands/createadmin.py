"""``keel createadmin --username U --email E --password P``: an administrator, without prompts.

Any value not given is asked for on the terminal (the password twice, hidden).
"""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from keel.core import actions
from keel.core.errors import DomainError
from keel.core.roles import Role


class Command(BaseCommand):
    help = "Create an administrator (non-interactive when --username, --email and --password are given)."

    def add_arguments(self, parser):
        parser.add_argument("--username")
        parser.add_argument("--email")
        parser.add_argument("--password")
        parser.add_argument("--name", default="")

    def _ask(self, label: str) -> str:
        value = input(f"{label}: ").strip()
        if not value:
            raise CommandError(f"{label} is required.")
        return value

    def handle(self, *args, **options):
        username = options["username"] or self._ask("User name")
        email = options["email"] or self._ask("E-mail")
        password = options["password"]
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            user = actions.create_user(
                actor=actions.system_user(),
                username=username,
                email=email,
                name=options["name"],
                password=password,
                roles=[Role.ADMINISTRATOR.value],
                is_superuser=True,
            )
        except DomainError as exc:
            details = "; ".join(f"{field}: {message}" for field, message in exc.errors) or str(
                exc.message
            )
            raise CommandError(details) from None
        self.stdout.write(self.style.SUCCESS(f"Administrator {user.username} created."))

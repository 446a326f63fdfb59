"""``keel token create USERNAME`` prints a new API token alone on stdout; ``list`` and ``revoke``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keel.core import actions
from keel.core.errors import DomainError
from keel.core.models import ApiToken, User


class Command(BaseCommand):
    help = "Create, list or revoke API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="create a token and print it (only this once)")
        create.add_argument("username")
        create.add_argument("--name", default="")
        listing = sub.add_parser("list", help="list a person's tokens")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username, is_system=False).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        return user

    def handle(self, *args, **options):
        verb = options["verb"]
        if verb == "create":
            user = self._user(options["username"])
            try:
                _token, raw = actions.create_api_token(
                    actor=actions.system_user(), user=user, name=options["name"]
                )
            except DomainError as exc:
                raise CommandError(str(exc.errors[0][1]) if exc.errors else str(exc)) from None
            self.stdout.write(raw)
        elif verb == "list":
            for token in ApiToken.objects.filter(user=self._user(options["username"])):
                state = "revoked" if token.revoked_at else "active"
                used = token.last_used_at.isoformat() if token.last_used_at else "never used"
                self.stdout.write(
                    f"{token.prefix}  {state:<8} {token.created_at:%Y-%m-%d}  {used}  {token.name}"
                )
        else:
            tokens = list(
                ApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True)
            )
            if len(tokens) != 1:
                raise CommandError(f"No single active token with prefix {options['prefix']!r}.")
            actions.revoke_api_token(
                actor=actions.system_user(), token=tokens[0], reason="revoked with keel token"
            )
            self.stdout.write(f"Revoked {tokens[0].prefix}.")

"""The ``keel`` command: Django's management commands with Keel's settings.

``keel serve``, ``keel worker``, ``keel migrate``, ``keel demo``, ``keel createadmin``,
``keel token create USERNAME``, ``keel audit verify`` and every other ``manage.py`` command.
"""

from __future__ import annotations

import os
import sys

ALIASES = {"worker": "run_huey"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    args = list(sys.argv if argv is None else argv)
    args[0] = "keel"
    if len(args) > 1 and args[1] in ALIASES:
        args[1] = ALIASES[args[1]]
    from keel.config import ConfigError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(args)
    except ConfigError as exc:
        sys.stderr.write(f"keel: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()

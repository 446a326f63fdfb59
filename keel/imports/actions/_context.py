"""What every writer shares during one import: the source, the actor, and the lookups.

Lookups turn the names a source uses (a team's name, a service's code, a user's e-mail) into
Keel ids, and create the missing ones when the mapping allows it (``create_missing``). In a dry
run nothing is created: a record that would be is counted and given a stand-in id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

from keel.catalog import queries as catalog
from keel.catalog.models import Category, Service
from keel.cmdb.models import CIType, CITypeVersion, ConfigurationItem
from keel.core import audit
from keel.core.models import Team
from keel.imports.mapping import CellError, FieldSpec, Mapping_
from keel.incidents.models import Incident

User = get_user_model()
STAND_IN = -1  # the id a record gets in a dry run when it would be created


@dataclass
class Problem:
    line: int
    column: str
    message: str
    warning: bool = False


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(1 for p in self.problems if not p.warning)

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.warning)


def text_of(record: dict[str, Any], name: str, *, limit: int | None = None) -> str:
    """A record's text field, trimmed, refused when longer than ``limit`` (naming the field)."""
    value = record.get(name)
    text = "" if value is None else str(value).strip()
    if limit is not None and len(text) > limit:
        raise CellError(
            name,
            _("%(field)s is %(length)s characters long; at most %(limit)s fit")
            % {"field": name, "length": len(text), "limit": limit},
        )
    return text


class _Index:
    """Names and codes of one kind of record, lower-cased, loaded once per import."""

    def __init__(self, model: type[Model], keys: Iterable[str]):
        self.model = model
        self.keys = tuple(keys)
        self.ids: dict[str, int] | None = None

    def load(self) -> dict[str, int]:
        if self.ids is None:
            self.ids = {}
            for row in self.model.objects.values("pk", *self.keys):  # type: ignore[attr-defined]
                for key in self.keys:
                    if row[key]:
                        self.ids.setdefault(str(row[key]).lower(), row["pk"])
        return self.ids

    def get(self, name: str) -> int | None:
        return self.load().get(name.lower())

    def add(self, name: str, pk: int) -> None:
        self.load()[name.lower()] = pk

    def code_for(self, name: str, prefix: str) -> str:
        """A unique code (slug) for a new record named ``name``."""
        taken = self.load()
        base = (
            slugify(name)[:32]
            or f"{prefix}-{hashlib.blake2b(name.encode(), digest_size=4).hexdigest()}"
        )
        code, n = base, 1
        while code in taken:
            n += 1
            code = f"{base}-{n}"
        return code


class Context:
    """One import run's shared state."""

    def __init__(self, mapping: Mapping_, *, actor: Any, dry_run: bool, now: datetime):
        self.mapping = mapping
        self.source = mapping.source
        self.actor = actor
        self.dry_run = dry_run
        self.now = now
        self.levels = catalog.levels()
        self.teams = _Index(Team, ("name", "code"))
        self.services = _Index(Service, ("code", "name"))
        self.categories = _Index(Category, ("code", "name"))
        self.ci_types = _Index(CIType, ("code", "name"))
        self.would_create: dict[str, set[str]] = {}
        # Keys each target has seen in this run: a dry run counts records earlier files would
        # have created as present.
        self.planned: dict[str, set[str]] = {}
        self._placeholder: int | None = None

    def reason(self, path: str = "", line: int = 0) -> str:
        if not path:
            return _("imported from %(title)s") % {"title": self.mapping.title}
        return _("imported from %(title)s, %(file)s line %(line)s") % {
            "title": self.mapping.title,
            "file": path,
            "line": line,
        }

    def audit_batch(
        self, action: str, path: str, model: type[Model], lines: list[int], numbers: list[str]
    ) -> None:
        """One audit event for a batch of imported records (contacts, timeline events): which
        records, from which lines, by which run. Records imported by the hundred thousand are
        audited per batch; each names the batch's first and last record."""
        if not numbers:
            return
        audit.record(
            self.actor,
            action,
            object_type=model._meta.label_lower,
            object_id=f"{numbers[0]}..{numbers[-1]}"[:64],
            object_repr=(f"{numbers[0]} … {numbers[-1]}" if len(numbers) > 1 else numbers[0])[:300],
            changes={"count": [None, len(numbers)], "lines": [None, [min(lines), max(lines)]]},
            reason=self.reason(path, min(lines)),
            at=self.now,
        )

    # --- people -------------------------------------------------------------------------------

    def placeholder_user(self) -> int:
        """The account imported records name when the source names no one (cannot log in)."""
        if self._placeholder is None:
            username = self.mapping.user or f"import-{self.source}"
            pk = User.objects.filter(username=username).values_list("pk", flat=True).first()
            if pk is None and self.dry_run:
                pk = STAND_IN
            elif pk is None:
                user = User(
                    username=username,
                    name=_("Imported from %(title)s") % {"title": self.mapping.title},
                    is_active=False,
                )
                user.set_unusable_password()
                user.save()
                audit.record(self.actor, "user.created", user, reason=self.reason())
                pk = user.pk
            self._placeholder = pk
        return self._placeholder

    def users(self, names: Iterable[str]) -> dict[str, int]:
        """User ids by user name or e-mail address (lower-cased), for the names given."""
        wanted = {n.lower() for n in names if n}
        if not wanted:
            return {}
        found: dict[str, int] = {}
        query = Q(username__in=wanted) | Q(email__in=wanted)
        for pk, username, email in User.objects.filter(query).values_list(
            "pk", "username", "email"
        ):
            found[username.lower()] = pk
            if email:
                found.setdefault(email.lower(), pk)
        return found

    def users_departments(self, ids: Iterable[int]) -> dict[int, int | None]:
        """Each user's department, for the users given."""
        return dict(User.objects.filter(pk__in=list(ids)).values_list("pk", "department_id"))

    # --- named records ------------------------------------------------------------------------

    def resolve(self, kind: str, spec: FieldSpec, name: str, *, team_id: int | None = None) -> int:
        """The id of the ``kind`` record ``name`` names, created when the mapping allows it."""
        index: _Index = getattr(self, kind)
        pk = index.get(name)
        if pk is not None:
            return pk
        if not spec.create_missing:
            raise CellError(
                spec.column or spec.name,
                _(
                    "Keel has no %(kind)s %(name)r: add it, map the value to one that exists, "
                    "or set create_missing = true"
                )
                % {"kind": _KIND_LABELS[kind], "name": name},
            )
        if self.dry_run:
            self.would_create.setdefault(kind, set()).add(name)
            index.add(name, STAND_IN)
            return STAND_IN
        pk = _CREATORS[kind](self, index, name, team_id)
        index.add(name, pk)
        return pk

    def default_team(self) -> int:
        """The team records fall to when the source names none: the source's own desk."""
        name = _("%(title)s service desk") % {"title": self.mapping.title}
        spec = FieldSpec(name="team", create_missing=True)
        return self.resolve("teams", spec, name[:200])

    def existing(self, model: type[Model], keys: list[str]) -> dict[str, int]:
        """Ids of records this source imported before, by source id."""
        if not keys:
            return {}
        # "not blank" lets the database use the partial unique index on the source id.
        if model is ConfigurationItem:
            rows = ConfigurationItem.objects.filter(external_id__in=keys).exclude(external_id="")
        else:
            rows = model.objects.filter(import_source=self.source, external_id__in=keys).exclude(  # type: ignore[attr-defined]
                external_id=""
            )
        return dict(rows.order_by().values_list("external_id", "pk"))

    def incidents(self, keys: Iterable[str]) -> dict[str, int]:
        keys = list({k for k in keys if k})
        found = self.existing(Incident, keys)
        if self.dry_run:
            planned = self.planned.get("incident", set())
            for key in keys:
                if key not in found and key in planned:
                    found[key] = STAND_IN
        return found

    def items(self, keys: Iterable[str]) -> dict[str, int]:
        keys = list({k for k in keys if k})
        found = self.existing(ConfigurationItem, keys)
        if self.dry_run:
            planned = self.planned.get("cmdb.item", set())
            for key in keys:
                if key not in found and key in planned:
                    found[key] = STAND_IN
        return found


_KIND_LABELS = {
    "teams": _("team"),
    "services": _("service"),
    "categories": _("category"),
    "ci_types": _("CI type"),
}


def _create_team(ctx: Context, index: _Index, name: str, team_id: int | None) -> int:
    team = Team.objects.create(name=name[:200], code=index.code_for(name, "team"))
    audit.record(
        ctx.actor, "team.created", team, changes={"name": [None, team.name]}, reason=ctx.reason()
    )
    return team.pk


def _create_service(ctx: Context, index: _Index, name: str, team_id: int | None) -> int:
    service = Service.objects.create(
        name=name[:200],
        code=index.code_for(name, "service")[:40],
        team_id=team_id or ctx.default_team(),
        in_portal=False,
    )
    audit.record(
        ctx.actor,
        "service.created",
        service,
        changes={"name": [None, service.name]},
        reason=ctx.reason(),
    )
    catalog.invalidate()
    return service.pk


def _create_category(ctx: Context, index: _Index, name: str, team_id: int | None) -> int:
    category = Category.objects.create(name=name[:200], code=index.code_for(name, "category"))
    audit.record(
        ctx.actor,
        "category.created",
        category,
        changes={"name": [None, category.name]},
        reason=ctx.reason(),
    )
    catalog.invalidate()
    return category.pk


def _create_ci_type(ctx: Context, index: _Index, name: str, team_id: int | None) -> int:
    ci_type = CIType.objects.create(name=name[:100], code=index.code_for(name, "type"))
    CITypeVersion.objects.create(
        type=ci_type, version=1, attributes=[], changed_at=ctx.now, changed_by=ctx.actor
    )
    audit.record(
        ctx.actor,
        "citype.created",
        ci_type,
        changes={"name": [None, ci_type.name]},
        reason=ctx.reason(),
    )
    return ci_type.pk


_CREATORS = {
    "teams": _create_team,
    "services": _create_service,
    "categories": _create_category,
    "ci_types": _create_ci_type,
}

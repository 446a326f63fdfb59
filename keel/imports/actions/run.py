"""Running an import: each file of the mapping, read as a stream, written in batches.

Each batch is one transaction: a crash (even ``kill -9``) loses at most the batch in flight, and
since every record is keyed on its source id, running the import again completes it with no
duplicate. A dry run reads and checks everything, writes nothing, and reports every row it would
refuse with its line, column and reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keel.catalog import actions as catalog_actions
from keel.catalog import queries as catalog
from keel.catalog.priority import default_matrix
from keel.core import audit
from keel.core.actions import system_user
from keel.core.permissions import require
from keel.imports.actions._context import BatchResult, Context, Problem
from keel.imports.actions.contacts import ContactWriter
from keel.imports.actions.events import EventWriter
from keel.imports.actions.incidents import IncidentWriter
from keel.imports.actions.items import ItemWriter
from keel.imports.mapping import CellError, FieldReader, Mapping_
from keel.imports.models import ImportRun
from keel.imports.reading import CsvSource, ReadError

WRITERS: dict[str, Any] = {
    "cmdb.item": ItemWriter,
    "incident": IncidentWriter,
    "contact": ContactWriter,
    "incident.event": EventWriter,
}
BATCH = 5000
# SQLite: while an import writes, let the write-ahead log grow (about 400 MB) instead of copying
# it back into the database after every batch; one checkpoint at the end does that work once.
IMPORT_CHECKPOINT_PAGES = 100_000
DEFAULT_CHECKPOINT_PAGES = 1000
KEPT_PROBLEMS = 1000  # problems kept on the run record (all are counted)


class ImportFailed(Exception):
    """The import could not go on (a file is missing or unreadable, the scale doesn't fit)."""


@dataclass
class FileSummary:
    path: str
    target: str
    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    rejected: int = 0
    warnings: int = 0
    seconds: float = 0.0


@dataclass
class Summary:
    source: str
    dry_run: bool
    files: list[FileSummary] = field(default_factory=list)
    problems: list[tuple[str, Problem]] = field(default_factory=list)
    would_create: dict[str, list[str]] = field(default_factory=dict)
    run_id: int | None = None
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


Progress = Callable[[FileSummary, int, int], None]


def set_levels_for(mapping_levels: int, *, actor: Any) -> None:
    """Widen the priority scale to the source's number of levels (default matrix)."""
    catalog_actions.set_priority_matrix(
        actor=actor, levels=mapping_levels, rules=default_matrix(mapping_levels)
    )
    catalog.invalidate()


def run_import(
    mapping: Mapping_,
    *,
    data_dir: str | Path,
    actor: Any = None,
    dry_run: bool = False,
    batch_size: int = BATCH,
    only: Iterable[str] = (),
    progress: Progress | None = None,
    set_levels: bool = False,
) -> Summary:
    """Import every file of ``mapping`` from ``data_dir`` (or only the targets in ``only``).

    With ``set_levels``, a priority scale narrower than the source's is widened first (in a dry
    run, the check assumes it was).
    """
    if actor is not None:
        require(actor, "imports.run_import")
    else:
        actor = system_user()
    data_dir = Path(data_dir)
    widen = bool(set_levels and mapping.levels and catalog.levels() < mapping.levels)
    if widen and not dry_run:
        set_levels_for(mapping.levels or 0, actor=actor)
    elif mapping.levels and catalog.levels() < mapping.levels and not widen:
        raise ImportFailed(
            _(
                "%(title)s uses %(source)s levels of impact and urgency; Keel's priority scale "
                "has %(keel)s. Widen the scale first (keel import --set-levels, or the priority "
                "matrix in the catalogue)."
            )
            % {"title": mapping.title, "source": mapping.levels, "keel": catalog.levels()}
        )
    only = set(only)
    files = [spec for spec in mapping.files if not only or spec.target in only]
    for spec in files:
        if not (data_dir / spec.path).is_file():
            raise ImportFailed(
                _("%(file)s: no such file in %(folder)s") % {"file": spec.path, "folder": data_dir}
            )
    started = time.perf_counter()
    now = timezone.now()
    summary = Summary(source=mapping.source, dry_run=dry_run)
    run = None
    if not dry_run:
        run = ImportRun.objects.create(
            source=mapping.source,
            title=mapping.title[:200],
            mapping=str(mapping.path or "")[:500],
            data_dir=str(data_dir)[:500],
            actor=actor,
            started_at=now,
        )
        summary.run_id = run.pk
    ctx = Context(mapping, actor=actor, dry_run=dry_run, now=now)
    if widen and dry_run:
        ctx.levels = mapping.levels or ctx.levels
    _checkpoint_every(IMPORT_CHECKPOINT_PAGES)
    try:
        for spec in files:
            summary.files.append(_import_file(ctx, spec, data_dir, batch_size, summary, progress))
            if run is not None:
                _save_run(run, summary, ImportRun.Status.RUNNING)
    except (ReadError, ImportFailed) as exc:
        if run is not None:
            run.error = str(exc)
            _save_run(run, summary, ImportRun.Status.FAILED)
        raise ImportFailed(f"{summary_path(summary, files)}: {exc}") from exc
    finally:
        _checkpoint_every(DEFAULT_CHECKPOINT_PAGES)
    summary.would_create = {k: sorted(v) for k, v in ctx.would_create.items()}
    summary.seconds = time.perf_counter() - started
    if run is not None:
        with transaction.atomic():
            _save_run(run, summary, ImportRun.Status.COMPLETED)
            audit.record(
                actor,
                "import.completed",
                run,
                changes={
                    f.path + " → " + f.target: [None, {"created": f.created, "updated": f.updated}]
                    for f in summary.files
                },
                reason=ctx.reason(),
            )
    catalog.invalidate()
    return summary


def _checkpoint_every(pages: int) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
        if pages == DEFAULT_CHECKPOINT_PAGES and not connection.in_atomic_block:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def summary_path(summary: Summary, files: list[Any]) -> str:
    done = len(summary.files)
    return files[done].path if done < len(files) else files[-1].path


def _save_run(run: ImportRun, summary: Summary, status: str) -> None:
    run.status = status
    run.summary = [asdict(f) for f in summary.files]
    run.problems = [
        {"file": path, **asdict(problem)} for path, problem in summary.problems[:KEPT_PROBLEMS]
    ]
    if status != ImportRun.Status.RUNNING:
        run.finished_at = timezone.now()
    run.save()


def _import_file(
    ctx: Context,
    spec: Any,
    data_dir: Path,
    batch_size: int,
    summary: Summary,
    progress: Progress | None,
) -> FileSummary:
    started = time.perf_counter()
    result = FileSummary(path=spec.path, target=spec.target)
    writer = WRITERS[spec.target](ctx, spec)
    keyed = "external_id" in spec.fields
    seen: dict[str, int] = {}
    planned = ctx.planned.setdefault(spec.target, set())
    merge = spec.on_duplicate == "merge"
    combined: dict[str, tuple[int, dict[str, Any]]] | None = (
        {} if spec.on_duplicate == "combine" else None
    )
    trackers: dict[str, dict[str, Any]] = {}

    def problem(line: int, column: str, message: str, warning: bool = False) -> None:
        summary.problems.append((spec.path, Problem(line, column, message, warning)))
        if warning:
            result.warnings += 1
        else:
            result.rejected += 1

    def flush(batch: list[tuple[int, dict[str, Any]]]) -> None:
        if not batch:
            return
        if ctx.dry_run:
            outcome = writer.write(batch)
        else:
            with transaction.atomic():
                outcome = writer.write(batch)
        _count(result, outcome, summary, spec.path)

    with CsvSource(
        data_dir / spec.path, encoding=spec.encoding, delimiter=spec.delimiter
    ) as source:
        source.require(spec.columns)
        readers = {
            name: FieldReader(field_spec, source.header, ctx.mapping.timezone)
            for name, field_spec in spec.fields.items()
        }
        width = len(source.header)
        batch: list[tuple[int, dict[str, Any]]] = []
        for row in source.rows():
            result.read += 1
            if row.short:
                message = _("the line has %(got)s of the %(want)s columns") % {
                    "got": len(row.cells),
                    "want": width,
                }
                if row.last:
                    message += " — " + _("the file ends in the middle of it: is it cut off?")
                problem(row.line, "", message)
                continue
            record: dict[str, Any] = {}
            errors = []
            for name, reader in readers.items():
                try:
                    record[name] = reader.read(row.cells)
                except CellError as exc:
                    errors.append(exc)
            if errors:
                for error in errors:
                    problem(row.line, error.column, error.message)
                continue
            if keyed and combined is not None:
                key = str(record.get("external_id") or "").strip()
                if key in combined:
                    _combine(spec, combined[key][1], trackers[key], record)
                    result.merged += 1
                else:
                    combined[key] = (row.line, _start_combining(spec, record, trackers, key))
                continue
            if keyed:
                key = str(record.get("external_id") or "").strip()
                if merge and not key:
                    # Rows that name no record add nothing to the ones they name (an
                    # incident with no causing CI, in a file read for its CIs).
                    result.merged += 1
                    continue
                if key in seen or (merge and key in planned):
                    if merge:
                        result.merged += 1
                    else:
                        problem(
                            row.line,
                            spec.fields["external_id"].column or "external_id",
                            _("the source id %(id)s appears again (first on line %(first)s)")
                            % {"id": key, "first": seen[key]},
                        )
                    continue
                seen[key] = row.line
                planned.add(key)
            batch.append((row.line, record))
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
                if progress is not None:
                    progress(result, source.position, source.size)
        flush(batch)
        if combined is not None:
            rows = list(combined.values())
            for start in range(0, len(rows), batch_size):
                flush(rows[start : start + batch_size])
        if progress is not None:
            progress(result, source.size, source.size)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _start_combining(
    spec: Any, record: dict[str, Any], trackers: dict[str, dict[str, Any]], key: str
) -> dict[str, Any]:
    """The first row of a combined record: counts start at one row and no change."""
    trackers[key] = {}
    for name, field_spec in spec.fields.items():
        if field_spec.combine == "changes":
            trackers[key][name] = record[name]
            record[name] = 0
        elif field_spec.combine == "count":
            record[name] = 1
    return record


def _combine(
    spec: Any, record: dict[str, Any], tracker: dict[str, Any], row: dict[str, Any]
) -> None:
    """Fold one more row of the same source id into its combined record."""
    for name, field_spec in spec.fields.items():
        how = field_spec.combine
        if how == "last":
            record[name] = row[name]
        elif how == "changes":
            if row[name] != tracker[name]:
                record[name] += 1
                tracker[name] = row[name]
        elif how == "count":
            record[name] += 1


def _count(result: FileSummary, outcome: BatchResult, summary: Summary, path: str) -> None:
    result.created += outcome.created
    result.updated += outcome.updated
    for problem in outcome.problems:
        summary.problems.append((path, problem))
    result.rejected += outcome.rejected
    result.warnings += outcome.warnings

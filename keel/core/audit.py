"""The audit trail: every action and configuration change, append-only and hash-chained.

``record()`` appends one event inside the caller's transaction. The chain head (one row) is
advanced with ``UPDATE … RETURNING``, which locks it until commit, so events get consecutive
sequence numbers and each one's ``prev_hash`` is the hash of the event before it. ``verify()``
recomputes the chain and names the first broken link.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from keel.core import context
from keel.core.models import AuditChain, AuditEvent
from keel.db import rows

GENESIS_HASH = "0" * 64
# Events per INSERT statement in record_many(): 13 parameters each, well within every limit.
BATCH_SIZE = 1000

# The table name is the model's own constant, never input. ADVANCE_SQL locks the head and takes
# the next number; SET_HEAD_SQL, with the new last event's ``prev_hash`` and ``hash``, completes it.
ADVANCE_SQL = (
    f"UPDATE {AuditChain._meta.db_table} SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"  # noqa: S608
)
_ADVANCE_MANY = (
    f"UPDATE {AuditChain._meta.db_table} SET seq = seq + %s WHERE id = 1 RETURNING seq, hash"  # noqa: S608
)
SET_HEAD_SQL = f"UPDATE {AuditChain._meta.db_table} SET prev_hash = %s, hash = %s WHERE id = 1"  # noqa: S608


class AuditError(RuntimeError):
    pass


def _normalise(value: Any) -> Any:
    """JSON as the database will give it back, so the hash survives a round trip."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# The fields an event's hash is taken of, in the order they are written into the hashed text.
HASHED = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "reason",
    "request_id",
    "prev_hash",
)


def compute_hash(**fields: Any) -> str:
    """The hash of one event, given each of its :data:`HASHED` fields by name."""
    return hashlib.sha256(_payload(fields).encode()).hexdigest()


def _payload(fields: Mapping[str, Any]) -> str:
    """The text an event's hash is taken of: its fields as compact JSON, in a fixed order."""
    if len(fields) != len(HASHED) or not all(name in fields for name in HASHED):
        raise AuditError(f"an event is hashed from exactly these fields: {', '.join(HASHED)}")
    values = [fields[name] for name in HASHED]
    values[1] = _timestamp(values[1])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _event_hash(event: AuditEvent) -> str:
    return compute_hash(**{name: getattr(event, name) for name in HASHED})


def object_type_of(obj: Model) -> str:
    return obj._meta.label_lower


def record(
    actor: Any,
    action: str,
    obj: Model | None = None,
    *,
    changes: dict[str, Any] | None = None,
    reason: str = "",
    object_type: str | None = None,
    object_id: str | None = None,
    object_repr: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event. Call inside the action's transaction, as late as possible in it.

    ``changes`` maps a field to ``[old, new]`` (or any JSON that describes what changed).
    ``actor`` is a user, or ``None`` only for events written by Keel itself (migrations).
    """
    if not connection.in_atomic_block:
        raise AuditError("audit.record() must run inside the action's transaction")
    fields = prepared(
        actor,
        action,
        obj,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        changes=changes,
        reason=reason,
        at=at,
    )
    with connection.cursor() as cursor:
        cursor.execute(ADVANCE_SQL)
        row = cursor.fetchone()
    if row is None:
        raise AuditError("the audit chain head is missing; run `keel migrate`")
    event = sealed(fields, int(row[0]), row[1])
    rows.insert(event, then=(SET_HEAD_SQL, [event.prev_hash, event.hash]))
    return event


def prepared(actor: Any, action: str, obj: Model | None, **entry: Any) -> dict[str, Any]:
    """The hashed fields of one event (``entry`` holds :func:`record`'s keyword arguments), all
    but ``seq`` and ``prev_hash``; for :func:`record`, and for an action that advances the chain
    in its own statement and hashes the event there (:func:`hash_sql`)."""
    actor_label = str(actor)[:200] if actor is not None else "keel"
    request_id = context.request_id.get()
    return _entry_fields(
        getattr(actor, "pk", None), actor_label, request_id, {"action": action, "obj": obj, **entry}
    )


def sealed(fields: Mapping[str, Any], seq: int, prev_hash: str) -> AuditEvent:
    """The event of :func:`prepared` ``fields`` at ``seq`` after ``prev_hash``, hashed (unsaved).
    The caller inserts it and sets the chain head's hash in its transaction."""
    chained = {**fields, "seq": seq, "prev_hash": prev_hash}
    return AuditEvent(**chained, hash=compute_hash(**chained))


def marker() -> str:
    """A stand-in for a value the database fills in (:func:`hash_sql`): letters and digits
    nobody could have typed into the event's other fields."""
    return f"keel{secrets.token_hex(12)}"


class FilledHash(NamedTuple):
    """An event's hash as SQL (:func:`hash_sql`): the expression, its parameters (the event's
    text between the values the database fills in), and which value fills each gap."""

    sql: str
    params: list[str]
    fills: tuple[str, ...]  # "seq", "prev_hash" or a marker of ``filled``, in the text's order

    def of(self, values: Mapping[str, str]) -> str:
        """The hash the expression gives when the database fills in ``values`` (keyed as
        :attr:`fills`, each as the text it writes): the caller's check of the database's
        answer, without rendering the event again."""
        gaps, last = self.params[:-1], self.params[-1]
        text = [
            part for gap, name in zip(gaps, self.fills, strict=True) for part in (gap, values[name])
        ]
        text.append(last)
        return hashlib.sha256("".join(text).encode()).hexdigest()


def hash_sql(
    fields: Mapping[str, Any], *, seq: str, prev_hash: str, filled: Mapping[str, str]
) -> FilledHash:
    """The hash :func:`sealed` gives ``fields`` (from :func:`prepared`), as an SQL expression
    and its parameters, for one statement that learns some hashed values only as it runs, so
    that the chain's head is held for that statement alone (PostgreSQL: ``sha256``).

    ``seq`` and ``prev_hash`` are SQL expressions of the event's sequence number and the hash
    before it. ``filled`` maps each :func:`marker` placed in a text field of ``fields`` to the
    SQL expression of the text it stands for, which must read the same in JSON (digits,
    letters, dashes: keys and numbers).
    """
    seq_mark, prev_mark = marker(), marker()
    payload = _payload({**fields, "seq": seq_mark, "prev_hash": prev_mark})
    expressions = {f'"{seq_mark}"': f"({seq})::text", prev_mark: prev_hash, **filled}
    names = {f'"{seq_mark}"': "seq", prev_mark: "prev_hash"}
    places = sorted((payload.find(text), text) for text in expressions)
    if any(at < 0 or payload.count(text) != 1 for at, text in places):
        raise AuditError("each value the database fills in must appear once in the event")
    parts: list[str] = []
    params: list[str] = []
    start = 0
    for at, text in places:
        parts += ["%s", expressions[text]]
        params.append(payload[start:at])
        start = at + len(text)
    parts.append("%s")
    params.append(payload[start:])
    sql = f"encode(sha256(convert_to({' || '.join(parts)}, 'UTF8')), 'hex')"
    return FilledHash(sql, params, tuple(names.get(text, text) for _at, text in places))


_ENTRY_KEYS = frozenset(
    {"action", "obj", "changes", "reason", "object_type", "object_id", "object_repr", "at"}
)


def _entry_fields(
    actor_id: int | None, actor_label: str, request_id: str, entry: Mapping[str, Any]
) -> dict[str, Any]:
    """The hashed fields of one ``record_many`` entry (all but ``seq`` and ``prev_hash``),
    prepared exactly as ``record()`` prepares its arguments."""
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise AuditError(f"unknown audit entry fields: {', '.join(sorted(unknown))}")
    action = entry.get("action")
    if not action:
        raise AuditError("an audit event needs an action")
    obj: Model | None = entry.get("obj")
    object_type = entry.get("object_type")
    object_id = entry.get("object_id")
    object_repr = entry.get("object_repr")
    if obj is not None:
        object_type = object_type or object_type_of(obj)
        object_id = object_id or str(obj.pk)
        object_repr = object_repr if object_repr is not None else str(obj)[:300]
    if not object_type or object_id is None:
        raise AuditError("an audit event needs an object (or object_type and object_id)")
    return {
        "at": entry.get("at") or timezone.now(),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "object_repr": object_repr or "",
        "changes": _normalise(entry.get("changes") or {}),
        "reason": entry.get("reason") or "",
        "request_id": request_id,
    }


def record_many(actor: Any, entries: Sequence[Mapping[str, Any]]) -> list[AuditEvent]:
    """Append one event per entry, in order, as ``record()`` would one by one, but advancing the
    chain head once: one statement to reserve the sequence numbers, batched inserts, and one to
    set the head's hash. For actions that write many events (imports).

    Each entry holds ``record()``'s keyword arguments: ``action``, and ``obj`` or
    ``object_type``/``object_id`` (with ``object_repr``), and optionally ``changes``,
    ``reason`` and ``at``. All entries share ``actor``. Call inside the action's transaction.
    """
    if not connection.in_atomic_block:
        raise AuditError("audit.record_many() must run inside the action's transaction")
    if not entries:
        return []
    actor_id = getattr(actor, "pk", None)
    actor_label = str(actor)[:200] if actor is not None else "keel"
    request_id = context.request_id.get()
    prepared = [_entry_fields(actor_id, actor_label, request_id, entry) for entry in entries]
    with connection.cursor() as cursor:
        cursor.execute(_ADVANCE_MANY, [len(prepared)])
        row = cursor.fetchone()
        if row is None:
            raise AuditError("the audit chain head is missing; run `keel migrate`")
        last_seq, prev_hash = int(row[0]), row[1]
        events = []
        for seq, fields in enumerate(prepared, start=last_seq - len(prepared) + 1):
            fields["seq"] = seq
            fields["prev_hash"] = prev_hash
            prev_hash = compute_hash(**fields)
            events.append(AuditEvent(**fields, hash=prev_hash))
        AuditEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)
        cursor.execute(SET_HEAD_SQL, [events[-1].prev_hash, prev_hash])
    return events


def diff(obj: Model, before: dict[str, Any], fields: list[str]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for each of ``fields`` whose value differs from ``before``."""
    changes = {}
    for name in fields:
        new = getattr(obj, name)
        new = getattr(new, "pk", new)
        if before.get(name) != new:
            changes[name] = [before.get(name), new]
    return changes


def snapshot(obj: Model, fields: list[str]) -> dict[str, Any]:
    values = {}
    for name in fields:
        value = getattr(obj, name)
        values[name] = getattr(value, "pk", value)
    return values


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=5000)


def verify() -> VerifyResult:
    """Walk the whole chain; report the first event whose content or link does not hold."""
    expected_prev = GENESIS_HASH
    last_link = ""  # the last event's prev_hash, which the head keeps too
    expected_seq = 1
    checked = 0
    for event in _events():
        if event.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != expected_prev:
            return VerifyResult(
                False,
                checked,
                event.seq,
                f"event #{event.seq} does not follow event #{event.seq - 1}",
            )
        if _event_hash(event) != event.hash:
            return VerifyResult(
                False, checked, event.seq, f"event #{event.seq} was altered after it was written"
            )
        expected_prev, last_link = event.hash, event.prev_hash
        expected_seq += 1
        checked += 1
    head = AuditChain.objects.filter(id=1).first()
    if head is None:
        return VerifyResult(False, checked, None, "the audit chain head is missing")
    if head.seq != checked or head.hash != expected_prev:
        return VerifyResult(
            False,
            checked,
            checked + 1 if head.seq > checked else checked,
            f"the chain head says {head.seq} events but {checked} are present",
        )
    if head.prev_hash != last_link:
        return VerifyResult(
            False, checked, checked, f"the chain head's link does not match event #{checked}"
        )
    return VerifyResult(True, checked)

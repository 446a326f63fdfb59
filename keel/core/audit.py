"""The audit trail: every action and configuration change, append-only and hash-chained.

``record()`` appends one event inside the caller's transaction. The chain head (one row) is
advanced with ``UPDATE … RETURNING``, which locks it until commit, so events get consecutive
sequence numbers and each one's ``prev_hash`` is the hash of the event before it. ``verify()``
recomputes the chain and names the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from keel.core import context
from keel.core.models import AuditChain, AuditEvent

GENESIS_HASH = "0" * 64

# The table name is the model's own constant, never input.
_ADVANCE = f"UPDATE {AuditChain._meta.db_table} SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"  # noqa: S608
_SET_HEAD = f"UPDATE {AuditChain._meta.db_table} SET hash = %s WHERE id = 1"  # noqa: S608


class AuditError(RuntimeError):
    pass


def _normalise(value: Any) -> Any:
    """JSON as the database will give it back, so the hash survives a round trip."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    changes: Any,
    reason: str,
    request_id: str,
    prev_hash: str,
) -> str:
    payload = json.dumps(
        [
            seq,
            _timestamp(at),
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            object_repr,
            changes,
            reason,
            request_id,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _event_hash(event: AuditEvent) -> str:
    return compute_hash(
        seq=event.seq,
        at=event.at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        object_repr=event.object_repr,
        changes=event.changes,
        reason=event.reason,
        request_id=event.request_id,
        prev_hash=event.prev_hash,
    )


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
    if obj is not None:
        object_type = object_type or object_type_of(obj)
        object_id = object_id or str(obj.pk)
        object_repr = object_repr if object_repr is not None else str(obj)[:300]
    if not object_type or object_id is None:
        raise AuditError("an audit event needs an object (or object_type and object_id)")
    at = at or timezone.now()
    actor_id = getattr(actor, "pk", None)
    actor_label = str(actor)[:200] if actor is not None else "keel"
    normalised = _normalise(changes or {})
    request_id = context.request_id.get()
    with connection.cursor() as cursor:
        cursor.execute(_ADVANCE)
        row = cursor.fetchone()
        if row is None:
            raise AuditError("the audit chain head is missing; run `keel migrate`")
        seq, prev_hash = int(row[0]), row[1]
        fields = {
            "seq": seq,
            "at": at,
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "object_repr": object_repr or "",
            "changes": normalised,
            "reason": reason or "",
            "request_id": request_id,
            "prev_hash": prev_hash,
        }
        digest = compute_hash(**fields)
        event = AuditEvent(**fields, hash=digest)
        event.save(force_insert=True)
        cursor.execute(_SET_HEAD, [digest])
    return event


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
        expected_prev = event.hash
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
    return VerifyResult(True, checked)

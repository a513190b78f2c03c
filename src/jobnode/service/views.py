"""How stored rows look on the wire of the native API (`/v1`): plain dicts, built fast, no re-validation."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from jobnode.service.store import Store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def artifact_json(row: sqlite3.Row, consumers: list[str] | None = None) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "name": row["name"],
        "job_id": row["job_id"],
        "uri": f"/v1/artifacts/{row['id']}/content",
        "media_type": row["media_type"],
        "records": row["records"],
        "size_bytes": row["size_bytes"],
        "created_at": iso(row["created_at"]),
    }
    if consumers is not None:
        out["consumers"] = consumers
    return out


def job_json(row: sqlite3.Row, store: Store, base_url: str) -> dict[str, Any]:
    job_id = row["id"]
    inputs = [{"id": a} for a in store.inputs_of(job_id)]
    outputs = [
        {
            "id": a["id"],
            "name": a["name"],
            "job_id": job_id,
            "uri": f"{base_url}/v1/artifacts/{a['id']}/content",
            "media_type": a["media_type"],
        }
        for a in store.artifacts_of(job_id)
    ]
    total = row["items_total"]
    done = row["items_processed"] + row["items_failed"]
    return {
        "id": job_id,
        "name": row["name"],
        "platform": "local",
        "state": row["state"],
        "raw_state": row["state"],
        "message": row["message"],
        "reason": row["reason"],
        "progress": {
            "items_total": total,
            "items_gathered": total,
            "items_processed": row["items_processed"],
            "items_failed": row["items_failed"],
            "items_delivered": row["items_delivered"],
            "items_failed_delivery": row["items_failed_delivery"],
            "batches_total": row["batches_total"],
            "batches_queued": max(
                0, row["batches_total"] - row["batches_succeeded"] - row["batches_failed"] - row["batches_running"]
            ),
            "batches_running": row["batches_running"],
            "batches_succeeded": row["batches_succeeded"],
            "batches_failed": row["batches_failed"],
            "fraction": round(done / total, 6) if total else None,
        },
        "tags": json.loads(row["tags"]),
        "step": row["step"],
        "step_version": row["step_version"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "ended_at": iso(row["ended_at"]),
        "updated_at": iso(row["updated_at"]),
        "url": f"{base_url}/v1/jobs/{job_id}",
        "inputs": inputs,
        "outputs": outputs,
        "parent_id": row["parent_id"],
    }


def to_micros(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // timedelta(microseconds=1)


def event_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "job_id": row["job_id"],
        "time": iso(row["time"]),
        "type": row["type"],
        "state": row["state"],
        "message": row["message"],
        "data": json.loads(row["data"]) if row["data"] else None,
    }


class BadCursor(ValueError):
    pass


def encode_cursor(**fields: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, allowed: set[str]) -> dict[str, int]:
    """A cursor this service made, or `BadCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("not a cursor this service made") from exc
    if (
        not isinstance(fields, dict)
        or len(fields) != 1
        or not set(fields) <= allowed
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in fields.values())
    ):
        raise BadCursor("not a cursor this service made")
    return fields

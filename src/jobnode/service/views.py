"""Stored jobs and artifacts as the service's callers see them: `JobRecord` and `ArtifactRecord`.

Plain frozen dataclasses built from store rows (no re-validation), with the native API's JSON (`to_json`) built fast.
Emulators read their fields and translate them into their platform's shapes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from jobnode.core.models import JobSpec, JobState, Progress

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: where the service's web console is mounted; a job's `url` is its page there
CONSOLE_PATH = "/ui"


def job_page(base_url: str, job_id: str) -> str:
    """The URL of a job's page in the console: the link a person opens (Airflow's task view, Prefect's artifacts).

    Example:
        ```python
        job_page("http://127.0.0.1:8765", "job_0123")   # 'http://127.0.0.1:8765/ui/jobs/job_0123'
        ```
    """
    return f"{base_url}{CONSOLE_PATH}/jobs/{job_id}"


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 in UTC with a `Z`."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def to_micros(when: datetime) -> int:
    """A time as integer microseconds since the epoch (naive times are UTC): how log times are stored."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class ArtifactRecord:
    """An output artifact: a JSON-lines file of a job's results."""

    id: str
    job_id: str
    name: str
    path: str
    media_type: str
    records: int
    size_bytes: int
    created_at: float
    consumers: tuple[str, ...] | None = None

    @classmethod
    def of(cls, row: sqlite3.Row, consumers: Sequence[str] | None = None) -> ArtifactRecord:
        return cls(
            id=row["id"],
            job_id=row["job_id"],
            name=row["name"],
            path=row["path"],
            media_type=row["media_type"],
            records=row["records"],
            size_bytes=row["size_bytes"],
            created_at=row["created_at"],
            consumers=tuple(consumers) if consumers is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "job_id": self.job_id,
            "uri": f"/v1/artifacts/{self.id}/content",
            "media_type": self.media_type,
            "records": self.records,
            "size_bytes": self.size_bytes,
            "created_at": iso(self.created_at),
        }
        if self.consumers is not None:
            out["consumers"] = list(self.consumers)
        return out


@dataclass(frozen=True)
class JobRecord:
    """A stored job: its row, the artifacts it reads (`inputs`) and those it produced (`outputs`)."""

    seq: int
    id: str
    name: str
    state: JobState
    message: str | None
    reason: str | None
    step: str
    step_version: str
    spec_json: str
    tags: tuple[str, ...]
    parent_id: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    updated_at: float
    items_total: int
    items_processed: int
    items_failed: int
    items_delivered: int
    items_failed_delivery: int
    batches_total: int
    batches_succeeded: int
    batches_failed: int
    batches_running: int
    inputs: tuple[str, ...] = ()
    outputs: tuple[ArtifactRecord, ...] = field(default=())

    @classmethod
    def of(cls, row: sqlite3.Row, inputs: Sequence[str] = (), outputs: Sequence[ArtifactRecord] = ()) -> JobRecord:
        return cls(
            seq=row["seq"],
            id=row["id"],
            name=row["name"],
            state=JobState(row["state"]),
            message=row["message"],
            reason=row["reason"],
            step=row["step"],
            step_version=row["step_version"],
            spec_json=row["spec"],
            tags=tuple(json.loads(row["tags"])),
            parent_id=row["parent_id"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            updated_at=row["updated_at"],
            items_total=row["items_total"],
            items_processed=row["items_processed"],
            items_failed=row["items_failed"],
            items_delivered=row["items_delivered"],
            items_failed_delivery=row["items_failed_delivery"],
            batches_total=row["batches_total"],
            batches_succeeded=row["batches_succeeded"],
            batches_failed=row["batches_failed"],
            batches_running=row["batches_running"],
            inputs=tuple(inputs),
            outputs=tuple(outputs),
        )

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @cached_property
    def spec(self) -> JobSpec:
        """The request the job was created from."""
        return JobSpec.model_validate_json(self.spec_json)

    @property
    def items_done(self) -> int:
        return self.items_processed + self.items_failed

    @property
    def batches_queued(self) -> int:
        return max(0, self.batches_total - self.batches_succeeded - self.batches_failed - self.batches_running)

    def progress_json(self) -> dict[str, Any]:
        total = self.items_total
        return {
            "items_total": total,
            "items_gathered": total,
            "items_processed": self.items_processed,
            "items_failed": self.items_failed,
            "items_delivered": self.items_delivered,
            "items_failed_delivery": self.items_failed_delivery,
            "batches_total": self.batches_total,
            "batches_queued": self.batches_queued,
            "batches_running": self.batches_running,
            "batches_succeeded": self.batches_succeeded,
            "batches_failed": self.batches_failed,
            "fraction": round(self.items_done / total, 6) if total else None,
        }

    def progress(self) -> Progress:
        return Progress.model_validate(self.progress_json())

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The job in the native API's shape (`jobnode.Job`)."""
        return {
            "id": self.id,
            "name": self.name,
            "platform": "local",
            "state": self.state.value,
            "raw_state": self.state.value,
            "message": self.message,
            "reason": self.reason,
            "progress": self.progress_json(),
            "tags": list(self.tags),
            "step": self.step,
            "step_version": self.step_version,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "updated_at": iso(self.updated_at),
            "url": job_page(base_url, self.id),
            "inputs": [{"id": a} for a in self.inputs],
            "outputs": [
                {
                    "id": a.id,
                    "name": a.name,
                    "job_id": self.id,
                    "uri": f"{base_url}/v1/artifacts/{a.id}/content",
                    "media_type": a.media_type,
                }
                for a in self.outputs
            ],
            "parent_id": self.parent_id,
        }


def group(pairs: Sequence[tuple[str, Any]]) -> Mapping[str, list[Any]]:
    """`(key, value)` pairs grouped by key, in order."""
    out: dict[str, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out

"""The `jobs` table (one row per job: its request, state and counters) and the `tombstones` of deleted jobs."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from jobnode.core.models import JobState
from jobnode.service.store.artifacts import ArtifactTable
from jobnode.service.store.database import ACTIVE, Database, json_list
from jobnode.service.views import JobRecord, group

JOB_COLUMNS = (
    "seq, id, name, state, message, reason, step, step_version, spec, tags, parent_id, created_at, started_at, "
    "ended_at, updated_at, start_at, stop_at, timeout, items_total, items_processed, items_failed, "
    "items_delivered, items_failed_delivery, batches_total, batches_succeeded, batches_failed, batches_running"
)


class NewJobRow(NamedTuple):
    """The columns of a job as it is created."""

    id: str
    name: str
    state: JobState
    message: str
    step: str
    step_version: str
    spec: str
    tags: str
    parent_id: str | None
    idempotency_key: str | None
    request_hash: str | None
    created_at: float
    start_at: float | None
    stop_at: float | None
    timeout: float | None
    items_total: int
    items_failed: int
    batches_total: int


class JobTable:
    """Jobs: reads through the thread's reader, writes inside the caller's transaction (`conn`)."""

    def __init__(self, db: Database, artifacts: ArtifactTable) -> None:
        self._db = db
        self._artifacts = artifacts

    # -- reads ----------------------------------------------------------------------------------------------------

    def row(self, job_id: str) -> sqlite3.Row | None:
        return self._db.reader.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def records(self, ids: Sequence[str]) -> list[JobRecord]:
        """The jobs among `ids` that exist, with their inputs and outputs (three queries, whatever their number)."""
        rows = self._db.reader.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (json_list(ids),)
        ).fetchall()
        return self._with_artifacts(rows)

    def listing(
        self,
        *,
        states: Sequence[str] | None,
        tag: str | None,
        name: str | None,
        ids: Sequence[str] | None,
        limit: int,
        before_seq: int | None,
        after_seq: int | None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> list[JobRecord]:
        """Newest first; `before_seq` pages forward, `after_seq` pages back; creation times are epoch seconds."""
        where: list[str] = []
        args: list[Any] = []
        if created_after is not None:
            where.append("created_at >= ?")
            args.append(created_after)
        if created_before is not None:
            where.append("created_at < ?")
            args.append(created_before)
        if states:
            where.append("state IN (SELECT value FROM json_each(?))")
            args.append(json_list(states))
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)")
            args.append(tag)
        if name:
            where.append("name = ?")
            args.append(name)
        if ids is not None:
            where.append("id IN (SELECT value FROM json_each(?))")
            args.append(json_list(ids))
        if before_seq is not None:
            where.append("seq < ?")
            args.append(before_seq)
        if after_seq is not None:
            where.append("seq > ?")
            args.append(after_seq)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "ASC" if after_seq is not None else "DESC"
        rows = self._db.reader.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs {clause} ORDER BY seq {order} LIMIT ?", (*args, limit)
        ).fetchall()
        if after_seq is not None:
            rows.reverse()
        return self._with_artifacts(rows)

    def children(self, job_id: str) -> list[str]:
        """The ids of the job's sub-jobs, oldest first."""
        return [
            r[0] for r in self._db.reader.execute("SELECT id FROM jobs WHERE parent_id = ? ORDER BY seq", (job_id,))
        ]

    def _with_artifacts(self, rows: Sequence[sqlite3.Row]) -> list[JobRecord]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        inputs = group(self._artifacts.inputs_of(ids))
        outputs = group(self._artifacts.outputs_of(ids))
        return [JobRecord.of(r, inputs.get(r["id"], ()), outputs.get(r["id"], ())) for r in rows]

    def active_rows(self) -> list[sqlite3.Row]:
        """The jobs that have not ended, oldest first."""
        return self._db.reader.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN {ACTIVE} ORDER BY seq"
        ).fetchall()

    def tombstone(self, job_id: str) -> sqlite3.Row | None:
        return self._db.reader.execute(
            "SELECT job_id, deleted_at, deleted_by, what FROM tombstones WHERE job_id = ?", (job_id,)
        ).fetchone()

    # -- creating -----------------------------------------------------------------------------------------------

    @staticmethod
    def by_key(conn: sqlite3.Connection, key: str) -> sqlite3.Row | None:
        """(id, request_hash) of the job created with an idempotency key."""
        return conn.execute("SELECT id, request_hash FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()

    @staticmethod
    def deleted_with_key(conn: sqlite3.Connection, key: str) -> str | None:
        """The id of the deleted job that was created with an idempotency key."""
        row = conn.execute(
            "SELECT job_id FROM tombstones WHERE json_extract(what, '$.idempotency_key') = ?", (key,)
        ).fetchone()
        return row[0] if row is not None else None

    @staticmethod
    def insert(conn: sqlite3.Connection, job: NewJobRow) -> sqlite3.Row:
        """Store a new job; returns its row as `active_rows` reads it."""
        conn.execute(
            "INSERT INTO jobs (id, name, state, message, step, step_version, spec, tags, parent_id, "
            "idempotency_key, request_hash, created_at, updated_at, start_at, stop_at, timeout, items_total, "
            "items_failed, batches_total) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                job.id,
                job.name,
                job.state.value,
                job.message,
                job.step,
                job.step_version,
                job.spec,
                job.tags,
                job.parent_id,
                job.idempotency_key,
                job.request_hash,
                job.created_at,
                job.created_at,
                job.start_at,
                job.stop_at,
                job.timeout,
                job.items_total,
                job.items_failed,
                job.batches_total,
            ),
        )
        row: sqlite3.Row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job.id,)).fetchone()
        return row

    # -- state --------------------------------------------------------------------------------------------------

    @staticmethod
    def clear_running(conn: sqlite3.Connection) -> None:
        """After a restart no batch runs: every job that has not ended has none running."""
        conn.execute(f"UPDATE jobs SET batches_running = 0 WHERE state IN {ACTIVE}")

    @staticmethod
    def mark_queued(conn: sqlite3.Connection, job_id: str, now: float) -> None:
        """A scheduled job whose start time came."""
        conn.execute(
            "UPDATE jobs SET state = ?, message = ?, updated_at = ? WHERE id = ? AND state = ?",
            (JobState.QUEUED.value, JobState.QUEUED.value, now, job_id, JobState.SCHEDULED.value),
        )

    @staticmethod
    def mark_running(conn: sqlite3.Connection, job_id: str, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET state = ?, message = ?, started_at = ?, updated_at = ? WHERE id = ?",
            (JobState.RUNNING.value, JobState.RUNNING.value, now, now, job_id),
        )

    @staticmethod
    def end(conn: sqlite3.Connection, job_id: str, state: JobState, reason: str, now: float) -> bool:
        """Move a job that has not ended to the terminal `state`; False (and no change) when it had ended."""
        cur = conn.execute(
            f"UPDATE jobs SET state = ?, reason = ?, message = ?, ended_at = ?, updated_at = ?, batches_running = 0 "
            f"WHERE id = ? AND state IN {ACTIVE}",
            (state.value, reason, state.value.replace("_", " "), now, now, job_id),
        )
        return cur.rowcount > 0

    @staticmethod
    def totals(conn: sqlite3.Connection, job_id: str) -> sqlite3.Row | None:
        """The state and item counters a job's end is decided from."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT state, items_total, items_processed, items_failed, items_delivered, items_failed_delivery "
            "FROM jobs WHERE id = ?",
            (job_id,),
        ).fetchone()
        return row

    @staticmethod
    def finish(
        conn: sqlite3.Connection, job_id: str, state: JobState, reason: str | None, message: str, now: float
    ) -> None:
        conn.execute(
            "UPDATE jobs SET state = ?, reason = ?, message = ?, ended_at = ?, updated_at = ? WHERE id = ?",
            (state.value, reason, message, now, now, job_id),
        )

    # -- counters -----------------------------------------------------------------------------------------------

    @staticmethod
    def count_claimed(conn: sqlite3.Connection, job_id: str) -> None:
        conn.execute("UPDATE jobs SET batches_running = batches_running + 1 WHERE id = ?", (job_id,))

    @staticmethod
    def count_retry(conn: sqlite3.Connection, job_id: str, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET batches_running = batches_running - 1, updated_at = ? WHERE id = ?", (now, job_id)
        )

    @staticmethod
    def count_dead_letter(conn: sqlite3.Connection, job_id: str, items: int, now: float, *, running: bool) -> None:
        """A batch dead-lettered: its items failed. `running`: whether it was counted as running (not at recovery,
        which has already set `batches_running` to 0)."""
        conn.execute(
            "UPDATE jobs SET items_failed = items_failed + ?, batches_failed = batches_failed + 1, "
            "batches_running = batches_running - ?, updated_at = ? WHERE id = ?",
            (items, 1 if running else 0, now, job_id),
        )

    @staticmethod
    def count_success(conn: sqlite3.Connection, job_id: str, processed: int, failed: int, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET items_processed = items_processed + ?, items_failed = items_failed + ?, "
            "batches_succeeded = batches_succeeded + 1, batches_running = batches_running - 1, updated_at = ? "
            "WHERE id = ?",
            (processed, failed, now, job_id),
        )

    @staticmethod
    def count_delivered(conn: sqlite3.Connection, job_id: str, items: int, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET items_delivered = items_delivered + ?, updated_at = ? WHERE id = ?", (items, now, job_id)
        )

    @staticmethod
    def count_undelivered(conn: sqlite3.Connection, job_id: str, items: int, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET items_failed_delivery = items_failed_delivery + ?, updated_at = ? WHERE id = ?",
            (items, now, job_id),
        )

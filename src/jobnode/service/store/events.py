"""The `events` table: each job's lifecycle events, kept after the job is deleted."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from jobnode.service.store.database import Database, dumps


class EventTable:
    """Lifecycle events: reads through the thread's reader, inserts inside the caller's transaction (`conn`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def add(
        conn: sqlite3.Connection,
        job_id: str,
        type_: str,
        state: str | None,
        message: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        at: float | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (job_id, time, type, state, message, data) VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, at or time.time(), type_, state, message, dumps(data) if data else None),
        )

    def of(self, job_id: str) -> list[sqlite3.Row]:
        """The job's events, oldest first."""
        return self._db.reader.execute(
            "SELECT id, job_id, time, type, state, message, data FROM events WHERE job_id = ? ORDER BY id",
            (job_id,),
        ).fetchall()

"""The `errors` table: each item that failed, each batch attempt that raised, each failed delivery."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from jobnode.service.store.database import Database

#: what a new error holds: (job id, time, item, batch, attempt, message)
NewError = tuple[str, float, str | None, int | None, int | None, str]


class ErrorTable:
    """Errors: reads through the thread's reader, inserts inside the caller's transaction (`conn`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def add(conn: sqlite3.Connection, rows: Iterable[NewError]) -> None:
        conn.executemany(
            "INSERT INTO errors (job_id, time, item, batch, attempt, message) VALUES (?, ?, ?, ?, ?, ?)", rows
        )

    def recent(self, job_id: str, limit: int) -> list[sqlite3.Row]:
        """The job's most recent errors, newest first."""
        return self._db.reader.execute(
            "SELECT time, item, batch, attempt, message FROM errors WHERE job_id = ? ORDER BY id DESC LIMIT ?",
            (job_id, limit),
        ).fetchall()

    def failed_items(self, job_id: str) -> dict[int, set[str]]:
        """The labels of the items that failed alone (not whole batches, not rejected lines), by batch."""
        out: dict[int, set[str]] = {}
        for batch, item in self._db.reader.execute(
            "SELECT DISTINCT batch, item FROM errors WHERE job_id = ? AND batch IS NOT NULL AND item IS NOT NULL",
            (job_id,),
        ):
            out.setdefault(batch, set()).add(item)
        return out

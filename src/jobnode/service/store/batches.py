"""The `batches` table (each job's items, cut into batches, with their state, attempts, results and delivery) and
`dead_letters` (batches that failed every attempt)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from jobnode.service.store.database import ACTIVE, Database, json_list

#: `batches.delivered`: not yet delivered, delivered, delivery failed
UNDELIVERED, DELIVERED, DELIVERY_FAILED = 0, 1, 2


class BatchTable:
    """Batches: reads through the thread's reader, writes inside the caller's transaction (`conn`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def insert(conn: sqlite3.Connection, job_id: str, batches: Sequence[tuple[int, int, int, str]]) -> None:
        """`(idx, first_item, size, items as JSON)` of each batch of a new job."""
        conn.executemany(
            "INSERT INTO batches (job_id, idx, first_item, size, items) VALUES (?, ?, ?, ?, ?)",
            [(job_id, *batch) for batch in batches],
        )

    def pending(self, job_id: str) -> list[int]:
        return [
            r[0]
            for r in self._db.reader.execute(
                "SELECT idx FROM batches WHERE job_id = ? AND state = 'pending' ORDER BY idx", (job_id,)
            )
        ]

    @staticmethod
    def interrupted(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
        """(job id, idx, attempts) of each batch of a job that has not ended that was running when the service
        stopped."""
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                f"SELECT job_id, idx, attempts FROM batches WHERE state = 'running' AND job_id IN "
                f"(SELECT id FROM jobs WHERE state IN {ACTIVE})"
            )
        ]

    @staticmethod
    def requeue(conn: sqlite3.Connection, job_id: str, idx: int) -> None:
        conn.execute("UPDATE batches SET state = 'pending' WHERE job_id = ? AND idx = ?", (job_id, idx))

    @staticmethod
    def release(conn: sqlite3.Connection, batches: Sequence[tuple[str, int]]) -> None:
        """`(job id, idx)` of batches that were running when the service stopped on purpose: they wait again and
        their attempt does not count (it did not fail)."""
        conn.executemany(
            "UPDATE batches SET state = 'pending', attempts = attempts - 1 "
            "WHERE job_id = ? AND idx = ? AND state = 'running'",
            batches,
        )

    @staticmethod
    def claim(conn: sqlite3.Connection, job_id: str, idx: int) -> tuple[int, str, int]:
        """Mark a batch running and count its attempt (before it runs: an attempt that kills the service counts);
        returns (first item, items as JSON, attempt)."""
        conn.execute(
            "UPDATE batches SET state = 'running', attempts = attempts + 1 WHERE job_id = ? AND idx = ?", (job_id, idx)
        )
        first_item, items_json, attempts = conn.execute(
            "SELECT first_item, items, attempts FROM batches WHERE job_id = ? AND idx = ?", (job_id, idx)
        ).fetchone()
        return first_item, items_json, attempts

    @staticmethod
    def retry(conn: sqlite3.Connection, job_id: str, idx: int, error: str) -> None:
        conn.execute(
            "UPDATE batches SET state = 'pending', error = ? WHERE job_id = ? AND idx = ?", (error, job_id, idx)
        )

    @staticmethod
    def dead_letter(
        conn: sqlite3.Connection, job_id: str, idx: int, error: str, attempts: int, now: float
    ) -> tuple[int, int, str]:
        """Give up on a batch: it goes to the dead letters with its items; returns (first item, size, items as
        JSON)."""
        first_item, size, items_json = conn.execute(
            "SELECT first_item, size, items FROM batches WHERE job_id = ? AND idx = ?", (job_id, idx)
        ).fetchone()
        conn.execute("UPDATE batches SET state = 'dead', error = ? WHERE job_id = ? AND idx = ?", (error, job_id, idx))
        conn.execute(
            "INSERT OR REPLACE INTO dead_letters (job_id, batch, time, attempts, error, items) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, idx, now, attempts, error, items_json),
        )
        return first_item, size, items_json

    @staticmethod
    def succeed(conn: sqlite3.Connection, job_id: str, idx: int, results_json: str | None) -> None:
        conn.execute(
            "UPDATE batches SET state = 'succeeded', results = ?, error = NULL WHERE job_id = ? AND idx = ?",
            (results_json, job_id, idx),
        )

    @staticmethod
    def set_delivered(conn: sqlite3.Connection, job_id: str, idx: int, delivered: int) -> None:
        """`delivered` is `DELIVERED` or `DELIVERY_FAILED`."""
        conn.execute("UPDATE batches SET delivered = ? WHERE job_id = ? AND idx = ?", (delivered, job_id, idx))

    def undelivered(self, job_id: str) -> list[tuple[int, int, str, str]]:
        """(idx, first_item, items, results) of each processed batch whose webhook delivery has not ended."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._db.reader.execute(
                "SELECT idx, first_item, items, results FROM batches "
                "WHERE job_id = ? AND state = 'succeeded' AND delivered = ? ORDER BY idx",
                (job_id, UNDELIVERED),
            )
        ]

    @staticmethod
    def results(conn: sqlite3.Connection, job_id: str) -> Iterator[str]:
        """Each succeeded batch's results as JSON, in item order (streamed)."""
        for (results_json,) in conn.execute(
            "SELECT results FROM batches WHERE job_id = ? AND results IS NOT NULL ORDER BY idx", (job_id,)
        ):
            yield results_json

    def dead_letters(self, job_id: str) -> list[sqlite3.Row]:
        """The job's dead letters, by batch, each with its batch's `first_item`."""
        return self._db.reader.execute(
            "SELECT d.batch, d.time, d.attempts, d.error, d.items, b.first_item FROM dead_letters d "
            "JOIN batches b ON b.job_id = d.job_id AND b.idx = d.batch WHERE d.job_id = ? ORDER BY d.batch",
            (job_id,),
        ).fetchall()

    def processed(self, job_id: str, idxs: Sequence[int]) -> list[sqlite3.Row]:
        """(idx, first_item, items, results) of the named batches that were processed (have results)."""
        return self._db.reader.execute(
            "SELECT idx, first_item, items, results FROM batches WHERE job_id = ? AND results IS NOT NULL "
            "AND idx IN (SELECT value FROM json_each(?)) ORDER BY idx",
            (job_id, json_list(idxs)),
        ).fetchall()

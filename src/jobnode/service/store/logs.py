"""The `logs` table: every job's log entries, paged by id and bounded by time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

from jobnode.core.models import LogLevel
from jobnode.service.store.database import Database


class LogRow(NamedTuple):
    """One stored log entry; `time` is integer microseconds since the epoch, `level` a `LogLevel.rank`."""

    id: int
    time: int
    level: int
    kind: str
    item: str | None
    status: str | None
    duration_ms: float | None
    message: str | None

    @property
    def log_level(self) -> LogLevel:
        return LogLevel.from_rank(self.level)


#: what a new entry holds: (job id, time in microseconds, level rank, kind, item, status, duration_ms, message)
NewLog = tuple[str, int, int, str, str | None, str | None, float | None, str | None]

LOG_COLUMNS = "id, time, level, kind, item, status, duration_ms, message"
_LEVEL_NAME = " ".join(f"WHEN {level.rank} THEN '{level.value}'" for level in LogLevel)
# One log entry as the native API's JSON, rendered by SQLite (times are integer microseconds since the epoch).
LOG_JSON = (
    "json_object('id', CAST(id AS TEXT), "
    "'time', strftime('%Y-%m-%dT%H:%M:%S', time / 1000000, 'unixepoch') || printf('.%06dZ', time % 1000000), "
    f"'level', CASE level {_LEVEL_NAME} END, "
    "'kind', kind, 'item', item, 'status', status, 'duration_ms', duration_ms, 'message', message)"
)


class LogTable:
    """Log entries: pages through the thread's reader, inserts inside the caller's transaction (`conn`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def add(conn: sqlite3.Connection, rows: Iterable[NewLog]) -> None:
        conn.executemany(
            "INSERT INTO logs (job_id, time, level, kind, item, status, duration_ms, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def page(
        self,
        job_id: str,
        *,
        after_time: int | None,
        before_time: int | None,
        min_level: int | None,
        kind: str | None,
        limit: int,
        after_id: int | None,
        before_id: int | None,
        descending: bool,
        render: bool = False,
    ) -> list[Any]:
        """Each entry as a `LogRow`, or (`render=True`) as `(id, the native API's JSON text)`: SQLite renders the
        JSON, which is what makes big logs fast.

        Times are exclusive bounds in integer microseconds. The engine writes a job's entries in transactions that
        take their time inside, so their times grow with their ids: a time bound becomes an id bound, found by a
        binary search over the (job_id, id) index, and a page stays one range of that index however long the log.
        """
        if after_time is not None:
            after_id = max(after_id or 0, self._last_id_at(job_id, after_time) or 0)
        if before_time is not None:
            newest = self._last_id_at(job_id, before_time - 1)
            if newest is None:
                return []  # nothing that old
            before_id = min(before_id, newest + 1) if before_id is not None else newest + 1
        where = ["job_id = ?"]
        args: list[Any] = [job_id]
        if min_level is not None:
            where.append("level >= ?")
            args.append(min_level)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if after_id is not None:
            where.append("id > ?")
            args.append(after_id)
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        order = "DESC" if descending else "ASC"
        columns = f"id, {LOG_JSON}" if render else LOG_COLUMNS
        sql = f"SELECT {columns} FROM logs WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?"
        rows = self._db.reader.execute(sql, (*args, limit)).fetchall()
        return rows if render else [LogRow(*r) for r in rows]

    def _last_id_at(self, job_id: str, time_us: int) -> int | None:
        """The id of the job's last log entry written at or before `time_us`: each probe is one index seek."""
        conn = self._db.reader
        low, high = conn.execute("SELECT min(id), max(id) FROM logs WHERE job_id = ?", (job_id,)).fetchone()
        found = None
        while low is not None and low <= high:
            middle = (low + high) // 2
            probe = conn.execute(
                "SELECT id, time FROM logs WHERE job_id = ? AND id <= ? ORDER BY id DESC LIMIT 1", (job_id, middle)
            ).fetchone()
            if probe is None:
                low = middle + 1
            elif probe[1] <= time_us:
                found, low = probe[0], middle + 1
            else:
                high = probe[0] - 1
        return found

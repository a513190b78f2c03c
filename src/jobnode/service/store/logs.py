"""The `logs` table: every job's log entries, paged by id and bounded by time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


def _level_case(name: Callable[[LogLevel], str]) -> str:
    return "CASE level " + " ".join(f"WHEN {level.rank} THEN '{name(level)}'" for level in LogLevel) + " END"


#: what a log entry's JSON may hold: each name is a SQL expression over a `logs` row (times are stored as integer
#: microseconds since the epoch)
LOG_FIELDS: dict[str, str] = {
    "id": "CAST(id AS TEXT)",
    "time_iso": "strftime('%Y-%m-%dT%H:%M:%S', time / 1000000, 'unixepoch') || printf('.%06dZ', time % 1000000)",
    "time_ms": "time / 1000",
    "level": _level_case(lambda level: level.value),
    "level_title": _level_case(lambda level: level.value.title()),
    "kind": "kind",
    "item": "item",
    "item_or_empty": "COALESCE(item, '')",
    "status": "status",
    "status_or_empty": "COALESCE(status, '')",
    "duration_ms": "duration_ms",
    "duration_ms_or_zero": "COALESCE(duration_ms, 0.0)",
    "message": "message",
    "message_or_empty": "COALESCE(message, '')",
}


@dataclass(frozen=True)
class LogShape:
    """A log entry as some API's JSON object: its keys, in order, each with a `LOG_FIELDS` name. SQLite renders the
    objects, so a page of entries costs no Python per entry (what makes big logs page fast).

    Example:
        ```python
        shape = LogShape((("id", "id"), ("createTime", "time_ms"), ("level", "level_title")))
        ```
    """

    fields: tuple[tuple[str, str], ...]

    def sql(self) -> str:
        unknown = [name for _, name in self.fields if name not in LOG_FIELDS]
        if unknown:
            raise ValueError(f"unknown log fields {unknown}; use some of {sorted(LOG_FIELDS)}")
        return "json_object(" + ", ".join(f"'{key}', {LOG_FIELDS[name]}" for key, name in self.fields) + ")"


#: a log entry as the native API's JSON (`jobnode.LogEntry`)
NATIVE_LOG_SHAPE = LogShape(
    (
        ("id", "id"),
        ("time", "time_iso"),
        ("level", "level"),
        ("kind", "kind"),
        ("item", "item"),
        ("status", "status"),
        ("duration_ms", "duration_ms"),
        ("message", "message"),
    )
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
        shape: LogShape | None = None,
    ) -> list[Any]:
        """Each entry as a `LogRow`, or (with a `shape`) as `(id, the entry's JSON text in that shape)`.

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
        columns = f"id, {shape.sql()}" if shape is not None else LOG_COLUMNS
        sql = f"SELECT {columns} FROM logs WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?"
        rows = self._db.reader.execute(sql, (*args, limit)).fetchall()
        return rows if shape is not None else [LogRow(*r) for r in rows]

    def _last_id_at(self, job_id: str, time_us: int) -> int | None:
        """The id of the job's last log entry written at or before `time_us`: each probe is one index seek."""
        conn = self._db.reader
        # two single-aggregate queries: SQLite answers each with one index seek (both in one query scan the range)
        low = conn.execute("SELECT min(id) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]
        high = conn.execute("SELECT max(id) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]
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

"""What the Nexus emulator keeps beside the local engine: each project's datasets, webhooks and the Nexus side of
its batch jobs (their wire spec and the engine job that runs them).

A SQLite database of its own (`<data dir>/nexus/nexus.db`) and the uploaded dataset files next to it, so that the
emulator's state survives a restart of the service as the engine's does. Listings are newest first and page with
opaque cursors (`nextPage` / `prevPage`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jobnode.service.views import decode_cursor, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    crc32c TEXT NOT NULL,
    overview TEXT NOT NULL,
    message TEXT NOT NULL,
    item_count INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_project ON datasets(project_id, seq);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    secret TEXT NOT NULL,
    max_retries INTEGER NOT NULL,
    max_backoff_ms INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_project ON webhooks(project_id, seq);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    engine_id TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    cancelled_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_project ON jobs(project_id, seq);
"""

Table = Literal["datasets", "webhooks", "jobs"]


@dataclass(frozen=True)
class Listing:
    """One page of records, with the cursors of the pages beside it (None at either end)."""

    rows: list[sqlite3.Row]
    next_page: str | None
    prev_page: str | None


class Records:
    """The emulator's records; safe to use from the API's worker threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.datasets_dir = directory / "datasets"
        self.datasets_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(directory / "nexus.db", isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
            return row

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self._tx() as conn:
            conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))

    def update(self, table: Table, record_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._tx() as conn:
            conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*values.values(), record_id))

    def get(self, table: Table, project_id: str, record_id: str) -> sqlite3.Row | None:
        """A record of the project, or None (a record of another project is not found either)."""
        return self._one(f"SELECT * FROM {table} WHERE id = ? AND project_id = ?", (record_id, project_id))

    def by_id(self, table: Table, record_id: str) -> sqlite3.Row | None:
        """A record, whatever its project (for URLs that carry no project, such as upload URLs)."""
        return self._one(f"SELECT * FROM {table} WHERE id = ?", (record_id,))

    def delete(self, table: Table, record_id: str) -> None:
        with self._tx() as conn:
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))

    def dataset_path(self, dataset_id: str) -> Path:
        return self.datasets_dir / f"{dataset_id}.ndjson"

    def listing(self, table: Table, project_id: str, *, limit: int, page: str | None) -> Listing:
        """One page of the project's records, newest first; raises `BadCursor` for a cursor this did not make."""
        before = after = None
        if page:
            fields = decode_cursor(page, {"before", "after"})
            before, after = fields.get("before"), fields.get("after")
        with self._lock:
            if after is not None:
                rows = self._conn.execute(
                    f"SELECT * FROM {table} WHERE project_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?",
                    (project_id, after, limit),
                ).fetchall()
                rows.reverse()
            else:
                rows = self._conn.execute(
                    f"SELECT * FROM {table} WHERE project_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                    (project_id, before if before is not None else 1 << 62, limit),
                ).fetchall()
            if not rows:
                return Listing([], None, None)
            older = self._conn.execute(
                f"SELECT 1 FROM {table} WHERE project_id = ? AND seq < ? LIMIT 1", (project_id, rows[-1]["seq"])
            ).fetchone()
            newer = self._conn.execute(
                f"SELECT 1 FROM {table} WHERE project_id = ? AND seq > ? LIMIT 1", (project_id, rows[0]["seq"])
            ).fetchone()
        return Listing(
            rows,
            encode_cursor(before=rows[-1]["seq"]) if older else None,
            encode_cursor(after=rows[0]["seq"]) if newer else None,
        )

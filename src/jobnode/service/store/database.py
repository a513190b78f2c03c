"""The SQLite database under the store: its schema, its connections and its write transactions.

One write connection behind a lock, one read connection per thread (WAL lets readers run beside the writer).
State transitions commit with `synchronous=FULL`; batch bookkeeping commits with `synchronous=NORMAL`, which
survives a killed process (what the restart guarantee needs) and is re-done on restart if an OS crash loses it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobnode.core.models import ACTIVE_STATES

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT,
    reason TEXT,
    step TEXT NOT NULL,
    step_version TEXT NOT NULL,
    spec TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    parent_id TEXT,
    idempotency_key TEXT UNIQUE,
    request_hash TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    updated_at REAL NOT NULL,
    start_at REAL,
    stop_at REAL,
    timeout REAL,
    items_total INTEGER NOT NULL DEFAULT 0,
    items_processed INTEGER NOT NULL DEFAULT 0,
    items_failed INTEGER NOT NULL DEFAULT 0,
    items_delivered INTEGER NOT NULL DEFAULT 0,
    items_failed_delivery INTEGER NOT NULL DEFAULT 0,
    batches_total INTEGER NOT NULL DEFAULT 0,
    batches_succeeded INTEGER NOT NULL DEFAULT 0,
    batches_failed INTEGER NOT NULL DEFAULT 0,
    batches_running INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_parent ON jobs(parent_id);
CREATE TABLE IF NOT EXISTS batches (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    first_item INTEGER NOT NULL,
    size INTEGER NOT NULL,
    items TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    results TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    time INTEGER NOT NULL,
    level INTEGER NOT NULL,
    kind TEXT NOT NULL,
    item TEXT,
    status TEXT,
    duration_ms REAL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS logs_job ON logs(job_id, id);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    time REAL NOT NULL,
    item TEXT,
    batch INTEGER,
    attempt INTEGER,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_job ON errors(job_id, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    state TEXT,
    message TEXT,
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, id);
CREATE TABLE IF NOT EXISTS tombstones (
    job_id TEXT PRIMARY KEY,
    deleted_at REAL NOT NULL,
    deleted_by TEXT,
    what TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    media_type TEXT NOT NULL,
    records INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (job_id, name)
);
CREATE TABLE IF NOT EXISTS consumers (
    artifact_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (artifact_id, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS consumers_job ON consumers(job_id);
CREATE TABLE IF NOT EXISTS dead_letters (
    job_id TEXT NOT NULL,
    batch INTEGER NOT NULL,
    time REAL NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    items TEXT NOT NULL,
    PRIMARY KEY (job_id, batch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    job_id TEXT,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (platform, kind, id)
);
CREATE INDEX IF NOT EXISTS documents_scope ON documents(platform, kind, scope, seq);
CREATE INDEX IF NOT EXISTS documents_job ON documents(job_id);
"""

#: `state IN ACTIVE` selects the jobs that have not ended (derived from `core.models.ACTIVE_STATES`)
ACTIVE = "(" + ", ".join(f"'{state.value}'" for state in ACTIVE_STATES) + ")"


def micros(ts: float) -> int:
    """Log times are integer microseconds since the epoch: a float of seconds cannot hold microseconds today."""
    return round(ts * 1_000_000)


def dumps(value: Any) -> str:
    """Compact JSON as the store keeps it (non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_list(values: Any) -> str:
    """A list as a JSON parameter, for `IN (SELECT value FROM json_each(?))`: one parameter however long."""
    return dumps(list(values))


class Database:
    """The connections to one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._writer = self._connect()
        self._writer.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA busy_timeout=30000")
        # reads go through the OS page cache, shared by every connection, instead of a small private cache each
        conn.execute("PRAGMA mmap_size=1073741824")
        return conn

    @property
    def reader(self) -> sqlite3.Connection:
        """This thread's read connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()

    @contextmanager
    def write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction; `durable=True` fsyncs the commit (state transitions)."""
        with self._write_lock:
            conn = self._writer
            if durable:
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous=NORMAL")

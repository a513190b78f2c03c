"""The local service's SQLite store: jobs, batches, logs, errors, events, artifacts and tombstones.

One write connection behind a lock, one read connection per thread (WAL lets readers run beside the writer).
State transitions commit with `synchronous=FULL`; batch bookkeeping commits with `synchronous=NORMAL`, which
survives a killed process (what the restart guarantee needs) and is re-done on restart if an OS crash loses it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from jobnode.core.models import LogLevel
from jobnode.service.views import ArtifactRecord, JobRecord, group

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

LEVELS = {level.value: level.rank for level in LogLevel}

JOB_COLUMNS = (
    "seq, id, name, state, message, reason, step, step_version, spec, tags, parent_id, created_at, started_at, "
    "ended_at, updated_at, start_at, stop_at, timeout, items_total, items_processed, items_failed, "
    "items_delivered, items_failed_delivery, batches_total, batches_succeeded, batches_failed, batches_running"
)


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


LOG_COLUMNS = "id, time, level, kind, item, status, duration_ms, message"
_LEVEL_NAME = " ".join(f"WHEN {level.rank} THEN '{level.value}'" for level in LogLevel)
# One log entry as the native API's JSON, rendered by SQLite (times are integer microseconds since the epoch).
LOG_JSON = (
    "json_object('id', CAST(id AS TEXT), "
    "'time', strftime('%Y-%m-%dT%H:%M:%S', time / 1000000, 'unixepoch') || printf('.%06dZ', time % 1000000), "
    f"'level', CASE level {_LEVEL_NAME} END, "
    "'kind', kind, 'item', item, 'status', status, 'duration_ms', duration_ms, 'message', message)"
)


def micros(ts: float) -> int:
    """Log times are integer microseconds since the epoch: a float of seconds cannot hold microseconds today."""
    return round(ts * 1_000_000)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store:
    """SQLite persistence of the local service."""

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

    # -- jobs ---------------------------------------------------------------------------------------------------

    def job_row(self, job_id: str) -> sqlite3.Row | None:
        return self.reader.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def records(self, ids: Sequence[str]) -> list[JobRecord]:
        """The jobs among `ids` that exist, with their inputs and outputs (three queries, whatever their number)."""
        return self._with_artifacts(self.job_rows(ids))

    def _with_artifacts(self, rows: Sequence[sqlite3.Row]) -> list[JobRecord]:
        if not rows:
            return []
        ids = dumps([r["id"] for r in rows])
        inputs = group(
            self.reader.execute(
                "SELECT job_id, artifact_id FROM consumers WHERE job_id IN (SELECT value FROM json_each(?))", (ids,)
            ).fetchall()
        )
        outputs = group(
            [
                (a["job_id"], ArtifactRecord.of(a))
                for a in self.reader.execute(
                    "SELECT * FROM artifacts WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY name", (ids,)
                )
            ]
        )
        return [JobRecord.of(r, inputs.get(r["id"], ()), outputs.get(r["id"], ())) for r in rows]

    def list_records(self, **filters: Any) -> list[JobRecord]:
        """`list_jobs`, as records."""
        return self._with_artifacts(self.list_jobs(**filters))

    def job_by_key(self, key: str) -> sqlite3.Row | None:
        return self.reader.execute(
            f"SELECT {JOB_COLUMNS}, request_hash FROM jobs WHERE idempotency_key = ?", (key,)
        ).fetchone()

    def job_rows(self, ids: Sequence[str]) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows.extend(self.reader.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({marks})", chunk))
        return rows

    def list_jobs(
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
    ) -> list[sqlite3.Row]:
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
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)")
            args.append(tag)
        if name:
            where.append("name = ?")
            args.append(name)
        if ids is not None:
            where.append("id IN (SELECT value FROM json_each(?))")
            args.append(dumps(list(ids)))
        if before_seq is not None:
            where.append("seq < ?")
            args.append(before_seq)
        if after_seq is not None:
            where.append("seq > ?")
            args.append(after_seq)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "ASC" if after_seq is not None else "DESC"
        rows = self.reader.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs {clause} ORDER BY seq {order} LIMIT ?", (*args, limit)
        ).fetchall()
        if after_seq is not None:
            rows.reverse()
        return rows

    def has_jobs(self, *, before_seq: int | None = None, after_seq: int | None = None) -> bool:
        if before_seq is not None:
            return self.reader.execute("SELECT 1 FROM jobs WHERE seq < ? LIMIT 1", (before_seq,)).fetchone() is not None
        return self.reader.execute("SELECT 1 FROM jobs WHERE seq > ? LIMIT 1", (after_seq,)).fetchone() is not None

    def active_job_rows(self) -> list[sqlite3.Row]:
        return self.reader.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('created', 'scheduled', 'queued', 'running') ORDER BY seq"
        ).fetchall()

    def children(self, job_id: str) -> list[str]:
        return [r[0] for r in self.reader.execute("SELECT id FROM jobs WHERE parent_id = ?", (job_id,))]

    # -- batches ------------------------------------------------------------------------------------------------

    def pending_batches(self, job_id: str) -> list[int]:
        return [
            r[0]
            for r in self.reader.execute(
                "SELECT idx FROM batches WHERE job_id = ? AND state = 'pending' ORDER BY idx", (job_id,)
            )
        ]

    def batch_items(self, job_id: str, idx: int) -> tuple[int, str, int]:
        row = self.reader.execute(
            "SELECT first_item, items, attempts FROM batches WHERE job_id = ? AND idx = ?", (job_id, idx)
        ).fetchone()
        return row[0], row[1], row[2]

    def batch_results(self, job_id: str) -> Iterator[sqlite3.Row]:
        """Each succeeded batch's results, in item order (streamed, for writing the output artifact)."""
        cur = self.reader.execute(
            "SELECT idx, results FROM batches WHERE job_id = ? AND results IS NOT NULL ORDER BY idx", (job_id,)
        )
        yield from cur

    # -- logs, errors, events -----------------------------------------------------------------------------------

    @staticmethod
    def insert_logs(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
        conn.executemany(
            "INSERT INTO logs (job_id, time, level, kind, item, status, duration_ms, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    @staticmethod
    def insert_errors(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
        conn.executemany(
            "INSERT INTO errors (job_id, time, item, batch, attempt, message) VALUES (?, ?, ?, ?, ?, ?)", rows
        )

    @staticmethod
    def insert_event(
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

    def logs(
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
            after_id = max(after_id or 0, self._last_log_id_at(job_id, after_time) or 0)
        if before_time is not None:
            newest = self._last_log_id_at(job_id, before_time - 1)
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
        rows = self.reader.execute(sql, (*args, limit)).fetchall()
        return rows if render else [LogRow(*r) for r in rows]

    def _last_log_id_at(self, job_id: str, time_us: int) -> int | None:
        """The id of the job's last log entry written at or before `time_us`: each probe is one index seek."""
        conn = self.reader
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

    def errors(self, job_id: str, limit: int) -> list[sqlite3.Row]:
        return self.reader.execute(
            "SELECT time, item, batch, attempt, message FROM errors WHERE job_id = ? ORDER BY id DESC LIMIT ?",
            (job_id, limit),
        ).fetchall()

    def events(self, job_id: str) -> list[sqlite3.Row]:
        return self.reader.execute(
            "SELECT id, job_id, time, type, state, message, data FROM events WHERE job_id = ? ORDER BY id",
            (job_id,),
        ).fetchall()

    def tombstone(self, job_id: str) -> sqlite3.Row | None:
        return self.reader.execute(
            "SELECT job_id, deleted_at, deleted_by, what FROM tombstones WHERE job_id = ?", (job_id,)
        ).fetchone()

    def dead_letters(self, job_id: str) -> list[sqlite3.Row]:
        return self.reader.execute(
            "SELECT batch, time, attempts, error, items FROM dead_letters WHERE job_id = ? ORDER BY batch", (job_id,)
        ).fetchall()

    def failed_item_labels(self, job_id: str) -> dict[int, set[str]]:
        """The labels of the items that failed alone (not whole batches, not rejected lines), by batch."""
        out: dict[int, set[str]] = {}
        for batch, item in self.reader.execute(
            "SELECT DISTINCT batch, item FROM errors WHERE job_id = ? AND batch IS NOT NULL AND item IS NOT NULL",
            (job_id,),
        ):
            out.setdefault(batch, set()).add(item)
        return out

    def undelivered_batches(self, job_id: str) -> list[tuple[int, int, str, str]]:
        """(idx, first_item, items, results) of each processed batch whose webhook delivery has not ended."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self.reader.execute(
                "SELECT idx, first_item, items, results FROM batches "
                "WHERE job_id = ? AND state = 'succeeded' AND delivered = 0 ORDER BY idx",
                (job_id,),
            )
        ]

    def batch_row(self, job_id: str, idx: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.reader.execute(
            "SELECT first_item, size, items, state, results, delivered FROM batches WHERE job_id = ? AND idx = ?",
            (job_id, idx),
        ).fetchone()
        return row

    # -- artifacts ----------------------------------------------------------------------------------------------

    def artifact_record(self, artifact_id: str) -> ArtifactRecord | None:
        row = self.artifact(artifact_id)
        return ArtifactRecord.of(row, self.consumers_of(artifact_id)) if row is not None else None

    def artifact(self, artifact_id: str) -> sqlite3.Row | None:
        return self.reader.execute("SELECT * FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()

    def artifact_by_name(self, job_id: str, name: str) -> sqlite3.Row | None:
        return self.reader.execute("SELECT * FROM artifacts WHERE job_id = ? AND name = ?", (job_id, name)).fetchone()

    def artifacts_of(self, job_id: str) -> list[sqlite3.Row]:
        return self.reader.execute("SELECT * FROM artifacts WHERE job_id = ? ORDER BY name", (job_id,)).fetchall()

    def consumers_of(self, artifact_id: str) -> list[str]:
        return [r[0] for r in self.reader.execute("SELECT job_id FROM consumers WHERE artifact_id = ?", (artifact_id,))]

    def inputs_of(self, job_id: str) -> list[str]:
        return [r[0] for r in self.reader.execute("SELECT artifact_id FROM consumers WHERE job_id = ?", (job_id,))]

"""The `documents` table: each emulator's own objects (datasets, projects, the platform side of a job) as JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from jobnode.service.store.database import Database, dumps

_COLUMNS = "seq, kind, id, scope, job_id, body, created"
#: the largest `seq` SQLite can hold: "before the end" when a listing starts
_LAST = 2**63 - 1


class DocumentTable:
    """Documents of every platform; each call names its platform. Rows are `(seq, kind, id, scope, job_id, body,
    created)` with the body as JSON text."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(
        self, platform: str, kind: str, doc_id: str, body: Mapping[str, Any], scope: str, job_id: str | None, now: float
    ) -> int:
        """Store a document; returns its `seq`."""
        with self._db.write() as conn:
            cur = conn.execute(
                "INSERT INTO documents (platform, kind, id, scope, job_id, body, created) VALUES (?,?,?,?,?,?,?)",
                (platform, kind, doc_id, scope, job_id, dumps(dict(body)), now),
            )
        return int(cur.lastrowid or 0)

    def put_many(
        self,
        platform: str,
        kind: str,
        bodies: Mapping[str, Mapping[str, Any]],
        scope: str,
        now: float,
        *,
        replace: bool,
    ) -> None:
        """Store many documents (id -> body) in one transaction; an id that exists keeps its `seq` and gets the new
        body when `replace`, else stays as it is."""
        conflict = "DO UPDATE SET body = excluded.body" if replace else "DO NOTHING"
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO documents (platform, kind, id, scope, job_id, body, created) VALUES (?,?,?,?,NULL,?,?) "
                f"ON CONFLICT (platform, kind, id) {conflict}",
                [(platform, kind, doc_id, scope, dumps(dict(body)), now) for doc_id, body in bodies.items()],
            )

    def get(self, platform: str, kind: str, doc_id: str) -> sqlite3.Row | None:
        return self._db.reader.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE platform = ? AND kind = ? AND id = ?", (platform, kind, doc_id)
        ).fetchone()

    def by_job(self, platform: str, kind: str, job_id: str) -> sqlite3.Row | None:
        return self._db.reader.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE job_id = ? AND platform = ? AND kind = ? LIMIT 1",
            (job_id, platform, kind),
        ).fetchone()

    def update(
        self, platform: str, kind: str, doc_id: str, changes: Mapping[str, Any]
    ) -> tuple[sqlite3.Row, dict[str, Any]] | None:
        """Set top-level keys of a body (read and written in one transaction); returns the row as it was and the
        new body, or None when there is no such document."""
        with self._db.write() as conn:
            row: sqlite3.Row | None = conn.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE platform = ? AND kind = ? AND id = ?",
                (platform, kind, doc_id),
            ).fetchone()
            if row is None:
                return None
            body = {**json.loads(row["body"]), **changes}
            conn.execute("UPDATE documents SET body = ? WHERE seq = ?", (dumps(body), row["seq"]))
        return row, body

    def delete(self, platform: str, kind: str, doc_id: str) -> bool:
        with self._db.write() as conn:
            cur = conn.execute(
                "DELETE FROM documents WHERE platform = ? AND kind = ? AND id = ?", (platform, kind, doc_id)
            )
        return cur.rowcount > 0

    def all(self, platform: str, kind: str, scope: str | None, where: Mapping[str, Any] | None) -> list[sqlite3.Row]:
        """Every document of `kind` (in `scope`, whose body has the values of `where`), oldest first."""
        clause, args = _where(platform, kind, scope, where)
        return self._db.reader.execute(f"SELECT {_COLUMNS} FROM documents WHERE {clause} ORDER BY seq", args).fetchall()

    def page(
        self,
        platform: str,
        kind: str,
        scope: str | None,
        where: Mapping[str, Any] | None,
        *,
        limit: int,
        before: int | None,
        after: int | None,
    ) -> tuple[list[sqlite3.Row], bool, bool]:
        """A page newest first: before `before` (or from the newest), or after `after`; with whether older and newer
        documents exist beyond it."""
        clause, args = _where(platform, kind, scope, where)
        reader = self._db.reader
        if after is not None:
            rows = reader.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE {clause} AND seq > ? ORDER BY seq ASC LIMIT ?",
                (*args, after, limit),
            ).fetchall()
            rows.reverse()
        else:
            rows = reader.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE {clause} AND seq < ? ORDER BY seq DESC LIMIT ?",
                (*args, before if before is not None else _LAST, limit),
            ).fetchall()
        if not rows:
            return [], False, False
        older = reader.execute(f"SELECT 1 FROM documents WHERE {clause} AND seq < ? LIMIT 1", (*args, rows[-1][0]))
        newer = reader.execute(f"SELECT 1 FROM documents WHERE {clause} AND seq > ? LIMIT 1", (*args, rows[0][0]))
        return rows, older.fetchone() is not None, newer.fetchone() is not None


def _where(platform: str, kind: str, scope: str | None, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    clause = "platform = ? AND kind = ?"
    args: list[Any] = [platform, kind]
    if scope is not None:
        clause += " AND scope = ?"
        args.append(scope)
    for key, value in (where or {}).items():
        clause += " AND json_extract(body, ?) = ?"
        args.extend([f"$.{key}", value])
    return clause, args

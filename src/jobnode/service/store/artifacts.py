"""The `artifacts` table (each job's outputs, JSON-lines files) and `consumers` (which jobs read which artifact)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from jobnode.service.store.database import Database, json_list
from jobnode.service.views import ArtifactRecord


class ArtifactTable:
    """Artifacts and their consumers: reads through the thread's reader, writes inside the caller's transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def row(self, artifact_id: str) -> sqlite3.Row | None:
        return self._db.reader.execute("SELECT * FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()

    def by_name(self, job_id: str, name: str) -> sqlite3.Row | None:
        return self._db.reader.execute(
            "SELECT * FROM artifacts WHERE job_id = ? AND name = ?", (job_id, name)
        ).fetchone()

    def record(self, artifact_id: str) -> ArtifactRecord | None:
        """The artifact with the jobs that consume it."""
        row = self.row(artifact_id)
        if row is None:
            return None
        consumers = [
            r[0] for r in self._db.reader.execute("SELECT job_id FROM consumers WHERE artifact_id = ?", (artifact_id,))
        ]
        return ArtifactRecord.of(row, consumers)

    def records(self, artifact_ids: Sequence[str]) -> list[ArtifactRecord]:
        """Artifacts with their consumers, in the order of `artifact_ids` (two queries, whatever their number)."""
        ids = json_list(artifact_ids)
        consumers: dict[str, list[str]] = {}
        for artifact_id, job_id in self._db.reader.execute(
            "SELECT artifact_id, job_id FROM consumers WHERE artifact_id IN (SELECT value FROM json_each(?))", (ids,)
        ):
            consumers.setdefault(artifact_id, []).append(job_id)
        rows = {
            r["id"]: r
            for r in self._db.reader.execute(
                "SELECT * FROM artifacts WHERE id IN (SELECT value FROM json_each(?))", (ids,)
            )
        }
        return [ArtifactRecord.of(rows[a], consumers.get(a, [])) for a in artifact_ids if a in rows]

    def inputs_of(self, job_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(job id, artifact id) of each artifact the jobs read."""
        return [
            (r[0], r[1])
            for r in self._db.reader.execute(
                "SELECT job_id, artifact_id FROM consumers WHERE job_id IN (SELECT value FROM json_each(?))",
                (json_list(job_ids),),
            )
        ]

    def outputs_of(self, job_ids: Sequence[str]) -> list[tuple[str, ArtifactRecord]]:
        """(job id, artifact) of each output of the jobs, by name."""
        return [
            (r["job_id"], ArtifactRecord.of(r))
            for r in self._db.reader.execute(
                "SELECT * FROM artifacts WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY name",
                (json_list(job_ids),),
            )
        ]

    @staticmethod
    def missing(conn: sqlite3.Connection, artifact_ids: Sequence[str]) -> list[str]:
        """Those of `artifact_ids` that do not exist (any more), in order."""
        found = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM artifacts WHERE id IN (SELECT value FROM json_each(?))", (json_list(artifact_ids),)
            )
        }
        return [a for a in artifact_ids if a not in found]

    @staticmethod
    def add_consumer(conn: sqlite3.Connection, job_id: str, artifact_ids: Sequence[str]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO consumers (artifact_id, job_id) VALUES (?, ?)", [(a, job_id) for a in artifact_ids]
        )

    @staticmethod
    def insert(
        conn: sqlite3.Connection,
        *,
        artifact_id: str,
        job_id: str,
        name: str,
        path: str,
        media_type: str,
        records: int,
        size_bytes: int,
        created_at: float,
    ) -> None:
        conn.execute(
            "INSERT INTO artifacts (id, job_id, name, path, media_type, records, size_bytes, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (artifact_id, job_id, name, path, media_type, records, size_bytes, created_at),
        )

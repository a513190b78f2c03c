"""What an emulator keeps beside the engine's jobs: its platform's own objects (datasets, webhooks, projects, the
platform side of each job), as JSON documents in the service's database (the `documents` table of
`store.SCHEMA`), so that they survive a restart as jobs do.

A document has a kind (`dataset`), an id, an optional scope (a project, which sees only its own), an optional engine
job it belongs to, and a JSON body. Listings are newest first and page with opaque cursors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobnode.service.cursors import decode_cursor, encode_cursor
from jobnode.service.store import Store, dumps

_COLUMNS = "seq, kind, id, scope, job_id, body, created"


@dataclass(frozen=True)
class Document:
    seq: int
    kind: str
    id: str
    scope: str
    job_id: str | None
    body: dict[str, Any]
    created: float


@dataclass(frozen=True)
class Listing:
    """One page of documents, with the cursors of the pages beside it (None at either end)."""

    documents: list[Document]
    next_cursor: str | None
    prev_cursor: str | None


def _document(row: Any) -> Document:
    return Document(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])


class Documents:
    """One platform's documents.

    Example:
        ```python
        datasets = service.documents("nexus")
        datasets.insert("dataset", "dataset_1", {"name": "reviews"}, scope="proj_1")
        page = datasets.listing("dataset", scope="proj_1", limit=10)
        ```
    """

    def __init__(self, store: Store, platform: str) -> None:
        self._store = store
        self.platform = platform

    def insert(
        self, kind: str, doc_id: str, body: Mapping[str, Any], *, scope: str = "", job_id: str | None = None
    ) -> Document:
        now = time.time()
        with self._store.write() as conn:
            cur = conn.execute(
                "INSERT INTO documents (platform, kind, id, scope, job_id, body, created) VALUES (?,?,?,?,?,?,?)",
                (self.platform, kind, doc_id, scope, job_id, dumps(dict(body)), now),
            )
            seq = cur.lastrowid
        return Document(int(seq or 0), kind, doc_id, scope, job_id, dict(body), now)

    def get(self, kind: str, doc_id: str, *, scope: str | None = None) -> Document | None:
        """The document, or None (also when it belongs to another scope)."""
        row = self._store.reader.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE platform = ? AND kind = ? AND id = ?",
            (self.platform, kind, doc_id),
        ).fetchone()
        if row is None or (scope is not None and row[3] != scope):
            return None
        return _document(row)

    def by_job(self, kind: str, job_id: str) -> Document | None:
        """The document of `kind` that belongs to an engine job."""
        row = self._store.reader.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE job_id = ? AND platform = ? AND kind = ? LIMIT 1",
            (job_id, self.platform, kind),
        ).fetchone()
        return _document(row) if row is not None else None

    def update(self, kind: str, doc_id: str, **changes: Any) -> Document | None:
        """Set top-level keys of the body; returns the document as it is now (None if there is none)."""
        with self._store.write() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE platform = ? AND kind = ? AND id = ?",
                (self.platform, kind, doc_id),
            ).fetchone()
            if row is None:
                return None
            doc = _document(row)
            body = {**doc.body, **changes}
            conn.execute("UPDATE documents SET body = ? WHERE seq = ?", (dumps(body), doc.seq))
        return Document(doc.seq, doc.kind, doc.id, doc.scope, doc.job_id, body, doc.created)

    def put_many(
        self, kind: str, bodies: Mapping[str, Mapping[str, Any]], *, scope: str = "", replace: bool = True
    ) -> None:
        """Store many documents (id -> body) in one transaction; an id that exists keeps its place in listings and
        gets the new body when `replace`, else stays as it is. Repeating a call changes nothing more."""
        now = time.time()
        conflict = "DO UPDATE SET body = excluded.body" if replace else "DO NOTHING"
        with self._store.write() as conn:
            conn.executemany(
                "INSERT INTO documents (platform, kind, id, scope, job_id, body, created) VALUES (?,?,?,?,NULL,?,?) "
                f"ON CONFLICT (platform, kind, id) {conflict}",
                [(self.platform, kind, doc_id, scope, dumps(dict(body)), now) for doc_id, body in bodies.items()],
            )

    def delete(self, kind: str, doc_id: str) -> bool:
        with self._store.write() as conn:
            cur = conn.execute(
                "DELETE FROM documents WHERE platform = ? AND kind = ? AND id = ?", (self.platform, kind, doc_id)
            )
        return cur.rowcount > 0

    def all(self, kind: str, *, scope: str | None = None, where: Mapping[str, Any] | None = None) -> list[Document]:
        """Every document of `kind` (in `scope`, whose body has the values of `where`), oldest first."""
        clause, args = self._where(kind, scope, where)
        rows = self._store.reader.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE {clause} ORDER BY seq", args
        ).fetchall()
        return [_document(r) for r in rows]

    def listing(
        self,
        kind: str,
        *,
        scope: str | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Listing:
        """A page of documents, newest first; `next_cursor` pages to older ones, `prev_cursor` to newer ones (each
        None when there are none).

        Raises:
            BadCursor: `cursor` is not one this service made.
        """
        clause, args = self._where(kind, scope, where)
        before = after = None
        if cursor:
            fields = decode_cursor(cursor, {"before", "after"})
            before, after = fields.get("before"), fields.get("after")
        reader = self._store.reader
        if after is not None:
            rows = reader.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE {clause} AND seq > ? ORDER BY seq ASC LIMIT ?",
                (*args, after, limit),
            ).fetchall()
            rows.reverse()
        else:
            bound = before if before is not None else 2**63 - 1
            rows = reader.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE {clause} AND seq < ? ORDER BY seq DESC LIMIT ?",
                (*args, bound, limit),
            ).fetchall()
        if not rows:
            return Listing([], None, None)
        docs = [_document(r) for r in rows]
        older = reader.execute(f"SELECT 1 FROM documents WHERE {clause} AND seq < ? LIMIT 1", (*args, docs[-1].seq))
        newer = reader.execute(f"SELECT 1 FROM documents WHERE {clause} AND seq > ? LIMIT 1", (*args, docs[0].seq))
        return Listing(
            docs,
            encode_cursor(before=docs[-1].seq) if older.fetchone() else None,
            encode_cursor(after=docs[0].seq) if newer.fetchone() else None,
        )

    def _where(self, kind: str, scope: str | None, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        clause = "platform = ? AND kind = ?"
        args: list[Any] = [self.platform, kind]
        if scope is not None:
            clause += " AND scope = ?"
            args.append(scope)
        for key, value in (where or {}).items():
            clause += " AND json_extract(body, ?) = ?"
            args.extend([f"$.{key}", value])
        return clause, args

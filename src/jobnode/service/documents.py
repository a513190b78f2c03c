"""What an emulator keeps beside the engine's jobs: its platform's own objects (datasets, webhooks, projects, the
platform side of each job), as JSON documents in the service's database (`store.documents`), so that they survive
a restart as jobs do.

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
from jobnode.service.store import Store


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


def _document(row: Any, body: dict[str, Any] | None = None) -> Document:
    return Document(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]) if body is None else body, row[6])


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
        self._table = store.documents
        self.platform = platform

    def insert(
        self, kind: str, doc_id: str, body: Mapping[str, Any], *, scope: str = "", job_id: str | None = None
    ) -> Document:
        now = time.time()
        seq = self._table.insert(self.platform, kind, doc_id, body, scope, job_id, now)
        return Document(seq, kind, doc_id, scope, job_id, dict(body), now)

    def get(self, kind: str, doc_id: str, *, scope: str | None = None) -> Document | None:
        """The document, or None (also when it belongs to another scope)."""
        row = self._table.get(self.platform, kind, doc_id)
        if row is None or (scope is not None and row[3] != scope):
            return None
        return _document(row)

    def by_job(self, kind: str, job_id: str) -> Document | None:
        """The document of `kind` that belongs to an engine job."""
        row = self._table.by_job(self.platform, kind, job_id)
        return _document(row) if row is not None else None

    def update(self, kind: str, doc_id: str, **changes: Any) -> Document | None:
        """Set top-level keys of the body; returns the document as it is now (None if there is none)."""
        updated = self._table.update(self.platform, kind, doc_id, changes)
        return _document(*updated) if updated is not None else None

    def put_many(
        self, kind: str, bodies: Mapping[str, Mapping[str, Any]], *, scope: str = "", replace: bool = True
    ) -> None:
        """Store many documents (id -> body) in one transaction; an id that exists keeps its place in listings and
        gets the new body when `replace`, else stays as it is. Repeating a call changes nothing more."""
        self._table.put_many(self.platform, kind, bodies, scope, time.time(), replace=replace)

    def delete(self, kind: str, doc_id: str) -> bool:
        return self._table.delete(self.platform, kind, doc_id)

    def all(self, kind: str, *, scope: str | None = None, where: Mapping[str, Any] | None = None) -> list[Document]:
        """Every document of `kind` (in `scope`, whose body has the values of `where`), oldest first."""
        return [_document(r) for r in self._table.all(self.platform, kind, scope, where)]

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
        before = after = None
        if cursor:
            fields = decode_cursor(cursor, {"before", "after"})
            before, after = fields.get("before"), fields.get("after")
        rows, older, newer = self._table.page(
            self.platform, kind, scope, where, limit=limit, before=before, after=after
        )
        docs = [_document(r) for r in rows]
        return Listing(
            docs,
            encode_cursor(before=docs[-1].seq) if older else None,
            encode_cursor(after=docs[0].seq) if newer else None,
        )

"""The local service's SQLite store: every SQL statement of the service lives in this package, one module per table.

`Store` is the database (`database.py`: the schema, one write connection behind a lock, a read connection per
thread) with one object per table: `jobs`, `batches`, `logs`, `errors`, `events`, `artifacts`, `documents`, and
`lineage` (reads and deletions across tables for the lineage planner). Reads go through the calling thread's reader;
writes take the connection of a transaction the caller opened with `store.write()`, so that one transaction can
span several tables (a batch's results, logs and counters commit together).

Example:
    ```python
    store = Store(data_dir / "jobnode.db")
    with store.write(durable=True) as conn:
        store.jobs.end(conn, "job_0123", JobState.CANCELLED, "cancelled by request", time.time())
    record = store.jobs.records(["job_0123"])[0]
    ```
"""

from __future__ import annotations

from pathlib import Path

from jobnode.service.store.artifacts import ArtifactTable
from jobnode.service.store.batches import BatchTable
from jobnode.service.store.database import SCHEMA, Database, dumps, micros
from jobnode.service.store.documents import DocumentTable
from jobnode.service.store.errors import ErrorTable, NewError
from jobnode.service.store.events import EventTable
from jobnode.service.store.jobs import JobTable, NewJobRow
from jobnode.service.store.lineage import Lineage
from jobnode.service.store.logs import LogRow, LogTable, NewLog

__all__ = ["SCHEMA", "LogRow", "NewError", "NewJobRow", "NewLog", "Store", "dumps", "micros"]


class Store(Database):
    """The service's database and its tables."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.artifacts = ArtifactTable(self)
        self.jobs = JobTable(self, self.artifacts)
        self.batches = BatchTable(self)
        self.logs = LogTable(self)
        self.errors = ErrorTable(self)
        self.events = EventTable(self)
        self.documents = DocumentTable(self)
        self.lineage = Lineage()

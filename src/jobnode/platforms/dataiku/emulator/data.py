"""The data of the emulated datasets: each partition holds the records a job wrote (the engine's `results` artifact
of the activity that built it) or the files uploaded into it, with its schema and when it was written.

A dataset is a document of the service (`dataset`, `PROJECT.name`) whose body maps each partition that has data to
`{"artifact" | "files", "records", "columns", "time", "job"}`; a dataset without data has no partitions. Writing a
partition replaces what it held (the artifact of an earlier build is deleted); clearing removes it.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobnode.platforms.dataiku import table, wire
from jobnode.platforms.dataiku.emulator.errors import bad
from jobnode.platforms.dataiku.emulator.flow import ALL_PARTITIONS
from jobnode.service.emulation import Documents, JobService, NotFound

KIND = "dataset"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def now_ms() -> int:
    return int(time.time() * 1000)


def records_of(content: bytes, *, field: str = "file") -> list[Any]:
    """The records of newline-delimited JSON (blank lines skipped).

    Raises:
        ServiceError: a line is not JSON (400, naming the line).
    """
    records: list[Any] = []
    for number, line in enumerate(content.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise bad(f"{field}: line {number} is not JSON ({exc}); upload one JSON value per line") from None
    return records


class Datasets:
    """Partitions of the emulated datasets, over the service's documents, artifacts and the emulator's workspace."""

    def __init__(self, service: JobService, documents: Documents) -> None:
        self.service = service
        self.docs = documents
        self.uploads = service.workspace("dataiku") / "uploads"
        self.uploads.mkdir(exist_ok=True)
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------------------------

    def partitions(self, project_key: str, name: str) -> dict[str, dict[str, Any]]:
        """Each partition that has data, with what is known of it."""
        doc = self.docs.get(KIND, f"{project_key}.{name}", scope=project_key)
        return dict(doc.body["partitions"]) if doc is not None else {}

    def names(self, project_key: str) -> list[str]:
        """The datasets of a project that have held data."""
        return [d.body["name"] for d in self.docs.all(KIND, scope=project_key)]

    def project_keys(self) -> set[str]:
        return {d.scope for d in self.docs.all(KIND)}

    def built_at(self, project_key: str, name: str, partition: str) -> int | None:
        """When a partition's data was written (epoch ms; the newest partition's for `ALL`), or None."""
        partitions = self.partitions(project_key, name)
        if partition == ALL_PARTITIONS:
            return max((p["time"] for p in partitions.values()), default=None)
        found = partitions.get(partition)
        return found["time"] if found is not None else None

    def records(self, project_key: str, name: str, partition: str) -> Iterator[Any]:
        """The records of a partition (of every partition for `ALL`); none when it has no data."""
        partitions = self.partitions(project_key, name)
        wanted = sorted(partitions) if partition == ALL_PARTITIONS else [partition]
        for key in wanted:
            info = partitions.get(key)
            if info is not None:
                yield from self._read(project_key, name, info)

    def _read(self, project_key: str, name: str, info: dict[str, Any]) -> Iterator[Any]:
        if info.get("artifact"):
            try:
                for line in self.service.artifact_lines(info["artifact"]):
                    yield json.loads(line)
            except NotFound:
                return  # deleted under us by a concurrent clear: the partition is empty now
        for file in info.get("files", []):
            path = self._folder(project_key, name) / file
            if path.exists():
                yield from records_of(path.read_bytes())

    def columns(self, project_key: str, name: str, partitions: list[str] | None = None) -> list[wire.SchemaColumn]:
        """The schema of the dataset's data (of `partitions` when given)."""
        found = self.partitions(project_key, name)
        picked = [found[p] for p in (partitions if partitions is not None else sorted(found)) if p in found]
        return table.merge_schemas([wire.SchemaColumn.model_validate(c) for c in p["columns"]] for p in picked)

    def rows(self, project_key: str, name: str, partitions: list[str] | None, *, header: bool) -> Iterator[str]:
        """The data as tab-separated lines in the schema's column order."""
        columns = self.columns(project_key, name, partitions)
        wanted = partitions if partitions is not None else sorted(self.partitions(project_key, name))
        records = (r for p in wanted for r in self.records(project_key, name, p))
        return table.tsv_lines(records, columns, header=header)

    def files(self, project_key: str, name: str) -> list[dict[str, Any]]:
        """The files uploaded into the dataset (`uploaded/files`)."""
        folder = self._folder(project_key, name)
        info = self.partitions(project_key, name).get(wire.NOT_PARTITIONED, {})
        found = []
        for file in info.get("files", []):
            path = folder / file
            if path.exists():
                stat = path.stat()
                found.append({"path": "/" + file, "size": stat.st_size, "lastModified": int(stat.st_mtime * 1000)})
        return found

    # -- writing ------------------------------------------------------------------------------------------------

    def record_build(self, project_key: str, name: str, partition: str, artifact_id: str, job_id: str) -> int:
        """A job built the partition into `artifact_id` (the results of its activity); returns the record count."""
        records = [json.loads(line) for line in self.service.artifact_lines(artifact_id)]
        info = {
            "artifact": artifact_id,
            "records": len(records),
            "columns": [c.to_wire() for c in table.schema_of(records)],
            "time": now_ms(),
            "job": job_id,
        }
        old = self._write(project_key, name, {partition: info})
        self._discard(project_key, name, old)
        return len(records)

    def upload(self, project_key: str, name: str, filename: str, content: bytes) -> int:
        """Add an uploaded file (newline-delimited JSON) to the dataset; returns its record count.

        Raises:
            ServiceError: a line is not JSON (400).
        """
        records = records_of(content)
        file = _UNSAFE.sub("_", Path(filename).name).strip("._") or "upload.jsonl"
        folder = self._folder(project_key, name)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            info = self.partitions(project_key, name).get(wire.NOT_PARTITIONED) or {"files": [], "columns": []}
            files = [f for f in info.get("files", []) if f != file] + [file]
            (folder / file).write_bytes(content)
            merged = table.merge_schemas(
                [[wire.SchemaColumn.model_validate(c) for c in info["columns"]], table.schema_of(records)]
            )
            self._write_locked(
                project_key,
                name,
                {
                    wire.NOT_PARTITIONED: {
                        "files": files,
                        "records": sum(1 for _ in self._read(project_key, name, {"files": files})),
                        "columns": [c.to_wire() for c in merged],
                        "time": now_ms(),
                        "job": None,
                    }
                },
            )
        return len(records)

    def clear(self, project_key: str, name: str, partitions: list[str] | None) -> list[str]:
        """Remove the data of `partitions` (all of them when None); returns the partitions that held data."""
        with self._lock:
            doc = self.docs.get(KIND, f"{project_key}.{name}", scope=project_key)
            if doc is None:
                return []
            held = dict(doc.body["partitions"])
            gone = {p: held.pop(p) for p in (partitions if partitions is not None else list(held)) if p in held}
            self.docs.update(KIND, doc.id, partitions=held)
        self._discard(project_key, name, gone)
        return sorted(gone)

    def _write(self, project_key: str, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._write_locked(project_key, name, changes)

    def _write_locked(self, project_key: str, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Set partitions of the dataset's document; returns what they held before."""
        doc_id = f"{project_key}.{name}"
        doc = self.docs.get(KIND, doc_id, scope=project_key)
        if doc is None:
            self.docs.insert(KIND, doc_id, {"name": name, "partitions": changes}, scope=project_key)
            return {}
        held = dict(doc.body["partitions"])
        old = {p: held[p] for p in changes if p in held}
        self.docs.update(KIND, doc_id, partitions={**held, **changes})
        return old

    def _discard(self, project_key: str, name: str, partitions: dict[str, Any]) -> None:
        """Delete what replaced or cleared partitions held: the artifact of their build, their uploaded files."""
        for info in partitions.values():
            if info.get("artifact"):
                with contextlib.suppress(NotFound):  # gone already
                    self.service.delete_artifact(info["artifact"], by="dataiku")
            if info.get("files"):
                shutil.rmtree(self._folder(project_key, name), ignore_errors=True)

    def _folder(self, project_key: str, name: str) -> Path:
        return self.uploads / project_key / name

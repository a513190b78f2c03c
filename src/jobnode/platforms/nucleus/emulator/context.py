"""The Nucleus side of the local service: datasets, their items and annotations, uploads, and the Nucleus side of
each async job, kept beside the engine's jobs; and the translation of an engine job into a Nucleus job.

How Nucleus maps onto the local service:

- **Datasets** are documents; `dataset/create` makes one (`ds_...`). Items are named by their `reference_id`,
  annotations by their item's reference id and their `annotation_id`.
- **Uploads** go where the SDK is told to (`signed_url`, valid one hour, signed by the service, no API key): a
  newline-delimited JSON file per request id. Local images come as multipart instead and are stored as files.
- **Async jobs** (`append`, `annotate`) are jobs of the service over the uploaded lines, one engine item each, run
  by the steps `nucleus_append` and `nucleus_annotate` (`emulator/steps.py`). An annotate checks each annotation's
  reference id against the dataset's items as they are when it is submitted (so an append still running does not
  count yet, which is why the seed waits for the append first). What passes is stored into the dataset once the
  job has ended; `update` says whether a reference id (and annotation id) that exists gets the new payload.
- **Status**: `Running` until the job has ended and its results are stored (never `Queued`, on which the SDK's
  waiter stops at once); then `Completed`, `Errored_Partial` (some failed), `Errored_User` (all failed),
  `Errored_Server` (the service could not run it) or `Errored_Hanging` (timed out). Counters: `total_steps` is the
  number of items or annotations, `completed_steps` those checked, `job_progress` their fraction (strings).
- **Errors** are the job's item errors, newest first, up to 10,000: the seed's JSON strings.
- **Listing** (`POST jobs/`) is newest first; `from_date` and `to_date` are inclusive (ISO 8601 dates or times).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from jobnode.core.models import DelimitedInput, ItemsInput, JobSpec, JobState
from jobnode.platforms.nucleus import wire
from jobnode.platforms.nucleus.emulator.steps import ANNOTATE_STEP, APPEND_STEP
from jobnode.platforms.nucleus.mapping import format_time, parse_time
from jobnode.service.emulation import Document, JobService, ServiceError, validation_error
from jobnode.service.views import JobRecord

BATCH_SIZE = 100
WORKERS = 2
UPLOAD_URL_LIFETIME_MS = 3600 * 1000
#: the most ids `JobService.get_many` reads at once
_READ_CHUNK = 10_000
_STEPS = {wire.APPEND_JOB: APPEND_STEP, wire.ANNOTATE_JOB: ANNOTATE_STEP}
_NOUNS = {wire.APPEND_JOB: "items", wire.ANNOTATE_JOB: "annotations"}
M = TypeVar("M", bound=BaseModel)


def now_ms() -> int:
    return int(time.time() * 1000)


def bad(message: str, status: int = 400) -> ServiceError:
    """A Nucleus error answer (`{"status_code", "error"}`) with `status`."""
    return ServiceError(message, status=status)


def new_id(prefix: str) -> str:
    """An id in Nucleus's form: `job_` / `ds_` and 20 lowercase letters and digits."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _key(*parts: str) -> str:
    """A document id made of several names, none of which can be confused with another (`/` may be in them)."""
    return json.dumps(parts, separators=(",", ":"))


def validated(model: type[M], value: Any) -> M:
    """A request body (already parsed JSON) as `model`; what is wrong is a 400 naming each field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise validation_error(list(exc.errors()), status=400) from None


def parse_units(content: bytes, field: str) -> list[Any]:
    """The JSON values of a newline-delimited file (blank lines skipped); a bad line is a 400 naming it."""
    units = []
    for number, line in enumerate(content.splitlines(), 1):
        if line.strip():
            try:
                units.append(json.loads(line))
            except ValueError:
                raise bad(f"{field}: line {number} of the upload is not JSON; write one JSON object per line") from None
    if not units:
        raise bad(f"{field}: the upload holds nothing; write one JSON object per line")
    return units


class Nucleus:
    """Nucleus's records and translations over a `JobService`."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self.records = service.documents("nucleus")
        workspace = service.workspace("nucleus")
        self.uploads_dir = workspace / "uploads"
        self.images_dir = workspace / "images"
        self._signing_key = secrets.token_bytes(32)
        self._settling = threading.Lock()

    # -- datasets -----------------------------------------------------------------------------------------------

    def create_dataset(self, request: wire.CreateDatasetRequest) -> Document:
        if request.is_scene:
            raise bad("is_scene: this service keeps datasets of items only; create it with is_scene=False")
        body = {"name": request.name, "is_scene": False, "use_privacy_mode": request.use_privacy_mode}
        return self.records.insert("dataset", new_id("ds"), {**body, "created": now_ms()})

    def dataset(self, dataset_id: str) -> Document:
        found = self.records.get("dataset", dataset_id)
        if found is None:
            raise bad(f"dataset_id: no dataset {dataset_id!r}; create one with dataset/create", 404)
        return found

    def datasets(self) -> list[Document]:
        return self.records.all("dataset")

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with its items and annotations (its jobs stay listed, as their records)."""
        self.dataset(dataset_id)
        for kind in ("item", "annotation"):
            for doc in self.records.all(kind, scope=dataset_id):
                self.records.delete(kind, doc.id)
        self.records.delete("dataset", dataset_id)

    def items(self, dataset_id: str) -> list[dict[str, Any]]:
        self.dataset(dataset_id)
        self.settle_dataset(dataset_id)
        return [doc.body for doc in self.records.all("item", scope=dataset_id)]

    def item(self, dataset_id: str, reference_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """An item and its annotations."""
        self.dataset(dataset_id)
        self.settle_dataset(dataset_id)
        doc = self.records.get("item", _key(dataset_id, reference_id), scope=dataset_id)
        if doc is None:
            raise bad(f"reference_id: dataset {dataset_id} has no item {reference_id!r}", 404)
        annotations = self.records.all("annotation", scope=dataset_id, where={"reference_id": reference_id})
        return doc.body, [a.body for a in annotations]

    # -- uploads ------------------------------------------------------------------------------------------------

    def _signature(self, dataset_id: str, request_id: str, expires: int) -> str:
        message = f"{dataset_id}:{request_id}:{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def signed_url(self, origin: str, dataset_id: str, request_id: str) -> str:
        """Where the SDK PUTs the file of `request_id`: at the root of the port, outside the API (as cloud storage
        is), signed, valid for an hour."""
        self.dataset(dataset_id)
        expires = now_ms() + UPLOAD_URL_LIFETIME_MS
        signature = self._signature(dataset_id, request_id, expires)
        return f"{origin}/uploads/{dataset_id}/{request_id}?expires={expires}&signature={signature}"

    def _upload_path(self, dataset_id: str, request_id: str) -> Path:
        return self.uploads_dir / dataset_id / f"{request_id}.ndjson"

    def receive_upload(self, dataset_id: str, request_id: str, expires: int, signature: str, content: bytes) -> None:
        expected = self._signature(dataset_id, request_id, expires).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
            raise bad("signature: wrong; upload to the signed URL exactly as it was given", 403)
        if expires < now_ms():
            raise bad("expires: the signed URL has expired; ask for a new one (dataset/{id}/signedUrl/...)", 403)
        path = self._upload_path(dataset_id, request_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)

    def uploaded(self, dataset_id: str, request_id: str) -> tuple[list[Any], Path]:
        """The units of an uploaded file, and the file."""
        path = self._upload_path(dataset_id, request_id)
        if not path.exists():
            raise bad(
                f"requestId: nothing was uploaded for request {request_id!r} of dataset {dataset_id}; PUT the file to "
                "the URL of dataset/{id}/signedUrl/{requestId} first"
            )
        return parse_units(path.read_bytes(), "requestId"), path

    def store_image(self, dataset_id: str, name: str, content: bytes) -> str:
        """Keep an uploaded local image; its URI becomes the item's `image_url`."""
        folder = self.images_dir / dataset_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (hashlib.sha256(content).hexdigest() + Path(name).suffix[:10])
        path.write_bytes(content)
        return path.as_uri()

    # -- jobs ---------------------------------------------------------------------------------------------------

    def start(self, dataset_id: str, job_type: str, units: list[Any], *, update: bool, source: Path | None) -> Document:
        """Run an append or an annotate of `units` on the engine; returns the job's record."""
        self.dataset(dataset_id)
        if job_type == wire.APPEND_JOB:
            items = [_labelled(u, {"item": u}) for u in units]
        else:
            self.settle_dataset(dataset_id)
            known = {doc.body.get("reference_id") for doc in self.records.all("item", scope=dataset_id)}
            items = [
                _labelled(u, {"annotation": u, "item_exists": isinstance(u, dict) and u.get("reference_id") in known})
                for u in units
            ]
        spec = JobSpec(
            name=f"{job_type} {dataset_id}",
            step=_STEPS[job_type],
            # where the units came from (the uploaded file); they are given to the engine as they are
            input=DelimitedInput(paths=[str(source)]) if source is not None else ItemsInput(items=units),
            batch_size=BATCH_SIZE,
            workers=WORKERS,
            max_item_failures=len(units),  # an upload error fails that item or annotation only
            tags=["nucleus", dataset_id],
        )
        record = self.service.submit(spec, items=items).record
        body = {"job_type": job_type, "created": now_ms(), "update": update, "settled": False}
        return self.records.insert("job", new_id("job"), body, scope=dataset_id, job_id=record.id)

    def job(self, job_id: str) -> tuple[Document, JobRecord]:
        """A job's record and its engine job (settled), or 404."""
        doc = self.records.get("job", job_id)
        record = self.service.find(doc.job_id) if doc is not None and doc.job_id else None
        if doc is None or record is None:
            raise bad(f"job_id: no job {job_id!r}; list jobs with POST jobs/", 404)
        return self.settle(doc, record), record

    def settle(self, doc: Document, record: JobRecord) -> Document:
        """Store what a job that has ended uploaded into its dataset, once (its results: what passed the checks)."""
        if doc.body["settled"] or not record.is_terminal:
            return doc
        with self._settling:
            current = self.records.get("job", doc.id)
            if current is None or current.body["settled"]:
                return current or doc
            dataset_id = doc.scope
            results = [json.loads(line) for out in record.outputs for line in self.service.artifact_lines(out.id)]
            if doc.body["job_type"] == wire.APPEND_JOB:
                kind = "item"
                bodies = {
                    _key(dataset_id, r["reference_id"]): {**r, "dataset_item_id": _item_id(dataset_id, r)}
                    for r in results
                }
            else:
                kind = "annotation"
                bodies = {_key(dataset_id, r["reference_id"], _annotation_id(r)): r for r in results}
            if self.records.get("dataset", dataset_id) is not None:  # a deleted dataset takes nothing in
                self.records.put_many(kind, bodies, scope=dataset_id, replace=doc.body["update"])
            settled = self.records.update("job", doc.id, settled=True)
            return settled or doc

    def settle_dataset(self, dataset_id: str) -> None:
        """Settle the dataset's jobs that have ended, so that what they uploaded is there to read."""
        docs = self.records.all("job", scope=dataset_id, where={"settled": False})
        for doc, record in self._with_records(docs):
            self.settle(doc, record)

    def _with_records(self, docs: list[Document]) -> Iterable[tuple[Document, JobRecord]]:
        ids = [d.job_id for d in docs if d.job_id]
        records: dict[str, JobRecord] = {}
        for start in range(0, len(ids), _READ_CHUNK):
            records.update((r.id, r) for r in self.service.get_many(ids[start : start + _READ_CHUNK]))
        return [(d, records[d.job_id]) for d in docs if d.job_id in records]

    def info(self, doc: Document, record: JobRecord) -> wire.JobInfo:
        return wire.JobInfo(
            job_id=doc.id,
            job_last_known_status=status(doc, record).status,
            job_type=doc.body["job_type"],
            job_creation_time=creation_time(doc),
        )

    def list_jobs(self, request: wire.JobInfoRequest) -> list[wire.JobInfo]:
        """The jobs a `POST jobs/` asks for, newest first."""
        job_types = request.job_types or []
        unknown = [t for t in job_types if t not in wire.JOB_TYPES]
        if unknown:
            raise bad(f"job_types: unknown job types {', '.join(unknown)}; use some of {', '.join(wire.JOB_TYPES)}")
        since = _bound(request.from_date, "from_date")
        until = _bound(request.to_date, "to_date")
        docs = self.records.all("job", scope=request.dataset_id) if request.dataset_id else self.records.all("job")
        found = []
        for doc, record in self._with_records(docs):
            if job_types and doc.body["job_type"] not in job_types:
                continue
            created = doc.body["created"]
            if (since is not None and created < since) or (until is not None and created > until):
                continue
            info = self.info(self.settle(doc, record), record)
            if request.show_completed or info.job_last_known_status != wire.COMPLETED:
                found.append((created, doc.seq, info))
        found.sort(key=lambda f: (f[0], f[1]), reverse=True)
        return [info for _, _, info in found[: request.limit]]

    def errors(self, doc: Document) -> list[str]:
        """The job's upload errors, newest first (Nucleus keeps the 10,000 most recent)."""
        assert doc.job_id is not None
        return [e.message for e in self.service.errors(doc.job_id, limit=wire.ERRORS_MAX)]


def _labelled(unit: Any, item: dict[str, Any]) -> dict[str, Any]:
    """An engine item named by the unit's reference id in the job's logs (when it has one)."""
    ref = unit.get("reference_id") if isinstance(unit, dict) else None
    return {"id": ref, **item} if isinstance(ref, str) and ref else item


def _item_id(dataset_id: str, item: dict[str, Any]) -> str:
    return "di_" + hashlib.sha256(_key(dataset_id, item["reference_id"]).encode()).hexdigest()[:20]


def _annotation_id(annotation: dict[str, Any]) -> str:
    """Its `annotation_id`; one without is named by its content (settling again stores it once)."""
    given = annotation.get("annotation_id")
    if isinstance(given, str) and given:
        return given
    return "ann_" + hashlib.sha256(json.dumps(annotation, sort_keys=True).encode()).hexdigest()[:20]


def _bound(text: str | None, field: str) -> int | None:
    """A date bound in epoch milliseconds (a date alone is its midnight, UTC)."""
    if text is None:
        return None
    when = parse_time(text)
    if when is None:
        raise bad(f"{field}: {text!r} is not a date; use YYYY-MM-DD or an ISO 8601 time")
    return int(when.timestamp() * 1000)


def creation_time(doc: Document) -> str:
    return format_time(datetime.fromtimestamp(doc.body["created"] / 1000, UTC))


def status(doc: Document, record: JobRecord) -> wire.JobStatus:
    """A job's Nucleus status (see the module's docstring); `doc` says whether its results are stored yet."""
    total = record.items_total
    done = record.items_processed + record.items_failed
    failed = record.items_failed
    noun = _NOUNS.get(doc.body["job_type"], "items")
    state = record.state
    message = f"{done} of {total} {noun} processed"
    if not record.is_terminal or not doc.body["settled"]:
        value = wire.RUNNING
    elif state is JobState.SUCCEEDED and not failed:
        value, message = wire.COMPLETED, "Job completed successfully."
    elif state is JobState.SUCCEEDED:
        value = wire.ERRORED_USER if failed == total else wire.ERRORED_PARTIAL
        message = f"{failed} of {total} {noun} failed; see the job's errors"
    elif state is JobState.CANCELLED:
        value, message = wire.CANCELLED, record.reason or "Job cancelled"
    elif state is JobState.TIMED_OUT:
        value, message = wire.ERRORED_HANGING, record.reason or "Job timed out"
    else:
        value, message = wire.ERRORED_SERVER, record.reason or "Job failed"
    return wire.JobStatus(
        job_id=doc.id,
        status=value,
        message=message,
        job_progress=f"{done / total:.2f}" if total else "0.00",
        completed_steps=str(done),
        total_steps=str(total),
    )

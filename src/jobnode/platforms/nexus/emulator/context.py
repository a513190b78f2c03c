"""The Nexus side of the local service: Nexus's records (datasets, webhooks, the Nexus side of each batch job) kept
beside the engine's jobs, and the translation of an engine job into a Nexus batch job.

How Nexus maps onto the local service:

- **Projects** need no creating: any `proj_...` id is a project; each sees only its own records.
- **Datasets** are uploaded to a URL signed by the service (valid one hour); each line of the newline-delimited
  JSON file is an item. A file whose size or CRC32C differs from what was declared is `FailedUpload`; a line that
  is not JSON makes it `FailedProcessing`.
- **Deployments and artifacts** are the service's processing steps: `deploy_<step>` (an existing deployment) and
  `artifact_<step>` (deployed for the job) run the registered step `<step>`; `deploy_<step>@<version>` pins a
  version. Steps run with their default parameters.
- **Batch jobs** are jobs of the service over the dataset's items; an item failure fails that item only.
- **Webhooks** receive the results as the service delivers them (signed with the webhook's secret, its base64 text,
  retried `maxRetries` times). `Delivered` counts the items delivered; `FailedDeliver` counts the items whose results
  could not be delivered, including those that failed before (so `Delivered + FailedDeliver` reaches the dataset's
  `itemCount` once the job is done, which is what Datature's waiter waits for, and not before its final overview).
  A job without a webhook keeps its results in the service's `results` artifact and counts them as delivered.
- **Status**: `Waiting` while the job is scheduled, queued or running; `Reached` when it finished; `Failed` when it
  was cancelled (`cancelledAt` is set), passed its stop time, failed, or delivered nothing.
- **Cancel** is `PATCH {"spec": {"stopAtTime": now}}`; a stop time in the future is refused (400).
  **Delete** cancels a job that is still running, then deletes it and its results.
- **Logs** are the service's entries, newest first; `afterTime` and `beforeTime` are inclusive milliseconds;
  `minLevel` is `Debug`, `Info`, `Warning` or `Error`; `maxEntries` is at most 1,000.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobnode.core.backend import LogQuery
from jobnode.core.models import DelimitedInput, JobSpec, JobState, LogLevel
from jobnode.core.models import Webhook as EngineWebhook
from jobnode.platforms.nexus import wire
from jobnode.platforms.nexus.checksum import crc32c_base64
from jobnode.platforms.nexus.mapping import ARTIFACT_PREFIX, DEPLOYMENT_PREFIX, from_ms
from jobnode.service.emulation import Document, JobService, LogShape, NotFound, ServiceError, Unprocessable
from jobnode.service.steps import Step
from jobnode.service.views import JobRecord

#: batches of a Nexus job: small, so that a batch's log entries (which share one time) stay far below the 1,000
#: entries a log page holds, which Nexus's time-based log paging needs
BATCH_SIZE = 50
WORKERS = 4
DATASET_LIFETIME_MS = 7 * 24 * 3600 * 1000
UPLOAD_URL_LIFETIME_MS = 3600 * 1000
#: a stop time this far ahead of the service's clock still counts as "now" (the caller's clock may be ahead)
CANCEL_SKEW_MS = 5000
#: a Nexus log entry, as SQLite renders it
LOG_SHAPE = LogShape(
    (
        ("kind", "kind"),
        ("createTime", "time_ms"),
        ("id", "id"),
        ("level", "level_title"),
        ("item", "item_or_empty"),
        ("status", "status_or_empty"),
        ("timeMs", "duration_ms_or_zero"),
        ("reason", "message_or_empty"),
    )
)
_WAITING_MESSAGES = {
    JobState.CREATED: "Queued",
    JobState.SCHEDULED: "Waiting for the start time",
    JobState.QUEUED: "Queued",
}


def now_ms() -> int:
    """The service's clock in epoch milliseconds, the unit of every Nexus time."""
    return int(time.time() * 1000)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def bad(message: str, status: int = 400) -> ServiceError:
    """A Nexus error answer: `{"message": ...}` with `status`."""
    return ServiceError(message, status=status)


class Nexus:
    """Nexus's records and translations over a `JobService`."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self.records = service.documents("nexus")
        self.datasets_dir = service.workspace("nexus") / "datasets"
        self.datasets_dir.mkdir(exist_ok=True)
        self._signing_key = secrets.token_bytes(32)

    # -- deployments ------------------------------------------------------------------------------------------

    def step_for(self, ref: str, field: str) -> Step:
        """The processing step a deployment or artifact id names (`deploy_<step>[@<version>]`)."""
        for prefix in (DEPLOYMENT_PREFIX, ARTIFACT_PREFIX):
            if ref.startswith(prefix):
                name, _, version = ref[len(prefix) :].partition("@")
                try:
                    return self.service.step(name, version or None)
                except Unprocessable as exc:
                    if exc.field == "step_version":
                        raise bad(f"{field}: {ref!r} is not deployed here: {exc.message}", 404) from None
                break
        known = ", ".join(sorted({f"{DEPLOYMENT_PREFIX}{s.name}" for s in self.service.steps()})) or "none"
        raise bad(
            f"{field}: {ref!r} is not deployed here; this service runs each processing step <step> as the deployment "
            f"deploy_<step> (or the artifact artifact_<step>): {known}",
            404,
        )

    # -- datasets ---------------------------------------------------------------------------------------------

    def dataset(self, project_id: str, dataset_id: str) -> Document:
        found = self.records.get("dataset", dataset_id, scope=project_id)
        if found is None:
            raise bad(f"Dataset not found: no dataset {dataset_id!r} in project {project_id}", 404)
        return found

    def dataset_path(self, dataset_id: str) -> Path:
        return self.datasets_dir / f"{dataset_id}.ndjson"

    def dataset_json(self, doc: Document, base_url: str) -> dict[str, Any]:
        body = doc.body
        expires = body["created"] + UPLOAD_URL_LIFETIME_MS
        query = f"expires={expires}&signature={self._signature(doc.id, expires)}"
        return wire.Dataset(
            id=doc.id,
            name=body["name"],
            project_id=doc.scope,
            expiry_time=body["expires"],
            status=wire.DatasetStatus(
                overview=body["overview"],
                message=body["message"],
                update_time=body["updated"],
                source=wire.DatasetSource(
                    kind=wire.NDJSON_SOURCE,
                    upload_url=wire.UploadUrl(
                        method="PUT",
                        url=f"{base_url}/uploads/{doc.id}?{query}",
                        headers={"Content-Type": "application/x-ndjson"},
                        expires_at_time=expires,
                    ),
                ),
                item_count=body["item_count"],
            ),
            create_date=body["created"],
            update_date=body["updated"],
        ).to_wire()

    def create_dataset(self, project_id: str, request: wire.CreateDatasetRequest) -> Document:
        if request.spec.source.kind != wire.NDJSON_SOURCE:
            raise bad(f"spec.source.kind: only {wire.NDJSON_SOURCE} is supported")
        now = now_ms()
        body = {
            "name": request.name,
            "size_bytes": request.spec.source.size_bytes,
            "crc32c": request.spec.source.crc32c,
            "overview": wire.DATASET_UPLOADING,
            "message": "Waiting for the file to be uploaded",
            "item_count": 0,
            "created": now,
            "updated": now,
            "expires": now + DATASET_LIFETIME_MS,
        }
        return self.records.insert("dataset", f"dataset_{uuid.uuid4()}", body, scope=project_id)

    def delete_dataset(self, project_id: str, dataset_id: str) -> None:
        self.dataset(project_id, dataset_id)
        self.records.delete("dataset", dataset_id)
        self.dataset_path(dataset_id).unlink(missing_ok=True)

    def _signature(self, dataset_id: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{dataset_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def check_upload(self, dataset_id: str, expires: int, signature: str) -> Document:
        expected = self._signature(dataset_id, expires).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
            raise bad("the upload URL's signature is wrong; upload to the URL the dataset names", 403)
        if expires < now_ms():
            raise bad("the upload URL has expired; create the dataset again", 403)
        doc = self.records.get("dataset", dataset_id)
        if doc is None:
            raise bad(f"Dataset {dataset_id} not found", 404)
        if doc.body["overview"] != wire.DATASET_UPLOADING:
            raise bad(f"dataset {dataset_id} is {doc.body['overview']}; it can be uploaded once", 409)
        return doc

    def receive_upload(self, doc: Document, content: bytes) -> None:
        """Check the file against what the dataset declared, then read its items."""
        declared_size, declared_crc = doc.body["size_bytes"], doc.body["crc32c"]
        if len(content) != declared_size or crc32c_base64(content) != declared_crc:
            self._dataset_state(
                doc.id,
                wire.DATASET_FAILED_UPLOAD,
                f"the file ({len(content)} bytes) is not the one declared ({declared_size} bytes, crc32c "
                f"{declared_crc}); create the dataset again with the file's size and CRC32C",
            )
            raise bad("the uploaded file does not match the dataset's sizeBytes and crc32c")
        try:
            count = sum(1 for _ in items_of(content))
        except ValueError as exc:
            self._dataset_state(doc.id, wire.DATASET_FAILED_PROCESSING, str(exc))
            raise bad(str(exc)) from None
        if not count:
            self._dataset_state(doc.id, wire.DATASET_FAILED_PROCESSING, "the file holds no items")
            raise bad("the file holds no items: write one JSON value per line")
        path = self.dataset_path(doc.id)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        self._dataset_state(doc.id, wire.DATASET_UPLOADED, f"{count} items", item_count=count)

    def _dataset_state(self, dataset_id: str, overview: str, message: str, **values: Any) -> None:
        self.records.update("dataset", dataset_id, overview=overview, message=message, updated=now_ms(), **values)

    # -- webhooks ---------------------------------------------------------------------------------------------

    def webhook(self, project_id: str, webhook_id: str, field: str | None = None) -> Document:
        found = self.records.get("webhook", webhook_id, scope=project_id)
        if found is None:
            where = f"{field}: " if field else ""
            raise bad(f"{where}Webhook not found: no webhook {webhook_id!r} in project {project_id}", 404)
        return found

    @staticmethod
    def webhook_json(doc: Document) -> dict[str, Any]:
        body = doc.body
        return wire.Webhook(
            id=doc.id,
            project_id=doc.scope,
            name=body["name"],
            endpoint=body["endpoint"],
            retries=wire.WebhookRetries(max_retries=body["max_retries"], max_backoff_ms=body["max_backoff_ms"]),
            create_date=body["created"],
            update_date=body["updated"],
        ).to_wire()

    # -- jobs -------------------------------------------------------------------------------------------------

    def create_job(self, project_id: str, request: wire.CreateJobRequest) -> Document:
        spec = request.spec
        if not spec.dataset_id:
            raise bad("spec.datasetId: a batch job runs over a dataset; name one (dataset_...)")
        dataset = self.records.get("dataset", spec.dataset_id, scope=project_id)
        if dataset is None:
            raise bad(f"spec.datasetId: Dataset {spec.dataset_id} not found in project {project_id}", 404)
        if dataset.body["overview"] != wire.DATASET_UPLOADED:
            raise bad(f"spec.datasetId: dataset {spec.dataset_id} is {dataset.body['overview']}; upload it first")
        destinations = spec.result_delivery.destinations
        if len(destinations) > 1:
            raise bad("spec.resultDelivery.destinations: this service delivers to one webhook")
        engine_webhook = None
        if destinations:
            hook = self.webhook(
                project_id, destinations[0].webhook_id or "", field="spec.resultDelivery.destinations.0.webhookId"
            )
            engine_webhook = EngineWebhook(
                url=hook.body["endpoint"], secret=hook.body["secret"], max_attempts=hook.body["max_retries"] + 1
            )
        deployment = spec.deployment
        if isinstance(deployment, wire.ExistingDeployment):
            step = self.step_for(deployment.deployment_id, "spec.deployment.deploymentId")
        else:
            step = self.step_for(deployment.template.artifact_id or "", "spec.deployment.template.artifactId")
        try:
            step.params_model.model_validate({})
        except ValidationError:
            raise bad(f"spec.deployment: step {step.name!r} needs parameters, which a Nexus job cannot give") from None
        path = self.dataset_path(dataset.id)
        items = list(items_of(path.read_bytes()))
        try:
            engine_spec = JobSpec(
                name=request.name,
                step=step.name,
                step_version=step.version,
                # the dataset's file, which the items were read from: a spec that names it stays small
                input=DelimitedInput(paths=[str(path)]),
                batch_size=BATCH_SIZE,
                workers=WORKERS,
                max_item_failures=len(items),  # on Nexus an item failure fails that item only
                start_at=from_ms(spec.start_at_time),
                stop_at=from_ms(spec.stop_at_time),
                tags=["nexus", project_id],
                webhook=engine_webhook,
            )
        except ValidationError as exc:  # the one rule left to check: the stop time comes after the start time
            raise bad(f"spec.stopAtTime: {exc.errors()[0]['msg']}") from None
        record = self.service.submit(engine_spec, items=items).record
        return self.records.insert(
            "job",
            f"batchjob_{uuid.uuid4()}",
            {"spec": spec.to_wire(), "cancelled_at": None},
            scope=project_id,
            job_id=record.id,
        )

    def job(self, project_id: str, job_id: str) -> tuple[Document, JobRecord]:
        """A batch job's record and its job, or 404."""
        doc = self.records.get("job", job_id, scope=project_id)
        record = self.service.find(doc.job_id) if doc is not None and doc.job_id else None
        if doc is None or record is None:
            raise bad(f"Batch job not found: no job {job_id!r} in project {project_id}", 404)
        return doc, record

    def job_json(self, doc: Document, record: JobRecord) -> dict[str, Any]:
        spec = wire.BatchJobSpec.model_validate(doc.body["spec"])
        return wire.BatchJob(
            id=doc.id,
            name=record.name,
            project_id=doc.scope,
            spec=spec,
            status=status(record, doc.body.get("cancelled_at"), has_webhook=bool(spec.result_delivery.destinations)),
            create_date=_ms(record.created_at) or 0,
            update_date=_ms(record.updated_at) or 0,
        ).to_wire()

    def jobs_json(self, docs: list[Document]) -> list[dict[str, Any]]:
        """Many batch jobs at once (one read of their jobs)."""
        records = {r.id: r for r in self.service.get_many([d.job_id for d in docs if d.job_id])}
        return [self.job_json(d, records[d.job_id]) for d in docs if d.job_id in records]

    def cancel_job(self, doc: Document, record: JobRecord, stop_at: int) -> None:
        now = now_ms()
        if stop_at > now + CANCEL_SKEW_MS:
            raise bad("spec.stopAtTime: this service can only move a job's stop time to now, which cancels it")
        if record.is_terminal:
            return
        reason = f"BatchJob not completed before defined stop time due to requested cancellation at {now}"
        after = self.service.cancel(record.id, reason=reason)
        if after.state is JobState.CANCELLED and after.reason == reason:
            spec = dict(doc.body["spec"])
            spec["stopAtTime"] = min(stop_at, now)
            self.records.update("job", doc.id, cancelled_at=now, spec=spec)

    def delete_job(self, doc: Document, record: JobRecord) -> None:
        self.service.cancel(record.id, reason="deleted")
        plan = self.service.delete(record.id, delete_outputs=True, by="nexus")
        if not plan.allowed:
            reasons = "; ".join(b.reason for b in plan.blockers)
            raise bad(f"batch job {doc.id} cannot be deleted: {reasons}", 409)
        self.records.delete("job", doc.id)

    def logs_json(
        self,
        doc: Document,
        record: JobRecord,
        *,
        after: int | None,
        before: int | None,
        level: LogLevel | None,
        max_entries: int,
    ) -> str:
        """A `JobLogs` body: the entries between two inclusive millisecond times, newest first."""
        query = LogQuery(
            # inclusive milliseconds as the exclusive times of the service
            after_time=_exclusive(after, -1) if after is not None else None,
            before_time=_exclusive(before + 1, 0) if before is not None else None,
            min_level=level,
            limit=max_entries,
            order="desc",
        )
        entries, _ = self.service.log_entries_json(record.id, query, LOG_SHAPE)
        log_id = "batchjoblog_" + doc.id.removeprefix("batchjob_")
        head = json.dumps({"id": log_id, "object": "batch_job_log", "projectId": doc.scope})
        return f'{head[:-1]},"entries":[{",".join(entries)}]}}'


def _exclusive(ms: int, micros: int) -> datetime:
    """The time `ms` milliseconds plus `micros` microseconds after the epoch."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms, microseconds=micros)


def status(record: JobRecord, cancelled_at: int | None, *, has_webhook: bool) -> wire.JobStatus:
    """A job's Nexus status: its overview and item counters (see the module's docstring)."""
    state = record.state
    total, processed, failed = record.items_total, record.items_processed, record.items_failed
    ended = state.is_terminal
    if has_webhook:
        delivered = record.items_delivered
        # items that failed before delivery never reach the webhook: they failed to be delivered
        failed_deliver = record.items_failed_delivery + failed
    else:
        delivered, failed_deliver = processed, failed
    if ended and state not in (JobState.CANCELLED, JobState.TIMED_OUT):
        failed_deliver = total - delivered  # every item is settled once the job has ended
    elif not ended and total and delivered + failed_deliver >= total:
        # Items settle with the job: the counters complete only together with the final overview, so that a waiter
        # that stops on them (Datature's does) reads a finished job, not the "Waiting" of the moment before the
        # service ends it. One item is held back meanwhile (for a few milliseconds).
        if failed_deliver:
            failed_deliver = total - delivered - 1
        else:
            delivered = total - 1
    # the items of batches in flight are with the model: preprocessed, not yet predicted
    in_flight = record.batches_running * BATCH_SIZE if state is JobState.RUNNING else 0
    items = wire.ItemCounts(
        gathered=0 if state is JobState.SCHEDULED else total,
        preprocessed=min(total, processed + failed + in_flight),
        predicted=processed,
        failed_predict=failed,
        delivered=delivered,
        failed_deliver=failed_deliver,
    )
    overview, message, reason = wire.WAITING, _WAITING_MESSAGES.get(state, "Running"), None
    if state is JobState.CANCELLED:
        overview, message, reason = wire.FAILED, "Batch job cancelled", record.reason
    elif state is JobState.TIMED_OUT:
        overview, message = wire.FAILED, "Batch job stopped"
        reason = "BatchJob not completed before defined stop time"
    elif state is JobState.FAILED:
        overview, message, reason = wire.FAILED, "Batch job failed", record.reason
    elif ended and total and not delivered:
        overview, message = wire.FAILED, "Batch job failed"
        reason = f"none of the {total} items was delivered ({failed} failed to predict)"
    elif ended:
        overview, message = wire.REACHED, "Finished"
    return wire.JobStatus(
        overview=overview,
        message=message,
        update_date=_ms(record.updated_at) or 0,
        items=items,
        reason=reason,
        cancelled_at=cancelled_at,
    )


def items_of(content: bytes) -> Any:
    """Each item of a newline-delimited JSON file (blank lines are skipped); a bad line raises `ValueError`."""
    for number, line in enumerate(content.splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise ValueError(f"line {number} is not valid JSON ({exc}); write one JSON value per line") from None


def parse_level(value: str | None) -> LogLevel | None:
    if value is None:
        return None
    try:
        return LogLevel(value.strip().lower())
    except ValueError:
        raise bad(f"minLevel: unknown level {value!r}; use Debug, Info, Warning or Error") from None


__all__ = ["Nexus", "NotFound", "bad", "items_of", "now_ms", "parse_level", "status"]

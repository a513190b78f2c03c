"""A Datature Nexus batch API served by the local job service: `jobnode serve --platform nexus`.

Datature's own SDK, unmodified, runs against it (point it there with `Client(key, endpoint=url)`, or
`DATATURE_API_BASE_URL` set before importing `datature.nexus`). The SDK drops any path of its base URL, so the routes
are at the root of their own port: one platform per port.

How Nexus maps onto the local engine:

- **Projects** need no creating: any `proj_...` id is a project; each sees only its own records.
- **Datasets** are uploaded to a URL signed by the service (valid one hour); each line of the newline-delimited
  JSON file is an item. A file whose size or CRC32C differs from what was declared is `FailedUpload`; a line that
  is not JSON makes it `FailedProcessing`.
- **Deployments and artifacts** are the service's processing steps: `deploy_<step>` (an existing deployment) and
  `artifact_<step>` (deployed for the job) run the registered step `<step>`; `deploy_<step>@<version>` pins a
  version. Steps run with their default parameters.
- **Batch jobs** are engine jobs over the dataset's items; an item failure fails that item only.
- **Webhooks** receive the results as the engine delivers them (signed with the webhook's secret, its base64 text,
  retried `maxRetries` times). `Delivered` counts the items delivered; `FailedDeliver` counts the items whose results
  could not be delivered, including those that failed before (so `Delivered + FailedDeliver` reaches the dataset's
  `itemCount` once the job is done, which is what Datature's waiter waits for, and not before its final overview).
  A job without a webhook keeps its results in the engine's `results` artifact and counts them as delivered.
- **Status**: `Waiting` while the engine job is scheduled, queued or running; `Reached` when it finished;
  `Failed` when it was cancelled (`cancelledAt` is set), passed its stop time, failed, or delivered nothing.
- **Cancel** is `PATCH {"spec": {"stopAtTime": now}}`; a stop time in the future is refused (400).
  **Delete** cancels a job that is still running, then deletes it and its results.
- **Logs** are the engine's entries, newest first; `afterTime` and `beforeTime` are inclusive milliseconds;
  `minLevel` is `Debug`, `Info`, `Warning` or `Error`; `maxEntries` is at most 1,000.
- **Errors** are `{"message": ...}`: 400 for bad input (naming the field), 403 for a wrong `Secret-Key` (when the
  service has a token, the secret key must be that token), 404 for unknown ids, 429 with `Retry-After` when the
  optional rate limit (`JOBNODE_NEXUS_RATE_LIMIT` requests per second per key) is exceeded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
import uuid
from typing import Annotated, Any

import httpx
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobnode.core.models import DelimitedInput, JobSpec
from jobnode.core.models import Webhook as EngineWebhook
from jobnode.platforms.nexus import wire
from jobnode.platforms.nexus.checksum import crc32c_base64
from jobnode.platforms.nexus.mapping import ARTIFACT_PREFIX, DEPLOYMENT_PREFIX, from_ms
from jobnode.platforms.nexus.records import Records
from jobnode.service.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from jobnode.service.engine import ACTIVE, Engine, NewJob
from jobnode.service.steps import Step, UnknownStep
from jobnode.service.store import LEVELS
from jobnode.service.views import BadCursor

log = logging.getLogger("jobnode.nexus")

#: engine batches of a Nexus job: small, so that a batch's log entries (which share one time) stay far below the
#: 1,000 entries a log page holds, which Nexus's time-based log paging needs
BATCH_SIZE = 50
WORKERS = 4
DATASET_LIFETIME_MS = 7 * 24 * 3600 * 1000
UPLOAD_URL_LIFETIME_MS = 3600 * 1000
#: a stop time this far ahead of the service's clock still counts as "now" (the caller's clock may be ahead)
CANCEL_SKEW_MS = 5000
RATE_LIMIT_ENV = "JOBNODE_NEXUS_RATE_LIMIT"
PUBLIC_PREFIXES = ("/healthz", "/uploads/", "/openapi.json", "/docs", "/redoc")
INSTANCES = [
    wire.AvailableInstance(instance_id="instance_x1cpu-standard", resources={"cpu": 1, "ram": 4096}),
    wire.AvailableInstance(
        instance_id="instance_t4-standard-1g",
        resources={"cpu": 4, "ram": 16384, "GPU_T4": 1},
        accelerator={"kind": "NvidiaGpu", "name": "T4", "count": 1},
    ),
    wire.AvailableInstance(
        instance_id="instance_l4-standard-1g",
        resources={"cpu": 4, "ram": 16384, "GPU_L4": 1},
        accelerator={"kind": "NvidiaGpu", "name": "L4", "count": 1},
    ),
]
REGIONS = ["us-central1", "europe-west4", "asia-southeast1"]
Limit = Annotated[int, Query(ge=1, le=1000, description="items on a page")]
_US_PER_MS = 1000  # the engine keeps log times in integer microseconds
# One entry as Nexus's JSON, rendered by SQLite (as the native API renders its own): a page costs no Python per entry
_LOG_JSON = (
    "json_object('kind', kind, 'createTime', time / 1000, 'id', CAST(id AS TEXT), "
    "'level', CASE level WHEN 10 THEN 'Debug' WHEN 20 THEN 'Info' WHEN 30 THEN 'Warning' ELSE 'Error' END, "
    "'item', COALESCE(item, ''), 'status', COALESCE(status, ''), 'timeMs', COALESCE(duration_ms, 0.0), "
    "'reason', COALESCE(message, ''))"
)


def now_ms() -> int:
    """The service's clock in epoch milliseconds, the unit of every Nexus time."""
    return int(time.time() * 1000)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


class NexusProblem(Exception):
    """An error answer: `{"message": ...}` with a status (and headers, e.g. `Retry-After`)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def _problem_response(p: NexusProblem) -> JSONResponse:
    return JSONResponse({"message": p.message}, status_code=p.status, headers=p.headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _invalid(errors: list[Any]) -> NexusProblem:
    message = "; ".join(f"{_field(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors[:5])
    return NexusProblem(400, message)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


class RateLimiter:
    """A token bucket per secret key: `rate` requests per second, in bursts of up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_needed(self, key: str) -> float:
        """Take a token; 0 when one was free, else the seconds until one will be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class NexusEmulator:
    """The Nexus side of the local engine: records, and the translation of engine jobs to Nexus jobs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.records = Records(engine.data_dir / "nexus")
        self._signing_key = secrets.token_bytes(32)

    # -- deployments ------------------------------------------------------------------------------------------

    def step_for(self, ref: str, field: str) -> Step:
        """The processing step a deployment or artifact id names (`deploy_<step>[@<version>]`)."""
        for prefix in (DEPLOYMENT_PREFIX, ARTIFACT_PREFIX):
            if ref.startswith(prefix):
                name, _, version = ref[len(prefix) :].partition("@")
                try:
                    return self.engine.registry.get(name, version or None)
                except UnknownStep as exc:
                    if exc.field == "step_version":
                        raise NexusProblem(404, f"{field}: {ref!r} is not deployed here: {exc.message}") from None
                break
        known = ", ".join(sorted({f"{DEPLOYMENT_PREFIX}{s.name}" for s in self.engine.registry.all()})) or "none"
        raise NexusProblem(
            404,
            f"{field}: {ref!r} is not deployed here; this service runs each processing step <step> as the deployment "
            f"deploy_<step> (or the artifact artifact_<step>): {known}",
        )

    # -- datasets ---------------------------------------------------------------------------------------------

    def dataset_json(self, row: sqlite3.Row, base_url: str) -> dict[str, Any]:
        expires = row["created"] + UPLOAD_URL_LIFETIME_MS
        query = f"expires={expires}&signature={self._signature(row['id'], expires)}"
        return wire.Dataset(
            id=row["id"],
            name=row["name"],
            project_id=row["project_id"],
            expiry_time=row["expires"],
            status=wire.DatasetStatus(
                overview=row["overview"],
                message=row["message"],
                update_time=row["updated"],
                source=wire.DatasetSource(
                    kind=wire.NDJSON_SOURCE,
                    upload_url=wire.UploadUrl(
                        method="PUT",
                        url=f"{base_url}/uploads/{row['id']}?{query}",
                        headers={"Content-Type": "application/x-ndjson"},
                        expires_at_time=expires,
                    ),
                ),
                item_count=row["item_count"],
            ),
            create_date=row["created"],
            update_date=row["updated"],
        ).to_wire()

    def _signature(self, dataset_id: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{dataset_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def check_upload(self, dataset_id: str, expires: int, signature: str) -> sqlite3.Row:
        if not hmac.compare_digest(self._signature(dataset_id, expires), signature):
            raise NexusProblem(403, "the upload URL's signature is wrong; upload to the URL the dataset names")
        if expires < now_ms():
            raise NexusProblem(403, "the upload URL has expired; create the dataset again")
        row = self.records.by_id("datasets", dataset_id)
        if row is None:
            raise NexusProblem(404, f"Dataset {dataset_id} not found")
        if row["overview"] != wire.DATASET_UPLOADING:
            raise NexusProblem(409, f"dataset {dataset_id} is {row['overview']}; it can be uploaded once")
        return row

    def receive_upload(self, row: sqlite3.Row, content: bytes) -> None:
        """Check the file against what the dataset declared, then read its items."""
        dataset_id = row["id"]
        if len(content) != row["size_bytes"] or crc32c_base64(content) != row["crc32c"]:
            self._dataset_state(
                dataset_id,
                wire.DATASET_FAILED_UPLOAD,
                f"the file ({len(content)} bytes) is not the one declared ({row['size_bytes']} bytes, crc32c "
                f"{row['crc32c']}); create the dataset again with the file's size and CRC32C",
            )
            raise NexusProblem(400, "the uploaded file does not match the dataset's sizeBytes and crc32c")
        try:
            count = sum(1 for _ in _items(content))
        except ValueError as exc:
            self._dataset_state(dataset_id, wire.DATASET_FAILED_PROCESSING, str(exc))
            raise NexusProblem(400, str(exc)) from None
        if not count:
            self._dataset_state(dataset_id, wire.DATASET_FAILED_PROCESSING, "the file holds no items")
            raise NexusProblem(400, "the file holds no items: write one JSON value per line")
        path = self.records.dataset_path(dataset_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        self._dataset_state(dataset_id, wire.DATASET_UPLOADED, f"{count} items", item_count=count)

    def _dataset_state(self, dataset_id: str, overview: str, message: str, **values: Any) -> None:
        self.records.update("datasets", dataset_id, overview=overview, message=message, updated=now_ms(), **values)

    # -- jobs -------------------------------------------------------------------------------------------------

    def create_job(self, project_id: str, body: wire.CreateJobRequest) -> str:
        spec = body.spec
        if not spec.dataset_id:
            raise NexusProblem(400, "spec.datasetId: a batch job runs over a dataset; name one (dataset_...)")
        dataset = self.records.get("datasets", project_id, spec.dataset_id)
        if dataset is None:
            raise NexusProblem(404, f"spec.datasetId: Dataset {spec.dataset_id} not found in project {project_id}")
        if dataset["overview"] != wire.DATASET_UPLOADED:
            raise NexusProblem(
                400, f"spec.datasetId: dataset {spec.dataset_id} is {dataset['overview']}; upload it first"
            )
        destinations = spec.result_delivery.destinations
        if len(destinations) > 1:
            raise NexusProblem(400, "spec.resultDelivery.destinations: this service delivers to one webhook")
        engine_webhook = None
        if destinations:
            webhook_id = destinations[0].webhook_id or ""
            webhook = self.records.get("webhooks", project_id, webhook_id)
            if webhook is None:
                raise NexusProblem(
                    404, f"spec.resultDelivery.destinations.0.webhookId: Webhook {webhook_id!r} not found"
                )
            engine_webhook = EngineWebhook(
                url=webhook["endpoint"], secret=webhook["secret"], max_attempts=webhook["max_retries"] + 1
            )
        deployment = spec.deployment
        if isinstance(deployment, wire.ExistingDeployment):
            step = self.step_for(deployment.deployment_id, "spec.deployment.deploymentId")
        else:
            step = self.step_for(deployment.template.artifact_id or "", "spec.deployment.template.artifactId")
        try:
            params = step.params_model.model_validate({})
        except ValidationError:
            raise NexusProblem(
                400, f"spec.deployment: step {step.name!r} needs parameters, which a Nexus job cannot give"
            ) from None
        path = self.records.dataset_path(dataset["id"])
        items = list(_items(path.read_bytes()))
        try:
            engine_spec = JobSpec(
                name=body.name,
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
            raise NexusProblem(400, f"spec.stopAtTime: {exc.errors()[0]['msg']}") from None
        engine_id, _ = self.engine.create(NewJob(spec=engine_spec, step=step, params=params, items=items))
        job_id = f"batchjob_{uuid.uuid4()}"
        self.records.insert(
            "jobs",
            {"id": job_id, "project_id": project_id, "engine_id": engine_id, "spec": json.dumps(spec.to_wire())},
        )
        return job_id

    def job_record(self, project_id: str, job_id: str) -> sqlite3.Row:
        record = self.records.get("jobs", project_id, job_id)
        if record is None or self.store.job_row(record["engine_id"]) is None:
            raise NexusProblem(404, f"Batch job not found: no job {job_id!r} in project {project_id}")
        return record

    def job_json(self, record: sqlite3.Row, row: sqlite3.Row | None = None) -> dict[str, Any]:
        row = row if row is not None else self.store.job_row(record["engine_id"])
        if row is None:
            raise NexusProblem(404, f"Batch job not found: {record['id']}")
        spec = wire.BatchJobSpec.model_validate_json(record["spec"])
        return wire.BatchJob(
            id=record["id"],
            name=row["name"],
            project_id=record["project_id"],
            spec=spec,
            status=_status(row, record, has_webhook=bool(spec.result_delivery.destinations)),
            create_date=_ms(row["created_at"]) or 0,
            update_date=_ms(row["updated_at"]) or 0,
        ).to_wire()

    def cancel_job(self, record: sqlite3.Row, stop_at: int) -> None:
        now = now_ms()
        if stop_at > now + CANCEL_SKEW_MS:
            raise NexusProblem(
                400, "spec.stopAtTime: this service can only move a job's stop time to now, which cancels it"
            )
        reason = f"BatchJob not completed before defined stop time due to requested cancellation at {now}"
        if self.engine.cancel(record["engine_id"], reason=reason):
            spec = json.loads(record["spec"])
            spec["stopAtTime"] = min(stop_at, now)
            self.records.update("jobs", record["id"], cancelled_at=now, spec=json.dumps(spec))

    def delete_job(self, record: sqlite3.Row) -> None:
        engine_id = record["engine_id"]
        self.engine.cancel(engine_id, reason="deleted")
        plan = self.engine.delete(engine_id, delete_outputs=True, deleted_by="nexus")
        if not plan.allowed:
            reasons = "; ".join(b.reason for b in plan.blockers)
            raise NexusProblem(409, f"batch job {record['id']} cannot be deleted: {reasons}")
        self.records.delete("jobs", record["id"])

    def logs_json(
        self, record: sqlite3.Row, *, after: int | None, before: int | None, level: int | None, max_entries: int
    ) -> str:
        """A `JobLogs` body: the entries between two inclusive millisecond times, newest first."""
        engine_id = record["engine_id"]
        conn = self.store.reader
        # the engine writes a job's entries in transactions that take their time inside, so their times grow
        # with their ids: the time bounds become id bounds, and a page is one range of the (job_id, id) index
        newest = _last_id_at(conn, engine_id, (before + 1) * _US_PER_MS - 1) if before is not None else None
        oldest = _last_id_at(conn, engine_id, after * _US_PER_MS - 1) if after is not None else None
        where, args = ["job_id = ?"], [engine_id]
        for clause, value in (("id <= ?", newest), ("id > ?", oldest), ("level >= ?", level)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if before is not None and newest is None:
            entries: list[str] = []  # nothing that old
        else:
            entries = [
                r[0]
                for r in conn.execute(
                    f"SELECT {_LOG_JSON} FROM logs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                    (*args, max_entries),
                )
            ]
        log_id = "batchjoblog_" + record["id"].removeprefix("batchjob_")
        head = json.dumps({"id": log_id, "object": "batch_job_log", "projectId": record["project_id"]})
        return f'{head[:-1]},"entries":[{",".join(entries)}]}}'

    # -- webhooks ---------------------------------------------------------------------------------------------

    @staticmethod
    def webhook_json(row: sqlite3.Row) -> dict[str, Any]:
        return wire.Webhook(
            id=row["id"],
            project_id=row["project_id"],
            name=row["name"],
            endpoint=row["endpoint"],
            retries=wire.WebhookRetries(max_retries=row["max_retries"], max_backoff_ms=row["max_backoff_ms"]),
            create_date=row["created"],
            update_date=row["updated"],
        ).to_wire()


def _status(row: sqlite3.Row, record: sqlite3.Row, *, has_webhook: bool) -> wire.JobStatus:
    state = row["state"]
    total, processed, failed = row["items_total"], row["items_processed"], row["items_failed"]
    ended = state not in ACTIVE
    if has_webhook:
        delivered = row["items_delivered"]
        # items that failed before delivery never reach the webhook: they failed to be delivered
        failed_deliver = row["items_failed_delivery"] + failed
    else:
        delivered, failed_deliver = processed, failed
    if ended and state not in ("cancelled", "timed_out"):
        failed_deliver = total - delivered  # every item is settled once the engine job has ended
    elif not ended and total and delivered + failed_deliver >= total:
        # Items settle with the job: the counters complete only together with the final overview, so that a waiter
        # that stops on them (Datature's does) reads a finished job, not the "Waiting" of the moment before the
        # engine ends it. One item is held back meanwhile (for a few milliseconds).
        if failed_deliver:
            failed_deliver = total - delivered - 1
        else:
            delivered = total - 1
    # the items of batches in flight are with the model: preprocessed, not yet predicted
    in_flight = row["batches_running"] * BATCH_SIZE if state == "running" else 0
    items = wire.ItemCounts(
        gathered=0 if state == "scheduled" else total,
        preprocessed=min(total, processed + failed + in_flight),
        predicted=processed,
        failed_predict=failed,
        delivered=delivered,
        failed_deliver=failed_deliver,
    )
    overview, message, reason = wire.WAITING, _WAITING_MESSAGES.get(state, "Running"), None
    if state == "cancelled":
        overview, message, reason = wire.FAILED, "Batch job cancelled", row["reason"]
    elif state == "timed_out":
        overview, message = wire.FAILED, "Batch job stopped"
        reason = "BatchJob not completed before defined stop time"
    elif state == "failed":
        overview, message, reason = wire.FAILED, "Batch job failed", row["reason"]
    elif ended and total and not delivered:
        overview, message = wire.FAILED, "Batch job failed"
        reason = f"none of the {total} items was delivered ({failed} failed to predict)"
    elif ended:
        overview, message = wire.REACHED, "Finished"
    return wire.JobStatus(
        overview=overview,
        message=message,
        update_date=_ms(row["updated_at"]) or 0,
        items=items,
        reason=reason,
        cancelled_at=record["cancelled_at"],
    )


_WAITING_MESSAGES = {"created": "Queued", "scheduled": "Waiting for the start time", "queued": "Queued"}


def _last_id_at(conn: sqlite3.Connection, engine_id: str, time_us: int) -> int | None:
    """The id of the job's last log entry written at or before `time_us`: a binary search over ids, each probe one
    seek of the (job_id, id) index."""
    low, high = conn.execute("SELECT min(id), max(id) FROM logs WHERE job_id = ?", (engine_id,)).fetchone()
    found = None
    while low is not None and low <= high:
        middle = (low + high) // 2
        probe = conn.execute(
            "SELECT id, time FROM logs WHERE job_id = ? AND id <= ? ORDER BY id DESC LIMIT 1", (engine_id, middle)
        ).fetchone()
        if probe is None:
            low = middle + 1
        elif probe[1] <= time_us:
            found, low = probe[0], middle + 1
        else:
            high = probe[0] - 1
    return found


def _items(content: bytes) -> Any:
    """Each item of a newline-delimited JSON file (blank lines are skipped); a bad line raises `ValueError`."""
    for number, line in enumerate(content.splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise ValueError(f"line {number} is not valid JSON ({exc}); write one JSON value per line") from None


def _level(value: str | None) -> int | None:
    if value is None:
        return None
    level = LEVELS.get(value.strip().lower())
    if level is None:
        raise NexusProblem(400, f"minLevel: unknown level {value!r}; use Debug, Info, Warning or Error")
    return level


def _secret_key(request: Request) -> str:
    return request.headers.get("secret-key", "")


def create_app(engine: Engine, *, token: str | None = None, rate_limit: float | None = None) -> FastAPI:
    """The Nexus batch API over `engine`, at the root of its origin.

    With a `token`, requests must carry it as their `Secret-Key`; `rate_limit` (default: the environment's
    `JOBNODE_NEXUS_RATE_LIMIT`) caps each key's requests per second, answering 429 with `Retry-After` beyond it.
    `jobnode serve --platform nexus` serves it; to serve it yourself:

    Example:
        ```python
        engine = Engine(data_dir, step_modules=["my_steps"])
        engine.start()
        uvicorn.run(create_app(engine, token="s3cret"), host="127.0.0.1", port=8080)
        ```
    """
    app = FastAPI(
        title="jobnode: Datature Nexus batch API emulator",
        version="1",
        description="Nexus batch jobs, datasets and webhooks, run by the local job service. Errors are "
        '`{"message": ...}`.',
    )
    nexus = NexusEmulator(engine)
    if rate_limit is None and os.environ.get(RATE_LIMIT_ENV):
        rate_limit = float(os.environ[RATE_LIMIT_ENV])
    limiter = RateLimiter(rate_limit) if rate_limit else None

    @app.on_event("shutdown")
    def _close() -> None:
        nexus.records.close()

    @app.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith(PUBLIC_PREFIXES):
            key = _secret_key(request)
            if token and not hmac.compare_digest(key.encode(), token.encode()):
                return _problem_response(
                    NexusProblem(403, "missing or wrong Secret-Key: send the project's secret key (the service token)")
                )
            if limiter is not None:
                wait = limiter.wait_needed(hashlib.sha256(key.encode()).hexdigest())
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    return _problem_response(
                        NexusProblem(429, f"Too many requests: retry after {seconds}s", {"Retry-After": str(seconds)})
                    )
        try:
            response: Response = await call_next(request)
        except NexusProblem as p:
            return _problem_response(p)
        return response

    @app.exception_handler(NexusProblem)
    async def _problem(_: Request, exc: NexusProblem) -> JSONResponse:
        return _problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem_response(_invalid(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem_response(NexusProblem(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in the nexus emulator")
        return _problem_response(NexusProblem(500, "internal error in the job service; see its log"))

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def cursor_problem(exc: BadCursor) -> NexusProblem:
        return NexusProblem(400, f"page: {exc}; pass back a nextPage or prevPage exactly")

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "platform": "nexus", "active_jobs": len(list(engine.active_ids()))}

    # -- batch jobs ---------------------------------------------------------------------------------------------

    jobs_path = "/projects/{project_id}/batch/jobs"

    @app.post(jobs_path, status_code=201, tags=["jobs"])
    def create_job(project_id: str, body: wire.CreateJobRequest) -> Response:
        job_id = nexus.create_job(project_id, body)
        return _json(nexus.job_json(nexus.job_record(project_id, job_id)), 201)

    @app.get(jobs_path, tags=["jobs"])
    def list_jobs(project_id: str, limit: Limit = 100, page: str | None = None) -> Response:
        try:
            listing = nexus.records.listing("jobs", project_id, limit=limit, page=page)
        except BadCursor as exc:
            raise cursor_problem(exc) from None
        rows = {r["id"]: r for r in nexus.store.job_rows([rec["engine_id"] for rec in listing.rows])}
        data = [nexus.job_json(rec, rows[rec["engine_id"]]) for rec in listing.rows if rec["engine_id"] in rows]
        return _json({"nextPage": listing.next_page, "prevPage": listing.prev_page, "data": data})

    @app.get(jobs_path + "/{job_id}", tags=["jobs"])
    def get_job(project_id: str, job_id: str) -> Response:
        return _json(nexus.job_json(nexus.job_record(project_id, job_id)))

    @app.patch(jobs_path + "/{job_id}", tags=["jobs"])
    def patch_job(project_id: str, job_id: str, body: wire.PatchJobRequest) -> Response:
        """Cancel: move the stop time to now."""
        nexus.cancel_job(nexus.job_record(project_id, job_id), body.spec.stop_at_time)
        return _json(nexus.job_json(nexus.job_record(project_id, job_id)))

    @app.delete(jobs_path + "/{job_id}", tags=["jobs"])
    def delete_job(project_id: str, job_id: str) -> Response:
        nexus.delete_job(nexus.job_record(project_id, job_id))
        return _json(wire.DeleteResponse(id=job_id, deleted=True).to_wire())

    @app.get(jobs_path + "/{job_id}/logs", tags=["jobs"])
    def job_logs(
        project_id: str,
        job_id: str,
        before_time: Annotated[int | None, Query(alias="beforeTime")] = None,
        after_time: Annotated[int | None, Query(alias="afterTime")] = None,
        min_level: Annotated[str | None, Query(alias="minLevel")] = None,
        max_entries: Annotated[int, Query(alias="maxEntries", ge=1, le=wire.LOG_PAGE_MAX)] = wire.LOG_PAGE_MAX,
    ) -> Response:
        """Log entries, newest first; both times are inclusive epoch milliseconds."""
        record = nexus.job_record(project_id, job_id)
        body = nexus.logs_json(
            record, after=after_time, before=before_time, level=_level(min_level), max_entries=max_entries
        )
        return Response(body, media_type="application/json")

    # -- datasets -----------------------------------------------------------------------------------------------

    datasets_path = "/projects/{project_id}/batch/datasets"

    def dataset_or_404(project_id: str, dataset_id: str) -> sqlite3.Row:
        row = nexus.records.get("datasets", project_id, dataset_id)
        if row is None:
            raise NexusProblem(404, f"Dataset not found: no dataset {dataset_id!r} in project {project_id}")
        return row

    @app.post(datasets_path, status_code=201, tags=["datasets"])
    def create_dataset(project_id: str, body: wire.CreateDatasetRequest, request: Request) -> Response:
        if body.spec.source.kind != wire.NDJSON_SOURCE:
            raise NexusProblem(400, f"spec.source.kind: only {wire.NDJSON_SOURCE} is supported")
        now = now_ms()
        dataset_id = f"dataset_{uuid.uuid4()}"
        nexus.records.insert(
            "datasets",
            {
                "id": dataset_id,
                "project_id": project_id,
                "name": body.name,
                "size_bytes": body.spec.source.size_bytes,
                "crc32c": body.spec.source.crc32c,
                "overview": wire.DATASET_UPLOADING,
                "message": "Waiting for the file to be uploaded",
                "created": now,
                "updated": now,
                "expires": now + DATASET_LIFETIME_MS,
            },
        )
        return _json(nexus.dataset_json(dataset_or_404(project_id, dataset_id), base_url(request)), 201)

    @app.get(datasets_path, tags=["datasets"])
    def list_datasets(project_id: str, request: Request, limit: Limit = 100, page: str | None = None) -> Response:
        try:
            listing = nexus.records.listing("datasets", project_id, limit=limit, page=page)
        except BadCursor as exc:
            raise cursor_problem(exc) from None
        base = base_url(request)
        return _json(
            {
                "nextPage": listing.next_page,
                "prevPage": listing.prev_page,
                "data": [nexus.dataset_json(r, base) for r in listing.rows],
            }
        )

    @app.get(datasets_path + "/{dataset_id}", tags=["datasets"])
    def get_dataset(project_id: str, dataset_id: str, request: Request) -> Response:
        return _json(nexus.dataset_json(dataset_or_404(project_id, dataset_id), base_url(request)))

    @app.delete(datasets_path + "/{dataset_id}", tags=["datasets"])
    def delete_dataset(project_id: str, dataset_id: str) -> Response:
        dataset_or_404(project_id, dataset_id)
        nexus.records.delete("datasets", dataset_id)
        nexus.records.dataset_path(dataset_id).unlink(missing_ok=True)
        return _json(wire.DeleteResponse(id=dataset_id, deleted=True).to_wire())

    @app.put("/uploads/{dataset_id}", tags=["datasets"])
    async def upload(dataset_id: str, request: Request, expires: int, signature: str) -> Response:
        """Where a dataset's file is uploaded (the `uploadUrl` of the dataset; it needs no secret key)."""
        row = await run_in_threadpool(nexus.check_upload, dataset_id, expires, signature)
        content = await request.body()
        await run_in_threadpool(nexus.receive_upload, row, content)
        return Response(status_code=200)

    # -- webhooks -----------------------------------------------------------------------------------------------

    webhooks_path = "/projects/{project_id}/batch/webhooks"

    def webhook_or_404(project_id: str, webhook_id: str) -> sqlite3.Row:
        row = nexus.records.get("webhooks", project_id, webhook_id)
        if row is None:
            raise NexusProblem(404, f"Webhook not found: no webhook {webhook_id!r} in project {project_id}")
        return row

    def checked_endpoint(endpoint: str | None) -> str:
        if not endpoint or not endpoint.startswith(("http://", "https://")):
            raise NexusProblem(400, "spec.endpoint: give the http:// or https:// URL that receives the results")
        return endpoint

    def checked_retries(retries: wire.WebhookRetries) -> wire.WebhookRetries:
        if retries.max_retries > 19:
            raise NexusProblem(400, "spec.retries.maxRetries: at most 19")
        return retries

    @app.post(webhooks_path, status_code=201, tags=["webhooks"])
    def create_webhook(project_id: str, body: wire.CreateWebhookRequest) -> Response:
        now = now_ms()
        webhook_id = f"webhook_{uuid.uuid4()}"
        retries = checked_retries(body.spec.retries or wire.WebhookRetries())
        secret = body.spec.secret.contents if body.spec.secret else base64.b64encode(secrets.token_bytes(32)).decode()
        nexus.records.insert(
            "webhooks",
            {
                "id": webhook_id,
                "project_id": project_id,
                "name": body.name or "webhook",
                "endpoint": checked_endpoint(body.spec.endpoint),
                "secret": secret,
                "max_retries": retries.max_retries,
                "max_backoff_ms": retries.max_backoff_ms,
                "created": now,
                "updated": now,
            },
        )
        return _json(nexus.webhook_json(webhook_or_404(project_id, webhook_id)), 201)

    @app.get(webhooks_path, tags=["webhooks"])
    def list_webhooks(project_id: str, limit: Limit = 100, page: str | None = None) -> Response:
        try:
            listing = nexus.records.listing("webhooks", project_id, limit=limit, page=page)
        except BadCursor as exc:
            raise cursor_problem(exc) from None
        return _json(
            {
                "nextPage": listing.next_page,
                "prevPage": listing.prev_page,
                "data": [nexus.webhook_json(r) for r in listing.rows],
            }
        )

    @app.get(webhooks_path + "/{webhook_id}", tags=["webhooks"])
    def get_webhook(project_id: str, webhook_id: str) -> Response:
        return _json(nexus.webhook_json(webhook_or_404(project_id, webhook_id)))

    @app.patch(webhooks_path + "/{webhook_id}", tags=["webhooks"])
    def update_webhook(project_id: str, webhook_id: str, body: wire.UpdateWebhookRequest) -> Response:
        webhook_or_404(project_id, webhook_id)
        values: dict[str, Any] = {"updated": now_ms()}
        if body.spec.endpoint is not None:
            values["endpoint"] = checked_endpoint(body.spec.endpoint)
        if body.spec.retries is not None:
            retries = checked_retries(body.spec.retries)
            values.update(max_retries=retries.max_retries, max_backoff_ms=retries.max_backoff_ms)
        if body.spec.secret is not None:
            values["secret"] = body.spec.secret.contents
        nexus.records.update("webhooks", webhook_id, **values)
        return _json(nexus.webhook_json(webhook_or_404(project_id, webhook_id)))

    @app.put(webhooks_path + "/{webhook_id}/secret", tags=["webhooks"])
    def update_webhook_secret(
        project_id: str, webhook_id: str, contents: Annotated[str, Body(embed=True, min_length=1)]
    ) -> Response:
        webhook_or_404(project_id, webhook_id)
        nexus.records.update("webhooks", webhook_id, secret=contents, updated=now_ms())
        return _json(nexus.webhook_json(webhook_or_404(project_id, webhook_id)))

    @app.post(webhooks_path + "/{webhook_id}:test", tags=["webhooks"])
    async def test_webhook(project_id: str, webhook_id: str) -> Response:
        """POST a signed test body to the webhook's endpoint and report how it answered."""
        row = await run_in_threadpool(webhook_or_404, project_id, webhook_id)
        body = json.dumps({"kind": "WebhookTest", "webhookId": webhook_id, "projectId": project_id}).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(row["secret"], timestamp, body),
        }
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                answer = await http.post(row["endpoint"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            result = wire.WebhookTestResult(
                status="Failed",
                response_code=0,
                latency_ms=int((time.perf_counter() - started) * 1000),
                attempt_count=1,
                reason=f"{type(exc).__name__}: could not reach the endpoint",
            )
        else:
            result = wire.WebhookTestResult(
                status="Success" if answer.is_success else "Failed",
                response_code=answer.status_code,
                latency_ms=int((time.perf_counter() - started) * 1000),
                attempt_count=1,
                body=answer.text[:1000],
                reason=None if answer.is_success else f"HTTP {answer.status_code}",
            )
        return _json(result.to_wire())

    @app.delete(webhooks_path + "/{webhook_id}", tags=["webhooks"])
    def delete_webhook(project_id: str, webhook_id: str) -> Response:
        webhook_or_404(project_id, webhook_id)
        nexus.records.delete("webhooks", webhook_id)
        return _json(wire.DeleteResponse(id=webhook_id, deleted=True).to_wire())

    # -- artifacts ----------------------------------------------------------------------------------------------

    @app.get("/projects/{project_id}/artifacts/{artifact_id}/availableInstances/regions/{region}", tags=["artifacts"])
    def available_instances(project_id: str, artifact_id: str, region: str) -> Response:
        """The instance types an artifact can be deployed on (the SDK picks one when a job names none)."""
        nexus.step_for(artifact_id, "artifact_id")
        regions = REGIONS if region == "*" else [region]
        instances = [i.model_copy(update={"regions": regions}) for i in INSTANCES]
        return _json(
            wire.AvailableInstances(artifact_id=artifact_id, region=region, available_instances=instances).to_wire()
        )

    return app

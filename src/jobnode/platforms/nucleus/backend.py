"""The `nucleus` backend: Scale Nucleus async jobs over async httpx.

Auth is the API key as the HTTP Basic user name (empty password), as the SDK sends it. Every call goes through the
shared `Transport`: the statuses the SDK retries (503, 504, 520, 524) are retried with backoff, and 429 too
(honouring `Retry-After`; the SDK raises at once); starting an upload (`POST .../append?async=1`) is never repeated
once it may have reached Nucleus, which has no idempotency keys.

Where jobnode's `JobSpec` lands on Nucleus (see `mapping.upload_for`):

- `step`: `append` (items into a dataset: job type `uploadDatasetItems`) or `annotate` (ground truth of its items:
  `uploadAnnotations`); `params`: `dataset_id` (default: the backend's) and `update`.
- `input`: `items=[...]` (the SDK's payloads: `{"reference_id", "image_url", "metadata"}` for items, `{"label",
  "type", "geometry", "reference_id", "annotation_id", "metadata"}` for annotations) and `delimited=[files]` (the same,
  one per line) are uploaded as newline-delimited JSON to the URL Nucleus signs, as the SDK's `append` and
  `annotate(asynchronous=True)` do; `files=[...]` appends images: remote ones (`s3://`, `gs://`, `https://`) by URL,
  local ones (at most 10 per job) as a multipart upload, each named by its path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import fsspec
import httpx
from fsspec.utils import get_protocol
from pydantic import BaseModel, TypeAdapter, ValidationError

from jobnode.core import ndjson
from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import JobnodeError, NotFound
from jobnode.core.models import (
    DelimitedInput,
    FilesInput,
    ItemsInput,
    Job,
    JobError,
    JobPlan,
    JobResult,
    JobSpec,
    JobState,
    LogEntry,
    Page,
)
from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import RetryPolicy, Transport, parse_error_body
from jobnode.platforms.nucleus import PLATFORM, mapping, wire
from jobnode.platforms.nucleus.settings import NUCLEUS_URL, NucleusSettings

DEFAULT_URL = NUCLEUS_URL
#: what the SDK retries (`RetryStrategy.statuses`), and 429, which is transient whatever the SDK does
NUCLEUS_RETRY = RetryPolicy(statuses=frozenset({429, 503, 504, 520, 524}))
LOCAL_PROTOCOLS = frozenset({"file", "local"})
#: the most job infos a backend keeps (a long-lived Airflow triggerer sees many jobs)
INFOS_KEPT = 10_000
_ERRORS = TypeAdapter(list[str])
_INFOS = TypeAdapter(list[wire.JobInfo])


class _JobsCursor(BaseModel):
    """Where the next page of a job listing starts: the creation time of the oldest job listed (`to_date` is
    inclusive) and the ids already listed at that time."""

    to: str
    seen: list[str] = []

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> _JobsCursor:
        try:
            return cls.model_validate_json(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, ValidationError):
            raise ValueError("cursor: not a cursor of the nucleus backend; pass back a next_cursor exactly") from None


class _Payload(BaseModel):
    """What an upload sends: newline-delimited JSON for the signed URL, or local images for a multipart append."""

    units: list[dict[str, Any]] = []
    files: list[str] = []


class NucleusBackend:
    """Async jobs of one Scale Nucleus account.

    `token` is the Scale API key; `url` is `https://api.scale.com/v1/nucleus`, or a local `jobnode serve --platform
    nucleus` (`http://127.0.0.1:8765/v1/nucleus`); `dataset_id` is the dataset of jobs whose params name none.

    Example:
        ```python
        backend = NucleusBackend(token=api_key, dataset_id="ds_bwkezj6g5c4g05gqp1eg")
        job = await backend.create_job(
            JobSpec(step="append", input=ItemsInput(items=[{"reference_id": "img-1", "image_url": "s3://b/1.jpg"}]))
        )
        ```
    """

    platform = PLATFORM.name
    capabilities = PLATFORM.capabilities

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        dataset_id: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        upload_transport: Transport | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.dataset_id = dataset_id
        policy = retry or NUCLEUS_RETRY
        self.transport = transport or Transport(
            self.url,
            auth=httpx.BasicAuth(token, "") if token else None,
            timeout=timeout,
            retry=policy,
            platform="nucleus",
            error_parser=parse_error_body,
            limiter=limiter,
        )
        # signed URLs may point at another host (cloud storage): they never get the API key
        self._uploads = upload_transport or Transport("", timeout=timeout, retry=policy, platform="nucleus")
        # job id -> its info, for the jobs this backend started or read (the newest INFOS_KEPT): a job's type and
        # creation time never change, so its info is read once
        self._infos: OrderedDict[str, wire.JobInfo] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: NucleusSettings) -> NucleusBackend:
        return cls(
            settings.url,
            token=settings.secret(),
            dataset_id=settings.dataset_id,
            timeout=settings.timeout,
            limiter=settings.limiter(),
        )

    def __repr__(self) -> str:
        return f"NucleusBackend(url={self.url!r}, dataset_id={self.dataset_id!r})"

    async def aclose(self) -> None:
        await self.transport.aclose()
        await self._uploads.aclose()

    def job_url(self, job_id: str) -> str:
        """The job's API URL (the Nucleus dashboard lists jobs, https://dashboard.scale.com/nucleus/jobs, but has no
        page of one job)."""
        return f"{self.url}/job/{job_id}"

    # -- creating jobs ------------------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        """Upload the spec's items or annotations and start the async job that appends or annotates them.

        Nucleus has no idempotency keys: `idempotency_key` is accepted for the common interface and not sent.
        """
        upload = mapping.upload_for(spec, default_dataset=self.dataset_id)
        payload = await asyncio.to_thread(_payload, upload.operation, spec.input)
        if payload.files:
            response = await self._post_files(upload, payload.files)
        else:
            request_id = await self._upload_ndjson(upload.dataset_id, ndjson.encode(payload.units))
            body = wire.AsyncUploadRequest(request_id=request_id, update=upload.update).to_wire()
            response = await self.transport.request("POST", upload.route, json=body)
        info = self._remember(wire.JobInfo.model_validate_json(response.content))
        return self._to_job(info, None)

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        """A dry run: what `create_job` would upload and where, without sending anything."""
        upload = mapping.upload_for(spec, default_dataset=self.dataset_id)
        payload = await asyncio.to_thread(_payload, upload.operation, spec.input)
        multipart = bool(payload.files)
        return JobPlan(
            platform=self.platform,
            items_total=len(payload.files) if multipart else len(payload.units),
            sample=payload.units[:20],
            files_total=len(payload.files),
            files=payload.files,
            request={
                "route": upload.route,
                "job_type": upload.job_type,
                "update": upload.update,
                "upload": "multipart/form-data" if multipart else "newline-delimited JSON to a signed URL",
            },
        )

    async def _upload_ndjson(self, dataset_id: str, content: bytes) -> str:
        """PUT the file to the URL Nucleus signs for a new request id, as the SDK does; returns the request id."""
        request_id = uuid.uuid4().hex
        response = await self.transport.request("GET", f"dataset/{dataset_id}/signedUrl/{request_id}")
        signed = wire.SignedUrl.model_validate_json(response.content)
        await self._uploads.request("PUT", signed.signed_url, content=content)
        return request_id

    async def _post_files(self, upload: mapping.Upload, paths: Sequence[str]) -> httpx.Response:
        """The SDK's local-file append: one multipart request with an `items` part and one `image` part per file."""
        content, content_type = await asyncio.to_thread(_multipart, paths, upload.update)
        return await self.transport.request(
            "POST", upload.route, content=content, headers={"Content-Type": content_type}
        )

    # -- reading jobs -------------------------------------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job:
        """The job's status (`GET job/{id}`, what the SDK's waiter polls) and, the first time, its info."""
        info, status = await asyncio.gather(self._info(job_id), self._status(job_id))
        return self._to_job(info, status)

    async def _info(self, job_id: str) -> wire.JobInfo:
        known = self._infos.get(job_id)
        if known is not None:
            return known
        response = await self.transport.request("GET", f"job/{job_id}/info")
        return self._remember(wire.JobInfo.model_validate_json(response.content))

    def _remember(self, info: wire.JobInfo) -> wire.JobInfo:
        self._infos[info.job_id] = info
        if len(self._infos) > INFOS_KEPT:
            self._infos.popitem(last=False)
        return info

    async def _status(self, job_id: str) -> wire.JobStatus:
        response = await self.transport.request("GET", f"job/{job_id}")
        return wire.JobStatus.model_validate_json(response.content)

    def _to_job(self, info: wire.JobInfo, status: wire.JobStatus | None) -> Job:
        return mapping.to_job(info, status, url=self.job_url(info.job_id))

    async def _list(self, request: wire.JobInfoRequest) -> list[wire.JobInfo]:
        # listing changes nothing: safe to repeat
        response = await self.transport.request("POST", "jobs/", json=request.to_wire(), retry_unsafe=True)
        return _INFOS.validate_json(response.content)

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        """One page of the account's jobs, newest first.

        Nucleus lists up to 50,000 jobs in one call and pages nothing: jobnode pages with `to_date` (the creation
        time of the oldest job listed, inclusive), dropping the jobs already listed at that time. `state` filters
        here, and leaves out `Completed` jobs on Nucleus when `succeeded` is not asked for (`show_completed`);
        `name` is the job type (`uploadDatasetItems`, ...); `ids` reads those jobs (see `_get_many`); Nucleus has
        no tags. A listing carries no progress counters.
        """
        if query.ids is not None:
            return Page(data=await self._get_many(query.ids))
        if query.name is not None and query.name not in wire.JOB_TYPES:
            return Page(data=[])  # every Nucleus job is named by its type
        states = set(query.state) if query.state else None
        cursor = _JobsCursor.decode(query.cursor) if query.cursor else None
        seen = set(cursor.seen) if cursor else set()
        limit = max(1, min(query.limit, wire.JOBS_LIMIT_MAX))
        want = min(wire.JOBS_LIMIT_MAX, limit + len(seen))
        request = wire.JobInfoRequest(
            show_completed=states is None or JobState.SUCCEEDED in states,
            job_types=[query.name] if query.name else [],
            to_date=cursor.to if cursor else None,
            limit=want,
        )
        infos = _newest_first(await self._list(request))
        fresh = [i for i in infos if i.job_id not in seen]
        if len(infos) >= want and not fresh:
            raise JobnodeError(
                f"more than {wire.JOBS_LIMIT_MAX} Nucleus jobs were created at {cursor.to if cursor else 'one time'}: "
                "Nucleus lists jobs by date, so the rest of them cannot be listed; filter by name (job type)"
            )
        page = fresh[:limit]
        next_cursor = None
        if page and (len(infos) >= want or len(fresh) > limit):
            at = page[-1].job_creation_time
            at_seen = [i.job_id for i in page if i.job_creation_time == at]
            if cursor is not None and at == cursor.to:
                at_seen += sorted(seen)
            next_cursor = _JobsCursor(to=at, seen=at_seen).encode()
        jobs = [self._to_job(i, None) for i in page]
        if states is not None:
            jobs = [j for j in jobs if j.state in states]
        return Page(data=jobs, next_cursor=next_cursor)

    async def _get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """Many jobs in few requests: one listing (of the jobs created since the oldest of them that this backend
        knows) gives their states; a job listed as ended in error is read whole for its message; a job the listing
        misses is read on its own. A job listed `Completed` is not read again, so it carries no counters; one job
        alone is simply read (`get_job`), as the SDK's waiter does."""
        wanted = list(dict.fromkeys(job_ids))
        if len(wanted) <= 1:
            return [job for job in await asyncio.gather(*(self._job_or_none(j) for j in wanted)) if job is not None]
        known = [self._infos[j].job_creation_time for j in wanted if j in self._infos]
        since = min(known, key=lambda t: mapping.parse_time(t) or datetime.min.replace(tzinfo=UTC)) if known else None
        request = wire.JobInfoRequest(show_completed=True, from_date=since)
        listed = {i.job_id: i for i in await self._list(request) if i.job_id in set(wanted)}

        async def one(job_id: str) -> Job | None:
            info = listed.get(job_id)
            if info is None:
                return await self._job_or_none(job_id)
            state = mapping.job_state(info.job_last_known_status)
            if state.is_terminal and state is not JobState.SUCCEEDED:
                return await self._job_or_none(job_id)
            return self._to_job(info, None)

        found = await asyncio.gather(*(one(j) for j in wanted))
        return [j for j in found if j is not None]

    async def _job_or_none(self, job_id: str) -> Job | None:
        try:
            return await self.get_job(job_id)
        except NotFound:
            return None

    async def get_result(self, job_id: str) -> JobResult:
        """The job's state and counters; what it uploaded is in its dataset."""
        job = await self.get_job(job_id)
        return JobResult(job_id=job.id, state=job.state, progress=job.progress)

    # -- errors, as errors and as log entries -------------------------------------------------------------------

    async def _errors(self, job_id: str) -> tuple[list[str], datetime]:
        response, info = await asyncio.gather(self.transport.request("GET", f"job/{job_id}/errors"), self._info(job_id))
        created = mapping.parse_time(info.job_creation_time) or datetime.fromtimestamp(0, UTC)
        return _ERRORS.validate_json(response.content), created

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        """The job's most recent upload errors (Nucleus keeps 10,000), in the order Nucleus lists them (newest
        first); each names the reference id of its item or annotation. They carry the job's creation time."""
        texts, created = await self._errors(job_id)
        return mapping.to_errors(texts[: max(0, limit)], created)

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        """The job's upload errors as error log entries (Nucleus has no other log), oldest first unless
        `order="desc"`, paged here from the one list Nucleus returns; the cursor is the offset of the next entry."""
        texts, created = await self._errors(job_id)
        entries = mapping.to_log_entries(texts[::-1], created)  # Nucleus lists the newest first
        if query.order == "desc":
            entries.reverse()
        entries = [e for e in entries if _matches(e, query)]
        offset = _offset(query.cursor)
        limit = max(1, query.limit)
        end = offset + limit
        return Page(data=entries[offset:end], next_cursor=str(end) if end < len(entries) else None)


def _matches(entry: LogEntry, query: LogQuery) -> bool:
    if query.min_level is not None and entry.level.rank < query.min_level.rank:
        return False
    if query.kind is not None and entry.kind != query.kind:
        return False
    if query.after_time is not None and not entry.time > _aware(query.after_time):
        return False
    return query.before_time is None or entry.time < _aware(query.before_time)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ValueError("cursor: not a log cursor of the nucleus backend; pass back a next_cursor exactly")
    return int(cursor)


def _newest_first(infos: list[wire.JobInfo]) -> list[wire.JobInfo]:
    def key(info: wire.JobInfo) -> float:
        when = mapping.parse_time(info.job_creation_time)
        return when.timestamp() if when is not None else 0.0

    return sorted(infos, key=key, reverse=True)


# -- building uploads (in a worker thread: they read files) ---------------------------------------------------------


def _payload(operation: mapping.Operation, job_input: Any) -> _Payload:
    """The units to upload from the spec's input, each checked as Nucleus would (`ValueError` names the bad one)."""
    if isinstance(job_input, ItemsInput):
        units = [mapping.check_unit(operation, u, f"input.items[{n}]") for n, u in enumerate(job_input.items)]
        return _Payload(units=units)
    if job_input.includes or job_input.excludes:
        raise ValueError("input.includes: Nucleus uploads the files named; list them (or a directory of images)")
    if isinstance(job_input, DelimitedInput):
        return _Payload(units=[u for path in job_input.paths for u in _read_lines(operation, path)])
    assert isinstance(job_input, FilesInput)
    return _images(job_input.paths)


def _read_lines(operation: mapping.Operation, path: str) -> list[dict[str, Any]]:
    units = []
    with fsspec.open(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                unit = json.loads(line)
            except ValueError:
                raise ValueError(f"input.paths: {path}:{number} is not JSON; write one JSON object per line") from None
            units.append(mapping.check_unit(operation, unit, f"input.paths: {path}:{number}"))
    return units


def _images(paths: Sequence[str]) -> _Payload:
    """Images to append: remote ones by URL, local ones as files to send. A local directory, or a remote path that
    ends with `/` (a prefix), gives every file under it; another remote path is one image (Nucleus reads it)."""
    found: list[str] = []
    for path in paths:
        local = get_protocol(path) in LOCAL_PROTOCOLS
        if not local and not path.endswith("/"):
            found.append(path)
            continue
        fs, root = fsspec.url_to_fs(path)
        if fs.isdir(root):
            found += [f if local else fs.unstrip_protocol(f) for f in sorted(fs.find(root))]
        elif local:
            found.append(path)
        else:
            raise ValueError(f"input.paths: {path} lists no images; name a prefix that holds some")
    local_files = [p for p in found if get_protocol(p) in LOCAL_PROTOCOLS]
    if local_files and len(local_files) != len(found):
        raise ValueError("input.paths: Nucleus takes local and remote images in separate appends; split them")
    if not local_files:
        return _Payload(units=[{"reference_id": url, "image_url": url, "metadata": {}} for url in found])
    if len(local_files) > wire.LOCAL_FILES_PER_REQUEST:
        raise ValueError(
            f"input.paths: {len(local_files)} local images; Nucleus takes at most {wire.LOCAL_FILES_PER_REQUEST} "
            "in one upload: put them in storage (s3://...) and append their URLs, or append them in several jobs"
        )
    return _Payload(files=[fsspec.url_to_fs(p)[1] for p in local_files])


def _multipart(paths: Sequence[str], update: bool) -> tuple[bytes, str]:
    """The SDK's multipart body: `items` (a JSON array, each with `update`) then one `image` part per file."""
    items = [{"metadata": {}, "reference_id": p, "image_url": p, "update": update} for p in paths]
    files: list[tuple[str, tuple[str | None, bytes | str, str]]] = [
        ("items", (None, json.dumps(items), "application/json"))
    ]
    for path in paths:
        with open(path, "rb") as fh:
            files.append(("image", (path, fh.read(), f"image/{os.path.splitext(path)[1].lstrip('.') or 'jpeg'}")))
    request = httpx.Request("POST", "http://multipart.invalid/", files=files)
    return request.read(), request.headers["Content-Type"]

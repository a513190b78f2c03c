"""The PinexQ side of the local service: PinexQ's jobs and WorkData kept beside the engine's jobs, and the rules that
tie them together.

How PinexQ maps onto the local service:

- **Processing steps** are the service's steps: the step `<name>` of version `<v>` is the processing step whose
  `FunctionName` is `<name>` and `Version` `<v>`. Its parameters are the step's parameter model; it has one input
  slot (`input`: any number of WorkData, optional) and one output slot (`results`).
- **Jobs** are PinexQ records until they start; `StartProcessing` submits a job of the service:
  - without input WorkData a job is one call of its step: its one item is its configured parameters, and that
    item's result is the job's `Result` (JSON text); it writes no WorkData (the service's results of it are no
    WorkData, and go with the job);
  - with input WorkData its items are the WorkData's records, in the order selected; its results become its output
    WorkData, and `Result` is a summary of the counts.
  An item that fails fails the job (`Error`, with the item's error as `ErrorDescription`); nothing is retried.
  `SetJobToErrorState` stops a job that has not ended: it ends in `Error`, with the message given.
- **WorkData** are artifacts of the service, so the service's lineage holds them. An upload becomes one through a job
  of the built-in `identity` step over the file's records (JSON: the array's elements, or the value; JSON lines and
  text: each line; anything else: one record describing the file); the file itself is kept as uploaded for
  download. A job's results are its output artifact, shown as `ProcessingArtefact` WorkData of its `results` slot.
- **Sub-jobs** are sub-jobs of the service: a sub-job that starts once its parent has started is the service's
  sub-job of the parent's job (`parent_id`).
- **Deletion** follows PinexQ's rules, which are the service's lineage rules, and the service judges them: a job
  is not deleted while it runs, while output WorkData of it exists, or while it has sub-jobs; WorkData is not
  deleted while a job reads it. What only PinexQ knows (a job that has not started yet and has selected WorkData,
  or has sub-jobs) is held here as well, with the same rules. A refusal is a 409 problem naming every blocker. The
  service keeps each deleted job's tombstone and events.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from jobnode.core.models import (
    ArtifactsInput,
    DeleteBlocker,
    DelimitedInput,
    ItemsInput,
    JobSpec,
    JobState,
)
from jobnode.platforms.pinexq.emulator.events import CHANGED, DELETED, EventHub
from jobnode.platforms.pinexq.wire import JobStates, WorkDataKind
from jobnode.service.emulation import (
    Conflict,
    Document,
    InvalidRequest,
    JobService,
    NotFound,
    ServiceError,
    Unprocessable,
    validation_error,
)
from jobnode.service.steps import Step
from jobnode.service.views import ArtifactRecord, JobRecord

#: who the service records as the deleter of what PinexQ deletes
DELETED_BY = "pinexq"
#: the built-in step that turns an upload into an artifact
UPLOAD_STEP = "identity"
#: how long an upload may take to become an artifact
UPLOAD_TIMEOUT = 60.0
#: batches of a PinexQ job on the engine (a job is one call of its step, or one pass over its input's records)
BATCH_SIZE = 100
WORKERS = 4
INPUT_SLOT, OUTPUT_SLOT = "input", "results"
#: the longest name the engine keeps
NAME_MAX = 200
NDJSON = "application/x-ndjson"
_NDJSON_TYPES = frozenset({NDJSON, "application/jsonl", "application/x-jsonlines", "application/ndjson"})
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_PENDING = frozenset({JobState.CREATED, JobState.SCHEDULED, JobState.QUEUED})
RUNNING_STATES = frozenset({JobStates.PENDING, JobStates.PROCESSING})


def not_found(what: str, ident: str) -> ServiceError:
    return NotFound(f"{what} {ident!r} not found")


@dataclass(frozen=True)
class JobView:
    """A PinexQ job as it is now: its record here, its job on the engine once started, its PinexQ state."""

    doc: Document
    record: JobRecord | None
    state: JobStates
    step: Step | None

    @property
    def id(self) -> str:
        return self.doc.id

    @property
    def body(self) -> dict[str, Any]:
        return self.doc.body

    @property
    def started(self) -> bool:
        return self.record is not None


@dataclass(frozen=True)
class WorkDataView:
    """A WorkData: its record here and the artifact it is on the engine."""

    doc: Document
    artifact: ArtifactRecord

    @property
    def id(self) -> str:
        return self.doc.id

    @property
    def body(self) -> dict[str, Any]:
        return self.doc.body


def editable(view: JobView) -> bool:
    """Whether a job's processing can still be chosen: it has not started, nor been set to `Error`."""
    return not view.started and view.state is not JobStates.ERROR


def pinexq_of(request: Request) -> PinexQ:
    """The emulator's PinexQ of a request."""
    pinexq: PinexQ = request.app.state.pinexq
    return pinexq


def step_id(name: str, version: str) -> str:
    """A processing step's id in URLs: `<name>@<version>`, or a digest of both when they hold other characters."""
    if _SAFE_ID.match(name) and _SAFE_ID.match(version):
        return f"{name}@{version}"
    return "ps_" + sha1(f"{name}\0{version}".encode()).hexdigest()[:20]


def is_call(doc: Document) -> bool:
    """Whether a job is one call of its step (it has no input WorkData): it returns a value and writes no data."""
    return not doc.body["inputs"]


def records_of(content: bytes, media_type: str, filename: str) -> list[Any]:
    """The records of an uploaded file: a JSON array's elements (another JSON value is one record), each line of
    JSON lines or of text, and for any other file one record that describes it (its content in base64).

    Raises:
        InvalidRequest: the file claims to be JSON and is not.
    """
    kind = media_type.split(";")[0].strip().lower()
    suffix = Path(filename).suffix.lower()
    if kind in _NDJSON_TYPES or suffix in (".jsonl", ".ndjson"):
        records = []
        for number, line in enumerate(content.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise InvalidRequest(
                        "upload-file", f"line {number} is not JSON ({exc}); write one JSON value per line"
                    ) from None
        return records
    if kind == "application/json" or kind.endswith("+json") or suffix == ".json":
        try:
            value = json.loads(content)
        except ValueError as exc:
            raise InvalidRequest(
                "upload-file", f"not JSON ({exc}); upload it as application/octet-stream to keep it as bytes"
            ) from None
        return list(value) if isinstance(value, list) else [value]
    if kind.startswith("text/"):
        try:
            return [line for line in content.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise InvalidRequest(
                "upload-file", "text that is not UTF-8; upload it as application/octet-stream"
            ) from None
    return [
        {
            "name": filename,
            "media_type": kind,
            "size_in_bytes": len(content),
            "content_base64": base64.b64encode(content).decode(),
        }
    ]


class PinexQ:
    """PinexQ's jobs, WorkData and processing steps over a `JobService`."""

    def __init__(self, service: JobService, *, hub: EventHub | None = None) -> None:
        self.service = service
        self.records = service.documents("pinexq")
        self.uploads_dir = service.workspace("pinexq") / "uploads"
        self.uploads_dir.mkdir(exist_ok=True)
        self.hub = hub or EventHub()
        # one writer at a time: starting, settling and deleting read then write several records
        self._lock = threading.RLock()

    # -- processing steps ---------------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        return self.service.steps()

    def step(self, ps_id: str, *, field: str | None = None) -> Step:
        """The processing step with id `ps_id`, or a 404 (a 400 naming `field`, the request field that sent it)."""
        for step in self.steps():
            if step_id(step.name, step.version) == ps_id:
                return step
        if field is None:
            raise not_found("ProcessingStep", ps_id)
        raise InvalidRequest(field, f"no processing step {ps_id!r}; query the processing steps for their URLs")

    def _step_of(self, body: dict[str, Any]) -> Step | None:
        chosen = body.get("step")
        if not chosen:
            return None
        try:
            return self.service.step(chosen["name"], chosen["version"])
        except Unprocessable:
            return None  # no longer registered (the service restarted without its module)

    def check_parameters(self, step: Step, parameters: dict[str, Any]) -> None:
        """Refuse parameters the step's model does not accept, naming each field."""
        try:
            step.params_model.model_validate(parameters)
        except ValidationError as exc:
            raise validation_error(list(exc.errors()), prefix="Parameters.", status=400) from None

    # -- jobs ---------------------------------------------------------------------------------------------------

    def job_doc(self, job_id: str) -> Document:
        doc = self.records.get("job", job_id)
        if doc is None:
            raise not_found("Job", job_id)
        return doc

    def create_job(self, name: str | None, *, parent: str | None = None, **fields: Any) -> Document:
        """A new job (`Created`); `fields` set more of its record at once (a rapid setup's step, tags, ...)."""
        if not name or not name.strip():
            raise InvalidRequest("Name", "give the job a name")
        if parent is not None and self.records.get("job", parent) is None:
            raise InvalidRequest("ParentJobUrl", f"no job {parent!r}")
        body = {
            "name": name.strip(),
            "tags": [],
            "hidden": False,
            "output_deletable": True,
            "step": None,
            "parameters": None,
            "inputs": [],
            "parent": parent,
            "engine": None,
            "started": False,
            "error": None,
            "errored_at": None,
            "scheduled_at": None,
            "settled": False,
            "result": None,
            "error_description": None,
            **fields,
        }
        doc = self.records.insert("job", str(uuid.uuid4()), body)
        self.hub.publish(doc.id)
        return doc

    def view(self, doc: Document) -> JobView:
        return self.views([doc])[0]

    def job(self, job_id: str) -> JobView:
        return self.view(self.job_doc(job_id))

    def views(self, docs: Sequence[Document]) -> list[JobView]:
        """The PinexQ jobs as they are now (one read of their engine jobs); a job that has just ended is settled
        first (its result and output WorkData recorded)."""
        engine_ids = [d.body["engine"] for d in docs if d.body.get("engine")]
        records = {r.id: r for r in self.service.get_many(engine_ids)} if engine_ids else {}
        out = []
        for doc in docs:
            record = records.get(doc.body["engine"]) if doc.body.get("engine") else None
            if record is not None and record.is_terminal and not doc.body.get("settled"):
                doc = self._settle(doc.id)
                record = self.service.find(record.id)
            out.append(JobView(doc, record, self._state(doc, record), self._step_of(doc.body)))
        return out

    def _state(self, doc: Document, record: JobRecord | None) -> JobStates:
        if record is None:
            if doc.body.get("error") is not None:
                return JobStates.ERROR
            step = self._step_of(doc.body)
            if step is None:
                return JobStates.CREATED
            try:
                step.params_model.model_validate(doc.body.get("parameters") or {})
            except ValidationError:
                return JobStates.CREATED  # its parameters are still to be configured
            return JobStates.READY_FOR_PROCESSING
        if record.state in _PENDING:
            return JobStates.PENDING
        if record.state is JobState.RUNNING:
            return JobStates.PROCESSING
        return JobStates.COMPLETED if record.state is JobState.SUCCEEDED else JobStates.ERROR

    def _settle(self, job_id: str) -> Document:
        """Record what a job that has ended left: a call's `Result`, or a pass's summary and output WorkData; the
        error of a job that failed. (A call's results stay with the service's job, as no WorkData: a call returns a
        value and writes no data; deleting the job removes them.)"""
        with self._lock:
            doc = self.job_doc(job_id)
            if doc.body.get("settled"):
                return doc
            record = self.service.get(doc.body["engine"])
            call = is_call(doc)
            changes: dict[str, Any] = {"settled": True}
            if record.state is JobState.SUCCEEDED:
                if call:
                    first = next((line for art in record.outputs for line in self.service.artifact_lines(art.id)), None)
                    changes["result"] = first.decode("utf-8").strip() if first else None
                else:
                    changes["result"] = json.dumps(
                        {
                            "items": record.items_total,
                            "processed": record.items_processed,
                            "failed": record.items_failed,
                        }
                    )
            else:
                errors = self.service.errors(record.id, limit=1)
                changes["error_description"] = errors[0].message if errors else (record.reason or record.state.value)
            for art in [] if call else record.outputs:
                if self.records.get("workdata", art.id) is None:
                    self.records.insert(
                        "workdata",
                        art.id,
                        self._workdata_body(
                            name=f"{doc.body['name']}.{art.name}.jsonl",
                            media_type=art.media_type,
                            kind=WorkDataKind.PROCESSING_ARTEFACT,
                            producer=doc.id,
                        ),
                    )
            updated = self.records.update("job", job_id, **changes)
            assert updated is not None
            return updated

    def children(self, job_id: str) -> list[Document]:
        """The sub-jobs of a job, oldest first."""
        return self.records.all("job", where={"parent": job_id})

    def edit_job(self, job_id: str, **changes: Any) -> None:
        """Set fields of a job's record (tags, name, hidden, ...)."""
        with self._lock:
            self.job_doc(job_id)
            self.records.update("job", job_id, **changes)
        self.hub.publish(job_id)

    def _editable(self, job_id: str) -> JobView:
        """The job, if its processing can still be chosen (it has not started, nor been set to `Error`)."""
        view = self.job(job_id)
        if not editable(view):
            raise Conflict(f"job {job_id} is {view.state.value}; its processing can no longer change")
        return view

    def select_processing(self, job_id: str, step: Step) -> None:
        with self._lock:
            doc = self._editable(job_id).doc
            chosen = {"name": step.name, "version": step.version}
            # parameters belong to a step: another step starts without them
            parameters = doc.body["parameters"] if doc.body.get("step") == chosen else None
            self.records.update("job", job_id, step=chosen, parameters=parameters)
        self.hub.publish(job_id)

    def configure(self, job_id: str, parameters: dict[str, Any]) -> None:
        with self._lock:
            view = self._editable(job_id)
            if view.step is None:
                raise Conflict("select a processing step before configuring its parameters")
            self.check_parameters(view.step, parameters)
            self.records.update("job", job_id, parameters=parameters)
        self.hub.publish(job_id)

    def select_inputs(self, job_id: str, workdata_ids: Sequence[str], field: str) -> None:
        """Select the WorkData of the input slot (replacing what was selected)."""
        with self._lock:
            self._editable(job_id)
            for wd in workdata_ids:
                self.workdata(wd, field=field)
            self.records.update("job", job_id, inputs=list(dict.fromkeys(workdata_ids)))
        self.hub.publish(job_id)

    def start(self, job_id: str) -> JobRecord:
        """Run the job on the engine (see the module's docstring for what it runs over)."""
        with self._lock:
            view = self.job(job_id)
            if view.state is not JobStates.READY_FOR_PROCESSING or view.step is None:
                raise Conflict(f"job {job_id} is {view.state.value}; only a job ReadyForProcessing can start")
            body = view.body
            parameters = body.get("parameters") or {}
            parent_engine = None
            if body.get("parent"):
                parent = self.records.get("job", body["parent"])
                parent_engine = parent.body.get("engine") if parent is not None else None
            job_input: ArtifactsInput | ItemsInput = (
                ArtifactsInput(artifacts=list(body["inputs"])) if body["inputs"] else ItemsInput(items=[parameters])
            )
            spec = JobSpec(
                name=body["name"][:NAME_MAX],  # the engine's limit; the job keeps its whole name here
                step=view.step.name,
                step_version=view.step.version,
                params=parameters,
                input=job_input,
                batch_size=BATCH_SIZE,
                workers=WORKERS,
                max_attempts=1,
                max_item_failures=0,
                tags=["pinexq"],
                parent_id=parent_engine,
            )
            record = self.service.submit(spec).record
            self.records.update("job", job_id, engine=record.id, started=True, scheduled_at=time.time())
            self.records.insert("run", record.id, {"job": job_id}, job_id=record.id)
        self.hub.publish(job_id)
        return record

    def rapid_setup(
        self,
        name: str | None,
        *,
        step: Step,
        parameters: dict[str, Any],
        tags: list[str],
        inputs: list[str],
        parent: str | None,
        output_deletable: bool,
        start: bool,
    ) -> str:
        """`RapidSetupJob`: create a job with its step, parameters, tags and input at once and, with `start`, start
        it; everything is checked before anything is created, and a job that cannot start is not kept."""
        self.check_parameters(step, parameters)
        for wd in inputs:
            self.workdata(wd, field="InputDataSlots")
        doc = self.create_job(
            name,
            parent=parent,
            step={"name": step.name, "version": step.version},
            parameters=parameters,
            tags=tags,
            inputs=list(dict.fromkeys(inputs)),
            output_deletable=output_deletable,
        )
        if start:
            try:
                self.start(doc.id)
            except BaseException:
                self.records.delete("job", doc.id)
                self.hub.publish(doc.id, DELETED)
                raise
        return doc.id

    def set_error(self, job_id: str, message: str) -> None:
        """`SetJobToErrorState`: stop a job that has not ended; it ends in `Error` with `message`."""
        with self._lock:
            view = self.job(job_id)
            if view.record is not None:
                self.service.cancel(view.record.id, reason=message)
            else:
                self.records.update("job", job_id, error=message, errored_at=time.time())
        self.hub.publish(job_id)

    def job_of_run(self, engine_id: str) -> str | None:
        """The PinexQ job an engine job runs, if it runs one."""
        found = self.records.get("run", engine_id)
        return str(found.body["job"]) if found is not None else None

    def jobs_of_runs(self, engine_ids: Sequence[str]) -> list[str]:
        """The PinexQ jobs that some engine jobs run (engine jobs that run none, such as uploads, are left out)."""
        return [job for job in map(self.job_of_run, engine_ids) if job is not None]

    def delete_job(self, job_id: str) -> None:
        """Delete a job under the rules (see the module's docstring), or refuse with every blocker (409)."""
        with self._lock:
            view = self.job(job_id)
            blockers: list[DeleteBlocker] = []
            if view.state in RUNNING_STATES:
                blockers.append(
                    DeleteBlocker(
                        kind="job_state",
                        id=job_id,
                        reason=f"job {job_id} is {view.state.value}; a job that runs cannot be deleted",
                    )
                )
            blockers += [
                DeleteBlocker(
                    kind="subjob",
                    id=job_id,
                    reason=f"job {job_id} has sub-job {child.id}; delete the sub-job first",
                    by=child.id,
                )
                for child in self.children(job_id)
            ]
            if view.record is not None:
                # a call's results are no WorkData (see `_settle`): they go with the job
                plan = self.service.delete(
                    view.record.id, delete_outputs=is_call(view.doc), dry_run=bool(blockers), by=DELETED_BY
                )
                blockers += self._translate(plan.blockers)
            refuse("job", job_id, blockers)
            self.records.delete("job", job_id)
            if view.record is not None:
                self.records.delete("run", view.record.id)
        self.hub.publish(job_id, DELETED)

    # -- WorkData -----------------------------------------------------------------------------------------------

    @staticmethod
    def _workdata_body(
        *,
        name: str,
        media_type: str,
        kind: WorkDataKind,
        producer: str | None = None,
        upload_job: str | None = None,
        file: str | None = None,
        size: int | None = None,
        tags: Sequence[str] = (),
        secret: bool = False,
    ) -> dict[str, Any]:
        return {
            "name": name,
            "media_type": media_type,
            "kind": kind.value,
            "tags": list(tags),
            "comments": None,
            "hidden": False,
            "secret": secret,
            "deletable": True,
            "producer": producer,
            "upload_job": upload_job,
            "file": file,
            "size": size,
        }

    def workdata(self, workdata_id: str, *, field: str | None = None) -> WorkDataView:
        """A WorkData, or a 404 (a 400 naming `field` when a client sent its URL)."""
        doc = self.records.get("workdata", workdata_id)
        try:
            artifact = self.service.artifact(workdata_id) if doc is not None else None
        except NotFound:
            artifact = None
        if doc is None or artifact is None:
            if field is not None:
                raise InvalidRequest(field, f"no WorkData {workdata_id!r}")
            raise not_found("WorkData", workdata_id)
        return WorkDataView(doc, artifact)

    def all_workdata(self) -> list[WorkDataView]:
        out = []
        for doc in self.records.all("workdata"):
            try:
                out.append(WorkDataView(doc, self.service.artifact(doc.id)))
            except NotFound:
                continue
        return out

    def holders(self, workdata_id: str) -> list[str]:
        """The jobs that have not started and have selected the WorkData as input (the service does not know them
        yet: a job reads its input once it starts)."""
        return [d.id for d in self.records.all("job", where={"started": False}) if workdata_id in d.body["inputs"]]

    def is_used(self, wd: WorkDataView) -> bool:
        return bool(wd.artifact.consumers) or bool(self.holders(wd.id))

    def is_deletable(self, wd: WorkDataView) -> bool:
        """Whether deleting is allowed at all (`AllowDeletion`, and the producer's `AllowOutputDataDeletion`); a
        deletion may still be refused by the lineage rules."""
        if not wd.body.get("deletable", True):
            return False
        producer = self.records.get("job", wd.body["producer"]) if wd.body.get("producer") else None
        return producer is None or bool(producer.body.get("output_deletable", True))

    def producer_of(self, wd: WorkDataView) -> str | None:
        return str(wd.body["producer"]) if wd.body.get("producer") else None

    def start_upload(self, filename: str, media_type: str, content: bytes) -> tuple[str, str]:
        """Keep an uploaded file and start the job that turns its records into an artifact; returns the engine
        job's id and where the file is kept."""
        records = records_of(content, media_type, filename)
        path = self.uploads_dir / uuid.uuid4().hex
        path.write_bytes(content)
        spec = JobSpec(
            name=f"upload {filename}"[:NAME_MAX],
            step=UPLOAD_STEP,
            # where the records came from; the records themselves are given directly
            input=DelimitedInput(paths=[str(path)]),
            batch_size=10_000,
            max_attempts=1,
            tags=["pinexq-upload"],
        )
        try:
            record = self.service.submit(spec, items=records).record
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return record.id, str(path)

    async def ended(self, engine_id: str, timeout: float = UPLOAD_TIMEOUT) -> JobRecord:
        """The engine job once it has ended (waiting for its change notices, not polling)."""
        async with asyncio.timeout(timeout), self.service.subscribe([engine_id]) as changes:
            while True:
                record = await asyncio.to_thread(self.service.get, engine_id)
                if record.is_terminal:
                    return record
                await changes.next(timeout=1.0)

    def finish_upload(
        self,
        record: JobRecord,
        *,
        filename: str,
        media_type: str,
        path: str,
        size: int,
        tags: Sequence[str],
        secret: bool,
    ) -> str:
        """The WorkData of a finished upload job."""
        if record.state is not JobState.SUCCEEDED or not record.outputs:
            Path(path).unlink(missing_ok=True)
            raise ServiceError(f"the upload could not be stored: {record.reason or record.state.value}", status=500)
        artifact = record.outputs[0]
        body = self._workdata_body(
            name=filename,
            media_type=media_type,
            kind=WorkDataKind.CLIENT_UPLOAD,
            upload_job=record.id,
            file=path,
            size=size,
            tags=tags,
            secret=secret,
        )
        self.records.insert("workdata", artifact.id, body)
        return artifact.id

    def content(self, wd: WorkDataView) -> bytes:
        """What downloading the WorkData gives: the file as uploaded, or a job's results as JSON lines."""
        return Path(wd.body["file"] or wd.artifact.path).read_bytes()

    def edit_workdata(self, workdata_id: str, **changes: Any) -> None:
        with self._lock:
            wd = self.workdata(workdata_id)
            self.records.update("workdata", workdata_id, **changes)
        if producer := self.producer_of(wd):
            self.hub.publish(producer)

    def delete_workdata(self, workdata_id: str) -> None:
        """Delete a WorkData unless it is protected or a job reads it (or a job that has not started selected it);
        a refusal is a 409 naming every blocker."""
        with self._lock:
            wd = self.workdata(workdata_id)
            blockers: list[DeleteBlocker] = []
            if not self.is_deletable(wd):
                blockers.append(
                    DeleteBlocker(
                        kind="protected",
                        id=wd.id,
                        reason=f"WorkData {wd.id} is not deletable; allow its deletion first "
                        "(AllowDeletion, or its job's AllowOutputDataDeletion)",
                    )
                )
            blockers += [
                DeleteBlocker(
                    kind="consumer",
                    id=wd.id,
                    reason=f"WorkData {wd.id} is selected as input of job {holder}; clear that input or delete the "
                    "job first",
                    by=holder,
                )
                for holder in self.holders(wd.id)
            ]
            dry = bool(blockers)
            if wd.body.get("upload_job"):
                plan = self.service.delete(wd.body["upload_job"], delete_outputs=True, dry_run=dry, by=DELETED_BY)
            else:
                plan = self.service.delete_artifact(wd.id, dry_run=dry, by=DELETED_BY)
            blockers += self._translate(plan.blockers)
            refuse("WorkData", wd.id, blockers)
            self.records.delete("workdata", wd.id)
            if wd.body.get("file"):
                Path(wd.body["file"]).unlink(missing_ok=True)
        if producer := self.producer_of(wd):
            self.hub.publish(producer)

    # -- the service's blockers in PinexQ's words ---------------------------------------------------------------

    def _translate(self, blockers: Sequence[DeleteBlocker]) -> list[DeleteBlocker]:
        """The service's blockers with PinexQ's ids (its engine jobs are PinexQ jobs, its artifacts WorkData)."""
        out = []
        for b in blockers:
            job = self.job_of_run(b.id) or b.id
            by = (self.job_of_run(b.by) or b.by) if b.by else None
            if b.kind == "job_state":
                reason = f"job {job} runs; a job that runs cannot be deleted"
            elif b.kind == "outputs":
                reason = f"job {job} still has output WorkData {by}; delete the WorkData first"
            elif b.kind == "subjob":
                reason = f"job {job} has sub-job {by}; delete the sub-job first"
            elif b.kind == "consumer":
                reason = f"WorkData {b.id} is an input of job {by}; delete that job first"
                job = b.id
            else:
                reason = b.reason
            out.append(DeleteBlocker(kind=b.kind, id=job, reason=reason, by=by))
        return out


def refuse(what: str, ident: str, blockers: Sequence[DeleteBlocker]) -> None:
    """Raise the 409 of a refused deletion, naming every blocker once."""
    unique = list({(b.kind, b.id, b.by): b for b in blockers}.values())
    if unique:
        raise Conflict(
            f"{what} {ident} cannot be deleted: " + "; ".join(b.reason for b in unique),
            details={"blockers": [b.model_dump(mode="json") for b in unique]},
        )


__all__ = [
    "CHANGED",
    "DELETED",
    "JobView",
    "PinexQ",
    "WorkDataView",
    "editable",
    "pinexq_of",
    "records_of",
    "refuse",
    "step_id",
]

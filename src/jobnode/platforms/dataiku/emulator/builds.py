"""DSS build jobs, run by the local service.

A job is a document of the service (`job`, its DSS id, scoped to its project) holding its definition and its
activities, planned when it starts (`flow.plan_build`). Activities run one at a time, upstream first: each is a job of
the engine that runs the recipe's processing step over the records of its sources (a recipe that reads no dataset
gets one record describing the build: `{"projectKey", "dataset", "partition"}`), and its results become the data of
the partition it builds. An item that fails fails the activity, and the job with it (the activities after it do not
run); a batch that fails and is retried is a warning. Aborting cancels the activity in flight.

States: `NOT_STARTED` until the first activity's engine job runs, `RUNNING`, then `DONE`, `FAILED` or `ABORTED`
(`stableState` true). The job moves on from one activity to the next as the engine ends them (`driver`).

The log is the job's own lines (start, plan, each activity's start and end, the end) and each activity's engine log
entries, in time order, one line each: `[2024/01/31-08:00:00.123] [thread] [LEVEL] [logger] act.<activity> - ...`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from jobnode.core.backend import LogQuery
from jobnode.core.models import ItemsInput, JobSpec, JobState, LogLevel
from jobnode.platforms.dataiku import mapping, wire
from jobnode.platforms.dataiku.emulator.data import Datasets, now_ms
from jobnode.platforms.dataiku.emulator.errors import bad, unknown
from jobnode.platforms.dataiku.emulator.flow import Flows, PlannedActivity, plan_build
from jobnode.service.emulation import Document, Documents, JobService, NotFound, ServiceError
from jobnode.service.views import JobRecord

KIND = "job"
#: how the engine cuts an activity's records: batches of 100, four at a time
BATCH_SIZE, WORKERS = 100, 4
INITIATOR = "API (jobnode)"
JOB_LOGGER, ACTIVITY_LOGGER, THREAD = "dku.flow.jobs", "dku.flow.activity", "jobnode"
_ENGINE_STATES = {
    JobState.SUCCEEDED: wire.DONE,
    JobState.FAILED: wire.FAILED,
    JobState.TIMED_OUT: wire.FAILED,
    JobState.CANCELLED: wire.ABORTED,
}
_WAITING = (JobState.CREATED, JobState.SCHEDULED, JobState.QUEUED)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_END_LEVELS = {wire.DONE: "INFO", wire.FAILED: "ERROR", wire.ABORTED: "WARN"}


def _micros() -> int:
    return int(time.time() * 1_000_000)


def _ms(seconds: float | None) -> int:
    return int(seconds * 1000) if seconds else 0


class Builds:
    """The DSS jobs of every project, over a `JobService`."""

    def __init__(self, service: JobService, documents: Documents, datasets: Datasets, flows: Flows) -> None:
        self.service = service
        self.docs = documents
        self.datasets = datasets
        self.flows = flows
        self._lock = threading.RLock()
        #: engine job id -> DSS job id, for the activities in flight
        self._owned: dict[str, str] = {}

    # -- starting -----------------------------------------------------------------------------------------------

    def start(self, project_key: str, definition: wire.JobDefinition) -> dict[str, Any]:
        """Start a job; returns its definition (`id` and all), as `POST .../jobs/` answers.

        Raises:
            ServiceError: an output the flow cannot build (400 naming `outputs.N....`, 404 for an unknown dataset).
        """
        flow = self.flows.get(project_key)
        targets: list[tuple[str, str]] = []
        for index, output in enumerate(definition.outputs):
            where = f"outputs.{index}"
            if output.type not in (None, "DATASET"):
                raise bad(f"{where}.type: this emulator builds datasets, not {output.type} outputs")
            if output.project_key not in (None, project_key):
                raise bad(f"{where}.projectKey: a job of project {project_key} builds its own datasets")
            dataset = flow.dataset(output.id)
            if dataset is None:
                hint = (
                    "declare it in the project's flow"
                    if self.flows.is_declared(project_key)
                    else f"the emulator builds a dataset D with the processing step compute_D, and there is no step "
                    f"compute_{output.id}"
                )
                raise unknown(f"{where}.id: dataset {project_key}.{output.id} does not exist ({hint})")
            if dataset.recipe is None:
                raise bad(f"{where}.id: dataset {output.id} is an uploaded dataset: no recipe builds it")
            try:
                targets.append((dataset.name, dataset.partition(output.partition, field=f"{where}.partition")))
            except ValueError as exc:
                raise bad(str(exc)) from None
        with self._lock:
            plan = plan_build(flow, targets, definition.type, partial(self.datasets.built_at, project_key))
            job_def = self._definition(project_key, definition, targets)
            body = {
                "def": job_def.to_wire(),
                "state": wire.NOT_STARTED,
                "stable": False,
                "startTime": 0,
                "endTime": 0,
                "activities": [_activity(a) for a in plan],
                "events": [],
            }
            _event(body, "INFO", f"Job {job_def.id} started by {INITIATOR}: {definition.type} of {_targets(targets)}")
            _event(body, "INFO", f"Build plan: {len(plan)} activities: {', '.join(a.activity_id for a in plan)}")
            self.docs.insert(KIND, job_def.id, body, scope=project_key)
            self._advance(job_def.id)
        return job_def.to_wire()

    def _definition(
        self, project_key: str, definition: wire.JobDefinition, targets: list[tuple[str, str]]
    ) -> wire.JobDef:
        now = now_ms()
        dataset, partition = targets[0]
        name = f"build_{dataset}_{_UNSAFE.sub('_', partition)}"
        stamp = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]
        job_id = f"{name}_{stamp}"
        suffix = 1
        while self.docs.get(KIND, job_id) is not None:  # two jobs of one dataset in one millisecond
            suffix += 1
            job_id = f"{name}_{stamp}_{suffix}"
        return wire.JobDef(
            id=job_id,
            project_key=project_key,
            type=definition.type,
            name=name,
            initiator=INITIATOR,
            initiation_timestamp=now,
            outputs=[
                wire.TargetRef(target_dataset=d, target_dataset_project_key=project_key, target_partition=p)
                for d, p in targets
            ],
            refresh_hive_metastore=definition.refresh_hive_metastore,
            auto_update_schema=definition.auto_update_schema,
        )

    # -- moving on ----------------------------------------------------------------------------------------------

    def owned(self, engine_ids: Iterable[str]) -> set[str]:
        """The DSS jobs whose activities in flight are among these engine jobs."""
        owned = self._owned
        return {owned[e] for e in engine_ids if e in owned}

    def advance(self, job_ids: Iterable[str]) -> None:
        """Move these jobs on: finish the activity whose engine job ended, start the next one, end the job."""
        for job_id in job_ids:
            self._advance(job_id)

    def advance_all(self) -> None:
        """Move on every job that has not ended (after a restart, the engine went on without the emulator)."""
        self.advance(d.id for d in self.docs.all(KIND, where={"stable": False}))

    def _advance(self, job_id: str) -> None:
        with self._lock:
            while True:
                doc = self.docs.get(KIND, job_id)
                if doc is None or doc.body["stable"]:
                    return
                body = doc.body
                current = next((a for a in body["activities"] if a["state"] == wire.RUNNING), None)
                if current is not None:
                    record = self.service.find(current["engine"])
                    if record is not None and not record.is_terminal:
                        self._owned[current["engine"]] = job_id  # again, after a restart
                        return
                    self._finish_activity(doc.scope, job_id, body, current, record)
                    if current["state"] != wire.DONE:
                        self._end(body, current["state"])
                else:
                    following = next((a for a in body["activities"] if a["state"] == wire.NOT_STARTED), None)
                    if following is None:
                        self._end(body, wire.DONE)
                    else:
                        self._start_activity(doc.scope, job_id, body, following)
                        if following["state"] == wire.FAILED:
                            self._end(body, wire.FAILED)
                self.docs.update(KIND, job_id, **body)

    def _start_activity(self, project_key: str, job_id: str, body: dict[str, Any], activity: dict[str, Any]) -> None:
        sources: list[list[str]] = activity["sources"]
        build = {"projectKey": project_key, "dataset": activity["dataset"], "partition": activity["partition"]}
        try:
            step = self.service.step(activity["step"])
            items = [r for dataset, part in sources for r in self.datasets.records(project_key, dataset, part)]
            spec = JobSpec(
                name=f"{project_key}.{activity['id']}"[:200],
                step=step.name,
                step_version=step.version,
                params=activity["params"],
                input=ItemsInput(items=[build]),  # where the records came from; the engine is given them below
                batch_size=BATCH_SIZE,
                workers=WORKERS,
                tags=["dataiku", project_key, job_id],
            )
            started = _micros()  # before the engine runs it: its first entries come after this line
            record = self.service.submit(spec, items=items if sources else [build]).record
        except ServiceError as exc:
            activity.update(state=wire.FAILED, error=f"recipe {activity['recipe']} cannot run: {exc.message}")
            _event(body, "ERROR", f"Activity failed: {activity['error']}", activity["id"])
            return
        now = started // 1000
        activity.update(state=wire.RUNNING, engine=record.id, startTime=now)
        body["startTime"] = body["startTime"] or now
        self._owned[record.id] = job_id
        origin = f"{len(items)} records of {_sources(sources)}" if sources else "no input dataset"
        _event(
            body,
            "INFO",
            f"Running recipe {activity['recipe']} (step {step.name} {step.version}) over {origin} into "
            f"{activity['dataset']} ({activity['partition']})",
            activity["id"],
            at=started,
        )

    def _finish_activity(
        self,
        project_key: str,
        job_id: str,
        body: dict[str, Any],
        activity: dict[str, Any],
        record: JobRecord | None,
    ) -> None:
        self._owned.pop(activity["engine"], None)
        if record is None:
            activity.update(state=wire.FAILED, endTime=now_ms(), error="its run was deleted")
        else:
            state = _ENGINE_STATES[record.state]
            activity.update(
                state=state,
                endTime=_ms(record.ended_at) or now_ms(),
                warnings=self._warnings(record.id),
                error=None if state == wire.DONE else (record.reason or record.state.value),
            )
        if activity["state"] == wire.DONE and record is not None and record.outputs:
            written = self.datasets.record_build(
                project_key, activity["dataset"], activity["partition"], record.outputs[0].id, job_id
            )
            took = (activity["endTime"] - activity["startTime"]) / 1000
            _event(
                body,
                "INFO",
                f"Activity done: {written} records written to {activity['dataset']} ({activity['partition']}) "
                f"in {took:.1f} s",
                activity["id"],
            )
        elif activity["state"] == wire.ABORTED:
            _event(body, "WARN", "Activity aborted", activity["id"])
        else:
            _event(body, "ERROR", f"Activity failed: {activity['error']}", activity["id"])

    def _warnings(self, engine_id: str) -> int:
        """Batches that failed and were retried."""
        rows = self.service.logs(engine_id, LogQuery(kind="BatchFailed", limit=10_000)).rows
        return sum(1 for r in rows if r.status == "Retrying")

    def _end(self, body: dict[str, Any], state: str) -> None:
        body.update(state=state, stable=True, endTime=now_ms())
        done = sum(1 for a in body["activities"] if a["state"] == wire.DONE)
        _event(body, _END_LEVELS[state], f"Job {state}: {done} of {len(body['activities'])} activities done")

    def abort(self, project_key: str, job_id: str) -> None:
        """Abort a job: cancel the activity in flight; the others never run (a job that has ended is unchanged)."""
        with self._lock:
            doc = self.get(project_key, job_id)
            body = doc.body
            if body["stable"]:
                return
            _event(body, "WARN", "Abort requested")
            current = next((a for a in body["activities"] if a["state"] == wire.RUNNING), None)
            if current is not None:
                try:
                    record: JobRecord | None = self.service.cancel(current["engine"], reason="the job was aborted")
                except NotFound:
                    record = None
                self._finish_activity(project_key, job_id, body, current, record)
            self._end(body, wire.ABORTED)
            self.docs.update(KIND, job_id, **body)

    # -- reading ------------------------------------------------------------------------------------------------

    def get(self, project_key: str, job_id: str) -> Document:
        doc = self.docs.get(KIND, job_id, scope=project_key)
        if doc is None:
            raise unknown(f"Job {job_id} not found in project {project_key}")
        return doc

    def jobs(self, project_key: str | None, *, running: bool = False) -> list[Document]:
        """The jobs of a project (of every project when None), newest first; with `running`, those not ended."""
        docs = self.docs.all(KIND, scope=project_key, where={"stable": False} if running else None)
        return docs[::-1]

    def project_keys(self) -> set[str]:
        return {d.scope for d in self.docs.all(KIND)}

    def status(self, doc: Document) -> dict[str, Any]:
        """`GET .../jobs/{id}/`: the job's state, its activities and their counts."""
        return self._statuses([doc])[0].to_wire()

    def summaries(self, docs: list[Document]) -> list[dict[str, Any]]:
        """The jobs as `GET .../jobs/` lists them."""
        out = []
        for status in self._statuses(docs):
            base = status.base_status
            summary = wire.JobSummary(
                definition=base.definition,
                state=base.state,
                stable_state=base.stable_state,
                start_time=base.start_time,
                end_time=base.end_time,
                warnings_count=base.warnings_count,
                job_id=base.definition.id,
                project_key=base.definition.project_key,
            )
            out.append(summary.to_wire())
        return out

    def _statuses(self, docs: list[Document]) -> list[wire.JobStatus]:
        in_flight = [a["engine"] for d in docs for a in d.body["activities"] if a["state"] == wire.RUNNING]
        records = {r.id: r for r in self.service.get_many(in_flight)} if in_flight else {}
        return [_status(d, records) for d in docs]

    def log_text(self, doc: Document, activity: str | None = None) -> str:
        """The job's log (of one activity's lines when `activity` is given)."""
        activities = doc.body["activities"]
        if activity is not None and activity not in {a["id"] for a in activities}:
            known = ", ".join(a["id"] for a in activities)
            raise unknown(f"activity: job {doc.id} has no activity {activity!r}; its activities: {known}")
        lines: list[tuple[int, int, str]] = []
        for at, level, owner, message in doc.body["events"]:
            if activity is None or owner == activity:
                level_ = mapping.parse_level(level) or LogLevel.INFO
                text = mapping.log_line(_at(at), level_, message, logger=JOB_LOGGER, thread=THREAD, activity=owner)
                lines.append((at, len(lines), text))
        for entry in activities:
            if entry["engine"] and activity in (None, entry["id"]):
                for at, level_, message in self._engine_lines(entry["engine"]):
                    text = mapping.log_line(
                        _at(at), level_, message, logger=ACTIVITY_LOGGER, thread=THREAD, activity=entry["id"]
                    )
                    lines.append((at, len(lines), text))
        lines.sort()
        return "".join(text + "\n" for _, _, text in lines)

    def _engine_lines(self, engine_id: str) -> Iterator[tuple[int, LogLevel, str]]:
        """An activity's engine log entries as (time, level, message); a retried batch failure is a warning."""
        cursor = None
        while True:
            try:
                page = self.service.logs(engine_id, LogQuery(limit=1000, cursor=cursor))
            except NotFound:
                return
            for row in page.rows:
                retried = row.kind == "BatchFailed" and row.status == "Retrying"
                level = LogLevel.WARNING if retried else row.log_level
                parts = [row.kind, row.item or "", f"[{row.status}]" if row.status else ""]
                text = " ".join(p for p in parts if p)
                if row.duration_ms is not None:
                    text += f" ({row.duration_ms:.1f} ms)"
                if row.message:
                    text += f": {row.message}"
                yield row.time, level, text
            cursor = page.next_cursor
            if cursor is None:
                return


def _status(doc: Document, records: dict[str, JobRecord]) -> wire.JobStatus:
    body = doc.body
    activities: dict[str, wire.Activity] = {}
    counts = wire.GlobalState()
    for entry in body["activities"]:
        state = entry["state"]
        record = records.get(entry["engine"] or "")
        if state == wire.RUNNING and record is not None and record.state in _WAITING:
            state = wire.NOT_STARTED  # its engine job has not started running yet
        activities[entry["id"]] = wire.Activity(
            activity_id=entry["id"],
            recipe_name=entry["recipe"],
            recipe_type="python",
            state=state,
            start_time=entry["startTime"],
            end_time=entry["endTime"],
            warnings_count=entry["warnings"],
            targets=[_ref(doc.scope, entry["dataset"], entry["partition"])],
            sources=[_ref(doc.scope, d, p) for d, p in entry["sources"]],
            error_message=entry["error"],
        )
        _count(counts, state)
    if body["stable"]:
        state = body["state"]
    else:
        started = any(a.state in (wire.RUNNING, wire.DONE) for a in activities.values())
        state = wire.RUNNING if started else wire.NOT_STARTED
    return wire.JobStatus(
        base_status=wire.BaseStatus(
            definition=wire.JobDef.model_validate(body["def"]),
            state=state,
            stable_state=body["stable"],
            start_time=0 if state == wire.NOT_STARTED else body["startTime"],  # handed to the engine, not running
            end_time=body["endTime"],
            warnings_count=sum(a.warnings_count for a in activities.values()),
            activities=activities,
        ),
        global_state=counts,
    )


def _count(counts: wire.GlobalState, state: str) -> None:
    counts.total += 1
    if state == wire.DONE:
        counts.done += 1
    elif state == wire.FAILED:
        counts.failed += 1
    elif state == wire.ABORTED:
        counts.aborted += 1
    elif state == wire.RUNNING:
        counts.running += 1
    else:
        counts.not_started += 1


def _ref(project_key: str, dataset: str, partition: str) -> wire.DatasetRef:
    return wire.DatasetRef(project_key=project_key, dataset_name=dataset, partition=partition)


def _activity(planned: PlannedActivity) -> dict[str, Any]:
    return {
        "id": planned.activity_id,
        "dataset": planned.dataset,
        "partition": planned.partition,
        "recipe": planned.recipe,
        "step": planned.step,
        "params": dict(planned.params),
        "sources": [list(s) for s in planned.sources],
        "state": wire.NOT_STARTED,
        "engine": None,
        "startTime": 0,
        "endTime": 0,
        "warnings": 0,
        "error": None,
    }


def _event(
    body: dict[str, Any], level: str, message: str, activity: str | None = None, *, at: int | None = None
) -> None:
    body["events"].append([at or _micros(), level, activity, message])


def _at(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


def _targets(targets: list[tuple[str, str]]) -> str:
    return ", ".join(f"{d} ({p})" for d, p in targets)


def _sources(sources: list[list[str]]) -> str:
    return ", ".join(f"{d} ({p})" for d, p in sources)

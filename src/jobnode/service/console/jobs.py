"""The jobs list and a job's page, and the live streams that keep both current without reloading.

Every read goes through `JobService`; a job page reads one page of logs, the most recent errors, the first records
of each output and the job's neighbours in the lineage, so it opens as fast with a million log entries as with ten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.core.models import JobState
from jobnode.service.console.artifacts import preview
from jobnode.service.console.lineage import lineage_of
from jobnode.service.console.live import Parts, follow
from jobnode.service.console.logs import LogFilters, log_view
from jobnode.service.console.pages import page, render, session_of
from jobnode.service.errors import JobDeleted, ServiceError
from jobnode.service.jobs import JobService
from jobnode.service.views import CONSOLE_PATH, JobRecord

router = APIRouter(prefix=f"{CONSOLE_PATH}/jobs")

#: jobs on one page of the list
PAGE_SIZE = 50
#: errors and dead letters shown on a job's page (the most recent first)
RECENT = 20
#: the inline items of a job's spec shown on its page
SPEC_ITEMS = 20
#: specs longer than this (in characters) are shown without reading most of their inline items
BIG_SPEC = 1 << 20
#: spec fields whose values are secrets
SECRET_FIELDS = frozenset({"secret", "token", "password", "api_key"})


def service_of(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def platform_of(record: JobRecord, platforms: Sequence[str]) -> str:
    """The platform a job came through: the emulator whose name it is tagged with, else `local`."""
    return next((tag for tag in record.tags if tag in platforms), "local")


def percent(record: JobRecord) -> float:
    """How much of the job is done, for its progress bar (a job that ended with nothing to do is done)."""
    if record.items_total:
        return round(100.0 * record.items_done / record.items_total, 1)
    return 100.0 if record.is_terminal else 0.0


def elapsed(record: JobRecord) -> float | None:
    if record.started_at is None:
        return None
    return (record.ended_at or time.time()) - record.started_at


# -- the list -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    """The jobs list's filters, as given in its address; `problems` says which ones could not be read."""

    state: str = ""
    name: str = ""
    tag: str = ""
    created_after: str = ""
    created_before: str = ""
    cursor: str = ""

    @classmethod
    def of(cls, request: Request) -> ListFilters:
        q = request.query_params
        return cls(**{name: q.get(name, "").strip() for name in cls.__dataclass_fields__})

    def params(self, *, cursor: str | None = None) -> dict[str, str]:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields["cursor"] = cursor or ""
        return fields

    def problems(self) -> list[str]:
        found = []
        if self.state and self.state not in {s.value for s in JobState}:
            found.append(f"state: unknown state {self.state!r}; pick one from the list")
        for name in ("created_after", "created_before"):
            try:
                _utc(getattr(self, name))
            except ValueError:
                found.append(f"{name}: give a date and time such as 2026-01-31T14:30 (UTC)")
        return found


def _utc(text: str) -> datetime | None:
    """A date and time from a form (`2026-01-31T14:30`, UTC unless it says otherwise)."""
    if not text:
        return None
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def list_context(service: JobService, filters: ListFilters, platforms: Sequence[str]) -> dict[str, Any]:
    """What the list's rows and pager show."""
    jobs = service.list(
        states=[JobState(filters.state)] if filters.state else None,
        name=filters.name or None,
        tag=filters.tag or None,
        created_after=_utc(filters.created_after),
        created_before=_utc(filters.created_before),
        limit=PAGE_SIZE,
        cursor=filters.cursor or None,
    )
    return {
        "rows": [
            {"record": r, "platform": platform_of(r, platforms), "percent": percent(r), "elapsed": elapsed(r)}
            for r in jobs.records
        ],
        "filters": filters,
        "next_cursor": jobs.next_cursor,
        "prev_cursor": jobs.prev_cursor,
    }


def list_parts(service: JobService, filters: ListFilters, platforms: Sequence[str]) -> Parts:
    context = list_context(service, filters, platforms)
    return {"job-rows": render("_job_rows.html", **context), "pager": render("_pager.html", **context)}, False


@router.get("")
async def jobs_list(request: Request) -> Response:
    """The jobs, newest first, with filters; the rows follow the jobs' changes live."""
    filters = ListFilters.of(request)
    problems = filters.problems()
    context: dict[str, Any] = {"rows": [], "next_cursor": None, "prev_cursor": None}
    if not problems:
        try:
            context = await run_in_threadpool(list_context, service_of(request), filters, request.app.state.platforms)
        except ServiceError as exc:
            problems = [exc.message]
    return page(
        request,
        "jobs.html",
        status=400 if problems else 200,
        filters=filters,
        problems=problems,
        states=[s.value for s in JobState],
        deleted=request.query_params.get("deleted", ""),
        live=not problems,
        **{k: v for k, v in context.items() if k != "filters"},
    )


@router.get("/live")
def jobs_live(request: Request) -> Response:
    """Server-sent events: the list's rows and pager, again after each change of any job."""
    filters = ListFilters.of(request)
    if problems := filters.problems():
        raise ServiceError("; ".join(problems))
    service = service_of(request)
    return follow(service, None, lambda: list_parts(service, filters, request.app.state.platforms))


# -- one job -------------------------------------------------------------------------------------------------------


def spec_view(record: JobRecord) -> dict[str, Any]:
    """The job's spec as shown: secrets hidden, and only the first inline items (a job may hold a million)."""
    spec = _first_items_only(record.spec_json, record.items_total) if len(record.spec_json) > BIG_SPEC else None
    if spec is None:
        spec = json.loads(record.spec_json)
        items = spec.get("input", {}).get("items")
        if isinstance(items, list) and len(items) > SPEC_ITEMS:
            spec["input"]["items"] = [*items[:SPEC_ITEMS], _more(len(items) - SPEC_ITEMS)]
    hidden: dict[str, Any] = _hide_secrets(spec)
    return hidden


def _more(count: int) -> str:
    return f"… and {count:,} more items"


#: where the service's stored spec (pydantic's compact JSON) holds inline items, and what follows them
ITEMS_START, ITEMS_END = '"input":{"kind":"items","items":[', ']},"batch_size":'


def _first_items_only(spec_json: str, items_total: int) -> dict[str, Any] | None:
    """A big spec read without most of its inline items (parsing a million of them takes longer than the rest of
    the page). The last `ITEMS_END` is the spec's own: the fields after the input (batch size, workers, tags,
    webhook) hold no such text, and inside a JSON string a `"` next to `,` or `:` is always escaped. None when the
    spec is not so (then it is parsed whole)."""
    start, end = spec_json.find(ITEMS_START), spec_json.rfind(ITEMS_END)
    if start < 0 or end < start:
        return None
    try:
        spec = json.loads(spec_json[:start] + ITEMS_START + ITEMS_END + spec_json[end + len(ITEMS_END) :])
        decoder, at = json.JSONDecoder(), start + len(ITEMS_START)
        first: list[Any] = []
        while at < end and len(first) < SPEC_ITEMS:
            item, at = decoder.raw_decode(spec_json, at)
            first.append(item)
            at += spec_json.startswith(",", at)
    except json.JSONDecodeError:
        return None
    if not isinstance(spec, dict) or spec.get("input") != {"kind": "items", "items": []}:
        return None
    spec["input"]["items"] = [*first, _more(items_total - len(first))] if at < end else first
    return spec


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "(hidden)" if k in SECRET_FIELDS and v else _hide_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v) for v in value]
    return value


def job_context(service: JobService, record: JobRecord, platforms: Sequence[str]) -> dict[str, Any]:
    """What a job's live parts show (everything but its logs and spec)."""
    dead = service.dead_letters(record.id)
    return {
        "job": record,
        "platform": platform_of(record, platforms),
        "percent": percent(record),
        "elapsed": elapsed(record),
        "progress": record.progress_json(),
        "errors": service.errors(record.id, RECENT),
        "dead_letters": dead[:RECENT],
        "dead_total": len(dead),
        "events": service.events(record.id),
        "outputs": [preview(service, a) for a in record.outputs],
        "lineage": lineage_of(service, record),
    }


JOB_PARTS = {
    "summary": "_summary.html",
    "actions": "_actions.html",
    "activity": "_activity.html",
    "outputs": "_outputs.html",
    "lineage": "_lineage.html",
}


def job_parts(service: JobService, job_id: str, platforms: Sequence[str], csrf: str) -> Parts:
    record = service.get(job_id)
    context = job_context(service, record, platforms)
    parts = {key: render(template, csrf=csrf, **context) for key, template in JOB_PARTS.items()}
    parts["announce"] = f"Job {record.name}: {record.state.value.replace('_', ' ')}"
    return parts, record.is_terminal


@router.get("/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    """A job: its state, progress, times, actions, errors, events, outputs, lineage, logs and spec."""
    service = service_of(request)
    filters = LogFilters.of(request.query_params)
    try:
        context = await run_in_threadpool(_job_page_context, service, job_id, filters, request.app.state.platforms)
    except JobDeleted as exc:
        events = await run_in_threadpool(service.events, job_id)
        return page(request, "deleted.html", status=404, job_id=job_id, tombstone=exc.details, events=events)
    return page(request, "job.html", **context)


def _job_page_context(
    service: JobService, job_id: str, filters: LogFilters, platforms: Sequence[str]
) -> dict[str, Any]:
    record = service.get(job_id)
    return {
        **job_context(service, record, platforms),
        "spec": spec_view(record),
        "logs": log_view(service, job_id, filters),
    }


@router.get("/{job_id}/live")
def job_live(request: Request, job_id: str) -> Response:
    """Server-sent events: the job's parts, again after each change, until it has ended."""
    service = service_of(request)
    service.exists(job_id)
    session = session_of(request)
    csrf = session.csrf if session else ""
    return follow(service, [job_id], lambda: job_parts(service, job_id, request.app.state.platforms, csrf))


@router.get("/{job_id}/spec.json")
def job_spec(request: Request, job_id: str) -> Response:
    """The job's whole spec as JSON, secrets hidden (its page shows the first inline items only)."""
    spec = _hide_secrets(json.loads(service_of(request).get(job_id).spec_json))
    return Response(json.dumps(spec, indent=2, ensure_ascii=False), media_type="application/json")

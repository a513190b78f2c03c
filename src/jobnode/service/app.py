"""The local service's ASGI app: the native API under `/v1`, health, OpenAPI, auth and the error shape."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from jobnode.core.models import DeletePlan, ItemsInput, JobSpec, JobState
from jobnode.service.engine import Engine, EngineConflict, NewJob
from jobnode.service.inputs import InputError, ResolvedInput, failed_items
from jobnode.service.steps import UnknownStep
from jobnode.service.views import (
    BadCursor,
    artifact_json,
    decode_cursor,
    encode_cursor,
    event_json,
    iso,
    job_json,
    to_micros,
)

log = logging.getLogger("jobnode.service")

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
STATES = {s.value for s in JobState}
FINISHED = {s.value for s in JobState if s.is_terminal}


class Problem(Exception):
    """An error answer in the shape `{"error": {"code", "message", "details"}}`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def bad(field: str, message: str, status: int = 400) -> Problem:
    return Problem(status, "invalid_request", f"{field}: {message}", {"field": field})


def unprocessable(field: str, message: str) -> Problem:
    return Problem(422, "validation_error", f"{field}: {message}", [{"field": field, "message": message}])


def problem_response(p: Problem) -> JSONResponse:
    return JSONResponse({"error": {"code": p.code, "message": p.message, "details": p.details}}, status_code=p.status)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    # discriminated unions add the tag to the path (input.items.items): keep what a user wrote
    return ".".join(parts) or "body"


def validation_problem(errors: list[Any], prefix: str = "") -> Problem:
    details = [
        {"field": prefix + _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in errors
    ]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return Problem(422, "validation_error", message, details)


class BearerTokenMiddleware:
    """Requires `Authorization: Bearer <token>` on every path but health and the API's description.

    A plain ASGI middleware: it never touches the response body, so large pages and event streams pass untouched.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PUBLIC_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, value = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(value, self._token):
                message = "missing or wrong bearer token: send 'Authorization: Bearer <token>'"
                await problem_response(Problem(401, "unauthorized", message))(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Watchers:
    """Fans the engine's change notifications out to the `/v1/watch` streams of this event loop."""

    def __init__(self) -> None:
        self._subs: dict[int, tuple[set[str], set[str], asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def on_change(self, ids: set[str]) -> None:
        """Called from engine threads."""
        if self._loop is not None and self._subs:
            self._loop.call_soon_threadsafe(self._dispatch, set(ids))

    def _dispatch(self, ids: set[str]) -> None:
        for watched, pending, event in self._subs.values():
            hit = watched & ids
            if hit:
                pending |= hit
                event.set()

    def subscribe(self, ids: set[str]) -> tuple[int, set[str], asyncio.Event]:
        self._next += 1
        pending: set[str] = set()
        event = asyncio.Event()
        self._subs[self._next] = (ids, pending, event)
        return self._next, pending, event

    def unsubscribe(self, key: int) -> None:
        self._subs.pop(key, None)


def create_app(engine: Engine, *, token: str | None = None, heartbeat: float = 15.0) -> FastAPI:
    """The ASGI app of a local service that runs `engine`'s jobs."""
    app = FastAPI(
        title="jobnode local job service",
        version="1",
        description='Runs batch jobs on this machine. Errors are `{"error": {"code", "message", "details"}}`.',
    )
    store = engine.store
    watchers = Watchers()
    engine.listeners.append(watchers.on_change)

    async def _bind() -> None:
        watchers.bind(asyncio.get_running_loop())

    app.router.add_event_handler("startup", _bind)

    if token:
        app.add_middleware(BearerTokenMiddleware, token=token)

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(Problem(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(Problem(500, "internal", "internal error in the job service; see its log"))

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def job_or_404(job_id: str) -> Any:
        row = store.job_row(job_id)
        if row is None:
            tomb = store.tombstone(job_id)
            if tomb is not None:
                raise Problem(
                    404,
                    "deleted",
                    f"job {job_id} was deleted",
                    {
                        "job_id": job_id,
                        "deleted_at": tomb["deleted_at"],
                        "deleted_by": tomb["deleted_by"],
                        "what": json.loads(tomb["what"]),
                    },
                )
            raise Problem(404, "not_found", f"no job {job_id!r}; list jobs with GET /v1/jobs", {"field": "job_id"})
        return row

    # -- health and steps ---------------------------------------------------------------------------------------

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "active_jobs": len(list(engine.active_ids()))}

    @app.get("/v1/steps", tags=["steps"])
    def steps() -> Response:
        return json_response({"data": [s.describe() for s in engine.registry.all()]})

    # -- jobs ---------------------------------------------------------------------------------------------------

    @app.post("/v1/jobs", status_code=201, tags=["jobs"])
    def create_job(
        spec: JobSpec,
        request: Request,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
        dry_run: bool = False,
    ) -> Response:
        """Create a job (or, with `dry_run=true`, resolve its input and return the plan without creating)."""
        return submit(spec, request, idempotency_key, dry_run=dry_run)

    def submit(spec: JobSpec, request: Request, idempotency_key: str | None, *, dry_run: bool) -> Response:
        try:
            step = engine.registry.get(spec.step, spec.step_version)
        except UnknownStep as exc:
            raise unprocessable(exc.field, exc.message) from None
        try:
            params = step.params_model.model_validate(spec.params)
        except ValidationError as exc:
            raise validation_problem(list(exc.errors()), prefix="params.") from None
        if spec.parent_id and store.job_row(spec.parent_id) is None:
            raise unprocessable("parent_id", f"no job {spec.parent_id!r}")
        try:
            resolved = engine.inputs.resolve(spec.input)
        except InputError as exc:
            raise unprocessable(exc.field, exc.message) from None
        if dry_run:
            return json_response(dry_run_plan(spec, resolved))
        request_hash = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
        new = NewJob(
            spec=spec,
            step=step,
            params=params,
            items=resolved.items,
            input_artifacts=resolved.artifacts,
            rejected=resolved.rejected,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        try:
            job_id, created = engine.create(new)
        except EngineConflict as exc:
            raise Problem(409, "conflict", exc.message, exc.details) from None
        return json_response(job_json(job_or_404(job_id), store, base_url(request)), 201 if created else 200)

    @app.get("/v1/jobs", tags=["jobs"])
    def list_jobs(
        request: Request,
        state: str | None = Query(None, description="comma-separated states"),
        tag: str | None = None,
        name: str | None = None,
        ids: str | None = Query(None, description="comma-separated job ids (bulk status)"),
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = None,
    ) -> Response:
        states = [s.strip() for s in state.split(",") if s.strip()] if state else None
        if states and (unknown := [s for s in states if s not in STATES]):
            raise bad("state", f"unknown state(s) {', '.join(unknown)}; use {', '.join(sorted(STATES))}")
        id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
        if id_list is not None and len(id_list) > 10_000:
            raise bad("ids", "at most 10000 ids in one request")
        before = after = None
        if cursor:
            try:
                fields = decode_cursor(cursor, {"before", "after"})
            except BadCursor as exc:
                raise bad("cursor", f"{exc}; pass back a next_cursor or prev_cursor exactly") from None
            before, after = fields.get("before"), fields.get("after")
        if id_list is not None and not cursor:
            limit = max(limit, min(len(id_list), 10_000))
        rows = store.list_jobs(
            states=states, tag=tag, name=name, ids=id_list, limit=limit + 1, before_seq=before, after_seq=after
        )
        more = len(rows) > limit
        if after is not None:
            rows = rows[-limit:] if more else rows
        else:
            rows = rows[:limit]
        base = base_url(request)
        next_cursor = prev_cursor = None
        if rows:
            if more or after is not None:
                next_cursor = encode_cursor(before=rows[-1]["seq"])
            if (before is not None) or (after is not None and more):
                prev_cursor = encode_cursor(after=rows[0]["seq"])
        return json_response(
            {"data": [job_json(r, store, base) for r in rows], "next_cursor": next_cursor, "prev_cursor": prev_cursor}
        )

    @app.get("/v1/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str, request: Request) -> Response:
        return json_response(job_json(job_or_404(job_id), store, base_url(request)))

    @app.post("/v1/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel_job(job_id: str, request: Request) -> Response:
        """Cancel a job; cancelling a finished job returns it unchanged."""
        job_or_404(job_id)
        engine.cancel(job_id)
        return json_response(job_json(job_or_404(job_id), store, base_url(request)))

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"])
    def delete_job(
        job_id: str,
        request: Request,
        delete_outputs: bool = False,
        delete_subjobs: bool = False,
        dry_run: bool = False,
    ) -> Response:
        """Delete a job under the lineage rules. Refused: 409 with the plan and every blocker in `details`; a dry
        run answers 200 with the plan (`allowed` says whether the deletion would go through) and deletes nothing."""
        job_or_404(job_id)
        plan = engine.delete(
            job_id,
            delete_outputs=delete_outputs,
            delete_subjobs=delete_subjobs,
            dry_run=dry_run,
            deleted_by=request.headers.get("user-agent"),
        )
        return plan_response(plan, f"job {job_id}")

    @app.get("/v1/jobs/{job_id}/logs", tags=["logs"])
    def job_logs(
        job_id: str,
        after_time: datetime | None = Query(None, description="ISO 8601 or epoch seconds; entries strictly after"),
        before_time: datetime | None = Query(None, description="ISO 8601 or epoch seconds; entries strictly before"),
        min_level: str | None = Query(None, description="debug, info, warning or error"),
        kind: str | None = None,
        limit: int = Query(1000, ge=1, le=1000),
        cursor: str | None = None,
        order: str = Query("asc", pattern="^(asc|desc)$"),
    ) -> Response:
        job_or_404(job_id)
        level = None
        if min_level is not None:
            level = LEVELS.get(min_level.lower())
            if level is None:
                raise bad("min_level", f"unknown level {min_level!r}; use debug, info, warning or error")
        after_id = before_id = None
        backwards = False
        if cursor:
            try:
                fields = decode_cursor(cursor, {"after", "before"})
            except BadCursor as exc:
                raise bad("cursor", f"{exc}; pass back a next_cursor or prev_cursor exactly") from None
            after_id, before_id = fields.get("after"), fields.get("before")
            backwards = (order == "asc") == (before_id is not None)
        descending = (order == "desc") != backwards
        rows = store.logs(
            job_id,
            after_time=to_micros(after_time) if after_time else None,
            before_time=to_micros(before_time) if before_time else None,
            min_level=level,
            kind=kind,
            limit=limit + 1,
            after_id=after_id,
            before_id=before_id,
            descending=descending,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        next_cursor = prev_cursor = None
        if rows:
            first, last = rows[0][0], rows[-1][0]
            forward_more = more if not backwards else True
            backward_more = (cursor is not None) if not backwards else more
            if forward_more:
                next_cursor = encode_cursor(after=last) if order == "asc" else encode_cursor(before=last)
            if backward_more:
                prev_cursor = encode_cursor(before=first) if order == "asc" else encode_cursor(after=first)
        tail = json.dumps({"next_cursor": next_cursor, "prev_cursor": prev_cursor})[1:]
        return Response('{"data":[' + ",".join(r[1] for r in rows) + "]," + tail, media_type="application/json")

    @app.get("/v1/jobs/{job_id}/errors", tags=["logs"])
    def job_errors(job_id: str, limit: int = Query(100, ge=1, le=10_000)) -> Response:
        job_or_404(job_id)
        return json_response(
            {
                "data": [
                    {
                        "time": iso(v["time"]),
                        "item": v["item"],
                        "batch": v["batch"],
                        "attempt": v["attempt"],
                        "message": v["message"],
                    }
                    for v in store.errors(job_id, limit)
                ]
            }
        )

    @app.get("/v1/jobs/{job_id}/result", tags=["jobs"])
    def job_result(job_id: str, request: Request, sample: int = Query(10, ge=0, le=1000)) -> Response:
        row = job_or_404(job_id)
        job = job_json(row, store, base_url(request))
        outputs = [artifact_json(a, store.consumers_of(a["id"])) for a in store.artifacts_of(job_id)]
        first: list[Any] = []
        for art in store.artifacts_of(job_id)[:1]:
            with open(art["path"], encoding="utf-8") as fh:
                for line in fh:
                    if len(first) >= sample:
                        break
                    first.append(json.loads(line))
        return json_response(
            {"job_id": job_id, "state": row["state"], "progress": job["progress"], "outputs": outputs, "sample": first}
        )

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"])
    def job_events(job_id: str) -> Response:
        rows = store.events(job_id)
        if not rows:
            job_or_404(job_id)
        return json_response({"data": [event_json(r) for r in rows]})

    @app.get("/v1/jobs/{job_id}/dead-letters", tags=["jobs"])
    def dead_letters(job_id: str) -> Response:
        job_or_404(job_id)
        return json_response(
            {
                "data": [
                    {
                        "batch": r["batch"],
                        "time": iso(r["time"]),
                        "attempts": r["attempts"],
                        "error": r["error"],
                        "items": json.loads(r["items"]),
                    }
                    for r in store.dead_letters(job_id)
                ]
            }
        )

    @app.post("/v1/jobs/{job_id}/resubmit-failed", status_code=201, tags=["jobs"])
    def resubmit_failed(
        job_id: str,
        request: Request,
        overrides: dict[str, Any] | None = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
    ) -> Response:
        """Create a new job over the items of a finished job that failed (dead-lettered batches and items that
        failed alone), with the same step, parameters and webhook unless `overrides` (JobSpec fields) say
        otherwise. The new job is tagged `resubmit-of:<job_id>`."""
        row = job_or_404(job_id)
        if row["state"] not in FINISHED:
            raise Problem(409, "conflict", f"job {job_id} is {row['state']}; resubmit its failures once it has ended")
        overrides = dict(overrides or {})
        if "input" in overrides:
            raise bad("input", "the input of a resubmission is the failed items; leave it out", 422)
        items = failed_items(store, job_id)
        if not items:
            raise Problem(
                409, "nothing_to_resubmit", f"job {job_id} has no failed items that can run again", {"job_id": job_id}
            )
        original = JobSpec.model_validate_json(row["spec"])
        fields = original.model_dump(exclude={"input", "start_at", "stop_at"})
        fields["tags"] = [*original.tags, f"resubmit-of:{job_id}"]
        fields.update(overrides)
        try:
            spec = JobSpec.model_validate({**fields, "input": ItemsInput(items=items)})
        except ValidationError as exc:
            raise validation_problem(list(exc.errors())) from None
        return submit(spec, request, idempotency_key, dry_run=False)

    # -- artifacts ----------------------------------------------------------------------------------------------

    def artifact_or_404(artifact_id: str) -> Any:
        row = store.artifact(artifact_id)
        if row is None:
            raise Problem(404, "not_found", f"no artifact {artifact_id!r}", {"field": "artifact_id"})
        return row

    @app.delete("/v1/artifacts/{artifact_id}", tags=["artifacts"])
    def delete_artifact(artifact_id: str, request: Request, dry_run: bool = False) -> Response:
        """Delete an output artifact unless a job still reads it (409 naming each such job)."""
        artifact_or_404(artifact_id)
        plan = engine.delete_artifact(artifact_id, dry_run=dry_run, deleted_by=request.headers.get("user-agent"))
        return plan_response(plan, f"artifact {artifact_id}")

    @app.get("/v1/artifacts/{artifact_id}", tags=["artifacts"])
    def get_artifact(artifact_id: str) -> Response:
        row = artifact_or_404(artifact_id)
        return json_response(artifact_json(row, store.consumers_of(artifact_id)))

    @app.get("/v1/artifacts/{artifact_id}/content", tags=["artifacts"])
    def artifact_content(artifact_id: str) -> Response:
        row = artifact_or_404(artifact_id)

        def chunks() -> Any:
            with open(row["path"], "rb") as fh:
                while chunk := fh.read(1 << 16):
                    yield chunk

        return StreamingResponse(chunks(), media_type="application/x-ndjson")

    # -- watch --------------------------------------------------------------------------------------------------

    @app.get("/v1/watch", tags=["jobs"])
    async def watch(request: Request, ids: str = Query(..., description="comma-separated job ids")) -> Response:
        """Server-sent events: the named jobs now, then one `job` event per change of state or progress.

        The stream ends once every named job has ended; a comment line is sent as a heartbeat.
        """
        wanted = {i.strip() for i in ids.split(",") if i.strip()}
        if not wanted:
            raise bad("ids", "name at least one job id")
        if len(wanted) > 10_000:
            raise bad("ids", "at most 10000 ids in one stream")
        base = base_url(request)
        # subscribe before reading: a change between the read and the subscription would otherwise be lost
        key, pending, event = watchers.subscribe(wanted)
        rows = await run_in_threadpool(store.job_rows, sorted(wanted))
        missing = wanted - {r["id"] for r in rows}
        if missing:
            watchers.unsubscribe(key)
            names = ", ".join(sorted(missing)[:10])
            raise Problem(404, "not_found", f"ids: no job(s) {names}", {"field": "ids", "missing": sorted(missing)})

        def render(rows: list[Any]) -> tuple[str, set[str]]:
            ended = {r["id"] for r in rows if r["state"] not in ("created", "scheduled", "queued", "running")}
            text = "".join(
                f"event: job\ndata: {json.dumps(job_json(r, store, base), separators=(',', ':'))}\n\n" for r in rows
            )
            return text, ended

        async def stream() -> AsyncIterator[str]:
            try:
                text, ended = await run_in_threadpool(render, rows)
                yield text
                while not wanted <= ended:
                    try:
                        await asyncio.wait_for(event.wait(), heartbeat)
                    except TimeoutError:
                        yield ": heartbeat\n\n"
                        continue
                    event.clear()
                    changed = set(pending)
                    pending.clear()
                    fresh = await run_in_threadpool(store.job_rows, sorted(changed))
                    text, done = await run_in_threadpool(render, fresh)
                    ended |= done
                    yield text
            finally:
                watchers.unsubscribe(key)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return app


def plan_response(plan: DeletePlan, what: str) -> Response:
    """A deletion plan: 200 when carried out or a dry run, 409 with every blocker when refused."""
    body = plan.model_dump(mode="json")
    if not plan.allowed and not plan.dry_run:
        reasons = "; ".join(b.reason for b in plan.blockers[:5])
        more = f" (and {len(plan.blockers) - 5} more)" if len(plan.blockers) > 5 else ""
        raise Problem(409, "lineage_conflict", f"{what} cannot be deleted: {reasons}{more}", body)
    return json_response(body)


def dry_run_plan(spec: JobSpec, resolved: ResolvedInput, listed: int = 1000) -> dict[str, Any]:
    """What creating the job would do: its items, batches, files and rejected lines; each list stops at `listed`
    entries (the `*_total` counts are exact) and `items` is left out when there are more."""
    items, rejected = resolved.items, resolved.rejected
    size = spec.batch_size
    total = len(items)
    batches = [
        {"index": b, "first_item": i, "size": min(size, total - i)}
        for b, i in enumerate(range(0, min(total, size * listed), size))
    ]
    return {
        "dry_run": True,
        "items_total": total,
        "batches_total": -(-total // size),
        "batch_size": size,
        "items": items if total <= listed else None,
        "sample": items[:20],
        "batches": batches,
        "files_total": len(resolved.files),
        "files": resolved.files[:listed],
        "rejected_total": len(rejected),
        "rejected": [{"item": label, "reason": reason} for label, reason in rejected[:listed]],
        "input_artifacts": resolved.artifacts,
    }

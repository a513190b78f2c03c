"""What a person can do to a job from the console: cancel it, delete it under the lineage rules (the plan first,
every blocker linked), and run its failed items again as a new job.

Each action is a form POST with the session's CSRF token, answered with a redirect to the page that shows the
result (so reloading that page repeats nothing).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from jobnode.core.models import DeletePlan
from jobnode.service.console.pages import checked_form, local_path, page
from jobnode.service.errors import NotFound
from jobnode.service.jobs import JobService
from jobnode.service.views import CONSOLE_PATH

router = APIRouter(prefix=f"{CONSOLE_PATH}/jobs/{{job_id}}")


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def _job_page(job_id: str) -> str:
    return f"{CONSOLE_PATH}/jobs/{job_id}"


@router.post("/cancel")
async def cancel(request: Request, job_id: str) -> Response:
    """Cancel the job (a job that has ended stays as it is)."""
    await checked_form(request)
    await run_in_threadpool(_service(request).cancel, job_id, "cancelled from the console")
    return RedirectResponse(_job_page(job_id), status_code=303)


@router.post("/resubmit")
async def resubmit(request: Request, job_id: str) -> Response:
    """A new job over the failed items of this one; the form's nonce makes a second click find the same job."""
    form = await checked_form(request)
    nonce = form.get("nonce", "")
    key = f"console-resubmit:{job_id}:{nonce}" if nonce else None
    submitted = await run_in_threadpool(lambda: _service(request).resubmit_failed(job_id, {}, idempotency_key=key))
    return RedirectResponse(_job_page(submitted.record.id), status_code=303)


def _link(service: JobService, thing_id: str | None) -> dict[str, str] | None:
    """A job or an artifact named by a plan, as a link to where it is shown."""
    if not thing_id:
        return None
    job = service.find(thing_id)
    if job is not None:
        return {"id": thing_id, "kind": "job", "href": _job_page(thing_id), "name": job.name}
    try:
        artifact = service.artifact(thing_id)
    except NotFound:
        return {"id": thing_id, "kind": "gone", "href": "", "name": ""}
    return {
        "id": thing_id,
        "kind": "artifact",
        "href": f"{_job_page(artifact.job_id)}#artifact-{thing_id}",
        "name": artifact.name,
    }


def plan_context(service: JobService, job_id: str, plan: DeletePlan, options: dict[str, Any]) -> dict[str, Any]:
    """The plan as the delete page shows it: each step and blocker with links to what it names."""
    record = service.get(job_id)
    blockers = [{"blocker": b, "what": _link(service, b.id), "by": _link(service, b.by)} for b in plan.blockers]
    return {
        "job": record,
        "plan": plan,
        "steps": [{"step": s, "what": _link(service, s.id)} for s in plan.steps],
        "blockers": blockers,
        "options": options,
        "here": f"{_job_page(job_id)}/delete",
    }


def _options(values: dict[str, str], *, planned: bool) -> dict[str, Any]:
    """The delete form's choices: as given once the form was sent, else the defaults (outputs go with the job)."""
    return {
        "delete_outputs": values.get("delete_outputs") == "1" if planned else True,
        "delete_subjobs": values.get("delete_subjobs") == "1" if planned else False,
        "then": local_path(values.get("then"), ""),
    }


@router.get("/delete")
async def delete_plan(request: Request, job_id: str) -> Response:
    """What deleting the job would do (a dry run), or every blocker that refuses it, before anything is deleted."""
    service = _service(request)
    params = dict(request.query_params)
    options = _options(params, planned="planned" in params)

    def plan() -> dict[str, Any]:
        found = service.delete(
            job_id, delete_outputs=options["delete_outputs"], delete_subjobs=options["delete_subjobs"], dry_run=True
        )
        return plan_context(service, job_id, found, options)

    return page(request, "delete.html", **await run_in_threadpool(plan))


@router.post("/delete")
async def delete(request: Request, job_id: str) -> Response:
    """Delete the job as planned; refused (something changed since the plan), the page shows the blockers again."""
    form = await checked_form(request)
    options = _options(form, planned=True)
    service = _service(request)

    def carry_out() -> DeletePlan:
        return service.delete(
            job_id,
            delete_outputs=options["delete_outputs"],
            delete_subjobs=options["delete_subjobs"],
            by=f"console ({request.headers.get('user-agent', 'browser')[:80]})",
        )

    done = await run_in_threadpool(carry_out)
    if not done.allowed:
        context = await run_in_threadpool(plan_context, service, job_id, done, options)
        return page(request, "delete.html", status=409, **context)
    target = options["then"] or f"{CONSOLE_PATH}/jobs?deleted={job_id}"
    return RedirectResponse(target, status_code=303)

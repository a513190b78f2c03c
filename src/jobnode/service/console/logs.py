"""A job's logs in the console: one page at a time, filtered by level and kind, paged both ways with the service's
cursors, so a log of a million entries costs one page to show.

The log part of a job's page and the fragment that replaces it (`/ui/jobs/{id}/logs`) take the same parameters
(`log_level`, `log_kind`, `log_order`, `log_limit`, `log_cursor`), so every paging link is also a plain link to the
whole page, which works without the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from jobnode.core.backend import LogQuery
from jobnode.core.models import LogLevel
from jobnode.service.console.pages import render
from jobnode.service.errors import ServiceError
from jobnode.service.jobs import JobService
from jobnode.service.views import CONSOLE_PATH

router = APIRouter(prefix=f"{CONSOLE_PATH}/jobs")

#: entries per page the viewer offers (the first is the default)
PAGE_SIZES = (100, 50, 500, 1000)


@dataclass(frozen=True)
class LogFilters:
    """The log viewer's parameters, as given in the page's address."""

    level: str = ""
    kind: str = ""
    order: Literal["asc", "desc"] = "desc"
    limit: int = PAGE_SIZES[0]
    cursor: str = ""
    problems: tuple[str, ...] = ()

    @classmethod
    def of(cls, params: Mapping[str, str]) -> LogFilters:
        problems = []
        level = params.get("log_level", "").strip().lower()
        if level and level not in {v.value for v in LogLevel}:
            problems.append(f"log_level: unknown level {level!r}; use debug, info, warning or error")
            level = ""
        order = params.get("log_order", "desc")
        if order not in ("asc", "desc"):
            problems.append("log_order: use asc (oldest first) or desc (newest first)")
            order = "desc"
        raw_limit = params.get("log_limit", "").strip()
        limit = PAGE_SIZES[0]
        if raw_limit.isdigit() and int(raw_limit) in PAGE_SIZES:
            limit = int(raw_limit)
        elif raw_limit:
            problems.append(f"log_limit: use one of {', '.join(map(str, PAGE_SIZES))}")
        return cls(
            level=level,
            kind=params.get("log_kind", "").strip(),
            order="asc" if order == "asc" else "desc",
            limit=limit,
            cursor=params.get("log_cursor", "").strip(),
            problems=tuple(problems),
        )

    def params(self, **changes: Any) -> dict[str, Any]:
        """The address parameters of this view, with `changes` (a limit of the default is left out)."""
        fields = {"level": self.level, "kind": self.kind, "order": self.order, "limit": self.limit, "cursor": ""}
        fields.update(changes)
        if fields["order"] == "desc":
            fields["order"] = ""
        if fields["limit"] == PAGE_SIZES[0]:
            fields["limit"] = ""
        return {f"log_{k}": v for k, v in fields.items()}


def log_view(service: JobService, job_id: str, filters: LogFilters) -> dict[str, Any]:
    """One page of the job's log (or what was wrong with the filters), for the `_logs.html` template."""
    view: dict[str, Any] = {
        "job_id": job_id,
        "filters": filters,
        "sizes": PAGE_SIZES,
        "rows": [],
        "next_cursor": None,
        "prev_cursor": None,
        "problems": list(filters.problems),
    }
    query = LogQuery(
        min_level=LogLevel(filters.level) if filters.level else None,
        kind=filters.kind or None,
        limit=filters.limit,
        cursor=filters.cursor or None,
        order=filters.order,
    )
    try:
        page = service.logs(job_id, query)
    except ServiceError as exc:
        if exc.status == 404:
            raise
        view["problems"].append(exc.message.replace("cursor:", "log_cursor:", 1))
        return view
    view.update(rows=page.rows, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)
    view["kinds"] = sorted({r.kind for r in page.rows} | ({filters.kind} if filters.kind else set()))
    return view


@router.get("/{job_id}/logs")
async def logs_fragment(request: Request, job_id: str) -> HTMLResponse:
    """The log part of a job's page alone (what its paging links and filter form fetch)."""
    service: JobService = request.app.state.service
    view = await run_in_threadpool(log_view, service, job_id, LogFilters.of(request.query_params))
    return HTMLResponse(render("_logs.html", logs=view), status_code=400 if view["problems"] else 200)

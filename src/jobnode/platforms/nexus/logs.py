"""Reading a Nexus job's log, which Nexus pages by time: at most 1,000 entries, newest first, between two inclusive
millisecond times.

jobnode pages on with those times and drops the entries it has already returned at the boundary millisecond, as
Datature's own `get_all_log_entries` does (newest first); oldest first, it walks time windows sized to hold fewer
than 1,000 entries; and it cuts a long log into time windows that are read several at once (`segments`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from jobnode.core.backend import LogQuery
from jobnode.core.errors import JobnodeError
from jobnode.core.models import JobError, LogEntry, LogLevel, Page
from jobnode.core.transport import Transport
from jobnode.platforms.nexus import mapping, wire

#: the entries an oldest-first time window aims at: well under a page, so that most windows come back whole
WINDOW_TARGET = 800
#: the most segments a log is cut into for reading ahead
MAX_LOG_SEGMENTS = 256


class _LogCursor(BaseModel):
    """Where the next page of log entries starts: the boundary millisecond (inclusive) and the ids already
    returned at that millisecond; an ascending iteration also keeps its end and its probe window."""

    order: Literal["asc", "desc"]
    at: int
    seen: list[str] = []
    end: int | None = None
    width: int | None = None

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json(exclude_none=True).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str) -> _LogCursor:
        try:
            cursor = cls.model_validate_json(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, ValidationError):
            raise ValueError("cursor: not a log cursor of the nexus backend; pass back a next_cursor exactly") from None
        if cursor.order != order:
            raise ValueError(f"cursor: it continues an order={cursor.order!r} listing; pass order={cursor.order!r}")
        return cursor


class NexusLogs:
    """The logs of one Nexus project's jobs (`base` is the project's batch path)."""

    def __init__(self, transport: Transport, base: str) -> None:
        self.transport = transport
        self._base = base

    async def _get(self, path: str, **params: Any) -> Any:
        return await self.transport.request("GET", path, params=params)

    async def _log_page(
        self, job_id: str, *, after: int | None, before: int | None, level: str | None, max_entries: int
    ) -> list[wire.LogEntry]:
        response = await self._get(
            f"{self._base}/jobs/{job_id}/logs",
            afterTime=after,
            beforeTime=before,
            minLevel=level,
            maxEntries=max_entries,
        )
        return wire.JobLogs.model_validate_json(response.content).entries

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        """One page of log entries. Nexus returns at most 1,000 entries, newest first, between two times (both
        inclusive); jobnode pages on with those times and drops the entries it has already returned at the boundary
        millisecond, as Datature's own `get_all_log_entries` does. `order="asc"` pages oldest first through time
        windows sized to hold fewer than 1,000 entries. `kind` filters each page here (Nexus cannot)."""
        limit = max(1, min(query.limit, wire.LOG_PAGE_MAX))
        level = mapping.level_name(query.min_level) if query.min_level else None
        cursor = _LogCursor.decode(query.cursor, query.order) if query.cursor else None
        if query.order == "desc":
            entries, next_cursor = await self._logs_newest_first(job_id, query, cursor, level, limit)
        else:
            entries, next_cursor = await self._logs_oldest_first(job_id, query, cursor, level, limit)
        data = mapping.to_log_entries(e for e in entries if query.kind is None or e.kind == query.kind)
        return Page(data=data, next_cursor=next_cursor.encode() if next_cursor else None)

    async def segments(self, job_id: str, query: LogQuery) -> list[LogQuery]:
        """The log's time range cut into windows sized to hold about `WINDOW_TARGET` entries each, from the density
        of its newest page (one request, plus one for the job's creation time): Nexus pages by time, so each window
        is read on its own and several are read at once. A log that fits in one page is one segment."""
        level = mapping.level_name(query.min_level) if query.min_level else None
        after = mapping.to_ms(query.after_time) if query.after_time else None
        end = mapping.to_ms(query.before_time) if query.before_time else None
        newest = await self._log_page(job_id, after=after, before=end, level=level, max_entries=wire.LOG_PAGE_MAX)
        if len(newest) < wire.LOG_PAGE_MAX:
            return [query]
        end = newest[0].create_time if end is None else end
        if after is None:
            response = await self._get(f"{self._base}/jobs/{job_id}")
            after = wire.BatchJob.model_validate_json(response.content).create_date
        span = newest[0].create_time - newest[-1].create_time + 1
        total = max(1, end - after + 1)
        count = min(MAX_LOG_SEGMENTS, -(-total // max(1, span * WINDOW_TARGET // wire.LOG_PAGE_MAX)))
        width = -(-total // count)
        windows = [(low, min(end, low + width - 1)) for low in range(after, end + 1, width)]
        segments = [
            dataclasses.replace(query, after_time=mapping.from_ms(low), before_time=mapping.from_ms(high), cursor=None)
            for low, high in windows
        ]
        return segments if query.order == "asc" else segments[::-1]

    async def _logs_newest_first(
        self, job_id: str, query: LogQuery, cursor: _LogCursor | None, level: str | None, limit: int
    ) -> tuple[list[wire.LogEntry], _LogCursor | None]:
        before = cursor.at if cursor else (mapping.to_ms(query.before_time) if query.before_time else None)
        seen = set(cursor.seen) if cursor else set()
        after = mapping.to_ms(query.after_time) if query.after_time else None
        want = min(wire.LOG_PAGE_MAX, limit + len(seen))
        raw = await self._log_page(job_id, after=after, before=before, level=level, max_entries=want)
        fresh = [e for e in raw if e.id not in seen]
        if len(raw) == want and not fresh:
            raise _tie_error(job_id, before)
        page = fresh[:limit]
        if not page or (len(raw) < want and len(fresh) <= limit):
            return page, None
        at = page[-1].create_time
        at_seen = [e.id for e in page if e.create_time == at] + (sorted(seen) if at == before else [])
        return page, _LogCursor(order="desc", at=at, seen=at_seen)

    async def _logs_oldest_first(
        self, job_id: str, query: LogQuery, cursor: _LogCursor | None, level: str | None, limit: int
    ) -> tuple[list[wire.LogEntry], _LogCursor | None]:
        if cursor is None:
            cursor = await self._first_window(job_id, query, level)
            if cursor is None:
                return [], None
        start, seen, end = cursor.at, set(cursor.seen), cursor.end
        assert end is not None
        width = cursor.width or end - start + 1
        while start <= end:
            stop = min(end, start + width - 1)
            raw = await self._log_page(job_id, after=start, before=stop, level=level, max_entries=wire.LOG_PAGE_MAX)
            if len(raw) >= wire.LOG_PAGE_MAX:
                # the window holds 1,000 entries or more, and only its newest came back: narrow it
                if stop == start:
                    raise _tie_error(job_id, start)
                span = raw[0].create_time - raw[-1].create_time + 1  # what the newest 1,000 spanned
                width = max(1, min(stop - start, span * WINDOW_TARGET // wire.LOG_PAGE_MAX))
                continue
            fresh = [e for e in reversed(raw) if e.id not in seen]
            if len(fresh) > limit:
                page = fresh[:limit]
                at = page[-1].create_time
                at_seen = [e.id for e in page if e.create_time == at] + (sorted(seen) if at == start else [])
                return page, _LogCursor(order="asc", at=at, seen=at_seen, end=end, width=width)
            # the whole window fit: size the next one to the density seen in this one
            used = stop - start + 1
            width = min(used * 8, max(1, used * WINDOW_TARGET // len(raw))) if raw else used * 8
            start, seen = stop + 1, set()
            if fresh:
                more = start <= end
                return fresh, _LogCursor(order="asc", at=start, end=end, width=width) if more else None
        return [], None

    async def _first_window(self, job_id: str, query: LogQuery, level: str | None) -> _LogCursor | None:
        """The time range an oldest-first listing walks: from the job's creation (or `after_time`) to its newest
        entry now (or `before_time`)."""
        if query.before_time is not None:
            end = mapping.to_ms(query.before_time)
        else:
            newest = await self._log_page(job_id, after=None, before=None, level=level, max_entries=1)
            if not newest:
                return None
            end = newest[0].create_time
        if query.after_time is not None:
            start = mapping.to_ms(query.after_time)
        else:
            response = await self._get(f"{self._base}/jobs/{job_id}")
            start = wire.BatchJob.model_validate_json(response.content).create_date
        return _LogCursor(order="asc", at=min(start, end), end=end)

    async def errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        """The most recent error entries of the job's log."""
        page = await self.get_logs(job_id, LogQuery(min_level=LogLevel.ERROR, limit=limit, order="desc"))
        return [
            JobError(time=e.time, item=e.item, message=e.message or e.status or e.kind)
            for e in page.data
            if e.level is LogLevel.ERROR
        ]


def _tie_error(job_id: str, at: int | None) -> JobnodeError:
    return JobnodeError(
        f"more than {wire.LOG_PAGE_MAX} log entries of job {job_id} share the millisecond {at}: Nexus pages logs by "
        "time, so the rest of that millisecond cannot be read; narrow the listing with min_level"
    )

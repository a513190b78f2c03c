"""Enqueuing a job's batches, as Cortex's enqueuer does after it has answered the submission.

The items of each input kind, checked as Cortex checks them while it enqueues: a batch whose message would exceed
256,000 bytes, a delimited file that is not a stream of JSON values, an item of a delimited file over the limit,
or no data at all, fail the enqueuing (the job's status becomes `status_enqueue_failed`; Cortex says why in the job's
log, the emulator in the service's log). Blocking: it reads S3 (run it in a worker thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobnode.core.models import DelimitedInput, FilesInput, ItemsInput, JobInput
from jobnode.platforms.cortex import messages, ndjson, s3, wire


class EnqueueFailed(Exception):
    """The job's batches could not be enqueued; the message is Cortex's."""


@dataclass(frozen=True)
class Enqueued:
    """A job's items, and where they came from (recorded with the local job)."""

    items: list[Any]
    source: JobInput


def _check_batches(items: list[Any], batch_size: int, bounds: list[int] | None = None) -> None:
    """Each batch's message within the limit. `bounds` are at most the items' sizes in a message (their text in
    the file): a batch within the limit by them is within it; another one is measured exactly."""
    for first in range(0, len(items), batch_size):
        stop = first + batch_size
        if bounds is not None and messages.batch_size(bounds[first:stop]) <= messages.MESSAGE_LIMIT:
            continue
        size = messages.batch_size([messages.json_size(messages.compact(item)) for item in items[first:stop]])
        if size > messages.MESSAGE_LIMIT:
            raise EnqueueFailed(messages.exceeds(size))


def _delimited(files: list[str]) -> tuple[list[Any], list[int]]:
    """The items of the files, and at most how many bytes each takes in a message."""
    items: list[Any] = []
    bounds: list[int] = []
    for path in files:
        try:
            data = s3.read(path)
        except OSError as exc:
            raise EnqueueFailed(f"{path}: {exc}") from None
        try:
            for index, value in enumerate(ndjson.values(data)):
                if value.size > messages.MESSAGE_LIMIT:
                    raise EnqueueFailed(f"{path}: item {index}: {messages.exceeds(value.size)}")
                items.append(value.value)
                bounds.append(value.message_size)
        except ndjson.BadItem as exc:
            raise EnqueueFailed(f"{path}: {exc}") from None
    return items, bounds


def enqueue(submission: wire.Submission, files: list[str] | None) -> Enqueued:
    """The job's items, its batches checked against the message limit.

    Raises:
        EnqueueFailed: Cortex would fail the enqueuing; the message says why.
    """
    batch_size = submission.batch_size()
    if submission.item_list is not None:
        items = submission.item_list.items
        found = messages.oversized(items, batch_size)
        if found is not None:
            raise EnqueueFailed(found.cortex_error(batch_size))
        return Enqueued(items, ItemsInput(items=items))
    lister = submission.file_path_lister or submission.delimited_files
    assert lister is not None and files is not None
    where = {"paths": lister.s3_paths, "includes": lister.includes, "excludes": lister.excludes}
    if submission.file_path_lister is not None:
        _check_batches(list(files), batch_size)
        return Enqueued(list(files), FilesInput(**where))
    items, bounds = _delimited(files)
    if not items:
        raise EnqueueFailed("unable to enqueue batches because no data was found")
    _check_batches(items, batch_size, bounds)
    return Enqueued(items, DelimitedInput(**where))

"""A job submission read and checked as the Cortex operator does (`validateJobSubmission`), in its order and words.

First the body's schema (exactly one input, sizes of the items in the request, batch sizes, workers, timeout, the
dead-letter queue), then each S3 lister: its paths, its glob patterns, and at least one S3 object that they select.
A dry run stops there and lists the selected objects. Listing follows Cortex's `s3IteratorFromLister`: each path in
turn, its objects in key order, kept when they match one of `includes` (if any) and none of `excludes`; objects
that two paths both select come twice, as in Cortex.
"""

from __future__ import annotations

from pydantic import ValidationError

from jobnode.platforms.cortex import messages, s3, wire
from jobnode.platforms.cortex.emulator.errors import (
    CANNOT_BE_EMPTY,
    CONFLICTING_FIELDS,
    GO_ERROR,
    INVALID_S3_PATH,
    ITEM_TOO_LARGE,
    NO_S3_FILES,
    SCHEMA_HINT,
    SPECIFY_EXACTLY_ONE_KEY,
    TOO_FEW_ELEMENTS,
    CortexError,
    at_least,
    at_most,
)
from jobnode.platforms.cortex.paths import is_s3_path
from jobnode.service.emulation import InvalidRequest, compile_glob, parse_json, select

#: what the local engine takes (Cortex sets no bound): larger values are refused, naming the field
MAX_BATCH_SIZE = 100_000
MAX_RECEIVE_COUNT = 100


def _or(keys: list[str]) -> str:
    """Cortex's `StrsOr`: `a`, `a or b`, `a, b, or c`."""
    if len(keys) <= 2:
        return " or ".join(keys)
    return ", ".join(keys[:-1]) + ", or " + keys[-1]


def invalid_s3_path(path: str) -> str:
    example = "s3://cortex-examples/pytorch/iris-classifier/weights.pth"
    return f'"{path}" is not a valid s3 path (e.g. {example} is a valid s3 path)'


def parse(raw: bytes) -> wire.Submission:
    """The submission in a request body.

    Raises:
        CortexError: the body is not JSON, or a field has the wrong type.
    """
    try:
        value = parse_json(raw)
    except InvalidRequest as exc:
        raise CortexError(GO_ERROR, exc.message + SCHEMA_HINT) from None
    if not isinstance(value, dict):
        kind = "array" if isinstance(value, list) else type(value).__name__
        raise CortexError(GO_ERROR, f"json: cannot unmarshal {kind} into a job submission (a JSON object){SCHEMA_HINT}")
    try:
        return wire.Submission.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CortexError(GO_ERROR, f"json: cannot unmarshal field {where}: {first['msg']}{SCHEMA_HINT}") from None


def check_schema(submission: wire.Submission) -> None:
    """`validateJobSubmissionSchema`: the request's own fields, in Cortex's order.

    Raises:
        CortexError: the first problem, in the operator's words.
    """
    sources = submission.sources()
    if not sources:
        keys = _or([wire.ITEM_LIST, wire.FILE_PATH_LISTER, wire.DELIMITED_FILES])
        raise CortexError(SPECIFY_EXACTLY_ONE_KEY, f"specify exactly one of the following keys: {keys}{SCHEMA_HINT}")
    if len(sources) > 1:
        raise CortexError(
            CONFLICTING_FIELDS,
            f"please specify either the {_or(sources)} field (but not more than one at the same time){SCHEMA_HINT}",
        )
    item_list = submission.item_list
    if item_list is not None:
        if not item_list.items:
            raise CortexError(TOO_FEW_ELEMENTS, f"items: must contain at least 1 elements{SCHEMA_HINT}")
        for i, item in enumerate(item_list.items):
            size = messages.item_size(item)
            if size > messages.MESSAGE_LIMIT:
                raise CortexError(
                    ITEM_TOO_LARGE,
                    f"item {i} has size {size} bytes which exceeds the limit ({messages.MESSAGE_LIMIT} bytes)"
                    + SCHEMA_HINT,
                )
    source = sources[0]
    batch_size = submission.batch_size()
    if batch_size < 1:
        raise at_least(f"{source}: batch_size", batch_size)
    if batch_size > MAX_BATCH_SIZE:
        raise at_most(f"{source}: batch_size", batch_size, MAX_BATCH_SIZE)
    if submission.workers <= 0:
        raise at_least("workers", submission.workers)
    if submission.timeout is not None and submission.timeout <= 0:
        raise at_least("timeout", submission.timeout)
    queue = submission.sqs_dead_letter_queue
    if queue is not None:
        if not queue.arn:
            raise CortexError(CANNOT_BE_EMPTY, f"sqs_dead_letter_queue: arn: cannot be empty{SCHEMA_HINT}")
        if queue.max_receive_count < 1:
            raise at_least("sqs_dead_letter_queue: max_receive_count", queue.max_receive_count)
        if queue.max_receive_count > MAX_RECEIVE_COUNT:
            raise at_most("sqs_dead_letter_queue: max_receive_count", queue.max_receive_count, MAX_RECEIVE_COUNT)


def list_files(lister: wire.S3Lister, key: str) -> list[str]:
    """`validateS3Lister` and the listing itself: every S3 object the lister selects, in Cortex's order.

    Raises:
        CortexError: no paths, a glob that does not compile, a path that is not S3, an S3 failure, or nothing
            selected; the message starts with the lister's key (`file_path_lister: ...`).
    """
    if not lister.s3_paths:
        raise CortexError(TOO_FEW_ELEMENTS, f"{key}: s3_paths: must contain at least 1 elements")
    for name, patterns in (("includes", lister.includes), ("excludes", lister.excludes)):
        for pattern in patterns:
            try:
                compile_glob(pattern)
            except ValueError as exc:
                raise CortexError(GO_ERROR, f"{key}: {name}: {pattern}: {exc}") from None
    for path in lister.s3_paths:
        if not is_s3_path(path):
            raise CortexError(INVALID_S3_PATH, f"{key}: {invalid_s3_path(path)}")
    selected: list[str] = []
    for path in lister.s3_paths:
        try:
            objects = s3.list_objects(path)
        except OSError as exc:
            raise CortexError(GO_ERROR, f"{key}: {path}: {exc}") from None
        selected.extend(select(objects, lister.includes, lister.excludes))
    if not selected:
        raise CortexError(NO_S3_FILES, f"{key}: no s3 files match search criteria")
    return selected


def validate(submission: wire.Submission) -> list[str] | None:
    """`validateJobSubmission`: the schema, then the S3 objects of a lister (returned, in order; None for an
    `item_list`).

    Raises:
        CortexError: the first problem, in the operator's words.
    """
    check_schema(submission)
    if submission.file_path_lister is not None:
        return list_files(submission.file_path_lister, wire.FILE_PATH_LISTER)
    if submission.delimited_files is not None:
        return list_files(submission.delimited_files, wire.DELIMITED_FILES)
    return None

"""Every error a user can meet on the command line as one line: what was wrong, and what to do.

`main` prints `jobnode: error: <explain(exc)>` on stderr and exits with 2; a job that ends other than succeeded is
not an error (exit 1).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from jobnode.cli._base import UsageError
from jobnode.core.errors import (
    APIError,
    AuthenticationError,
    Conflict,
    JobnodeError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)

#: what to do after each kind of refusal, when the platform's own message does not say
_NEXT_STEP: list[tuple[type[APIError], str]] = [
    (AuthenticationError, "give the right token with --token or JOBNODE_TOKEN"),
    (PermissionDenied, "use a token that may do this"),
    (NotFound, "check the id ('jobnode jobs list' shows the jobs)"),
    (RateLimited, "wait a little and try again"),
    (ServerError, "the platform failed; try again, and check its log if it goes on"),
]

#: JobSpec fields whose command-line option is not `--<field with dashes>`
_OPTIONS = {"input": "the input (--items, --items-file, --files, --delimited or --artifacts)", "tags": "--tag"}


def explain(exc: BaseException) -> str:
    """One line for a user: the option or field at fault, what was wrong, what to do."""
    if isinstance(exc, UsageError | JobnodeError) and not isinstance(exc, APIError):
        return _one_line(str(exc))
    if isinstance(exc, APIError):
        return _one_line(_api(exc))
    if isinstance(exc, ValidationError):
        return _one_line(_validation(exc))
    if isinstance(exc, OSError) and exc.filename:
        return _one_line(f"{exc.filename}: {exc.strerror or exc}")
    return _one_line(str(exc) or type(exc).__name__)


def _api(exc: APIError) -> str:
    message = str(exc)
    if isinstance(exc, Conflict):
        blockers = _blockers(exc.details)
        if blockers and not all(b in message for b in blockers):
            message += ": " + "; ".join(blockers)
        return message
    if isinstance(exc, RateLimited) and exc.retry_after:
        return f"{message}; it asks to wait {exc.retry_after:g}s, then try again"
    for kind, step in _NEXT_STEP:
        if isinstance(exc, kind) and not (kind is NotFound and "list" in message):
            return f"{message}; {step}"
    return message


def _blockers(details: Any) -> list[str]:
    found = details.get("blockers") if isinstance(details, dict) else None
    if not isinstance(found, list):
        return []
    return [str(b.get("reason")) for b in found if isinstance(b, dict) and b.get("reason")]


def _validation(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        loc = [str(p) for p in error.get("loc", ())]
        field = loc[0] if loc else ""
        where = _OPTIONS.get(field, f"--{field.replace('_', '-')}") if field else "the request"
        detail = ".".join(loc[1:])
        problems.append(f"{where}{f' ({detail})' if detail else ''}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def _one_line(text: str) -> str:
    return " ".join(text.split())

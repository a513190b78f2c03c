"""Each kind of error as the command line says it: one line, the field or option at fault, what to do."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jobnode.cli._base import UsageError
from jobnode.cli._errors import explain
from jobnode.client import build_spec
from jobnode.core.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    NotFound,
    RateLimited,
    ServerError,
    UnsupportedOperation,
    WaitTimeout,
)


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (AuthenticationError("missing bearer token", platform="local"), "--token or JOBNODE_TOKEN"),
        (NotFound("no artifact 'art_x'", platform="local"), "check the id"),
        (RateLimited("slow down", platform="nexus", retry_after=7), "it asks to wait 7s, then try again"),
        (ServerError("boom", status_code=503, platform="local"), "try again, and check its log"),
        (UnsupportedOperation("nexus", "steps"), "the nexus platform does not support 'steps'"),
        (WaitTimeout("job_1", 5), "cancel it or wait longer"),
        (ConfigurationError("no service URL:\n pass url="), "no service URL: pass url="),
        (UsageError("--set x: give FIELD=VALUE"), "--set x: give FIELD=VALUE"),
        (FileNotFoundError(2, "No such file or directory", "items.jsonl"), "items.jsonl: No such file or directory"),
    ],
)
def test_each_error_says_what_to_do_in_one_line(error: Exception, says: str) -> None:
    line = explain(error)
    assert says in line and "\n" not in line


def test_a_refused_deletion_names_every_blocker() -> None:
    details = {"blockers": [{"reason": "job job_1 is not finished"}, {"reason": "artifact art_2 is read by job_3"}]}
    line = explain(Conflict("cannot delete job_1", platform="local", details=details))
    assert "job job_1 is not finished" in line and "artifact art_2 is read by job_3" in line


def test_a_job_field_is_named_by_its_option() -> None:
    with pytest.raises(ValidationError) as caught:
        build_spec(step="identity", items=[1], batch_size=0, workers=0)
    line = explain(caught.value)
    assert "--batch-size: Input should be greater than or equal to 1" in line and "--workers:" in line

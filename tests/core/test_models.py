from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from jobnode.core.models import ItemsInput, JobSpec, JobState, Progress


@pytest.mark.parametrize("state", list(JobState))
def test_terminal_states(state: JobState) -> None:
    assert state.is_terminal == (state.value in {"succeeded", "failed", "cancelled", "timed_out"})


def test_progress_fraction() -> None:
    assert Progress(items_total=10, items_processed=3, items_failed=2).fraction == 0.5
    assert Progress().fraction is None


def test_spec_window_must_not_be_empty() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValidationError, match="stop_at must be after start_at"):
        JobSpec(step="identity", input=ItemsInput(items=[1]), start_at=now, stop_at=now - timedelta(seconds=1))


def test_spec_rejects_unknown_fields_and_bad_batch_size() -> None:
    with pytest.raises(ValidationError) as info:
        JobSpec(step="identity", input=ItemsInput(items=[1]), batch_size=0, colour="red")  # type: ignore[call-arg]
    fields = {e["loc"][0] for e in info.value.errors()}
    assert fields == {"batch_size", "colour"}


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"batch_size": True}, "batch_size", "not true or false"),
        ({"workers": False}, "workers", "not true or false"),
        ({"timeout": float("inf")}, "timeout", "finite"),
        ({"timeout": float("nan")}, "timeout", "finite"),
        ({"input": {"kind": "items", "items": [_nested(150)]}}, "input", "nested more than 100 levels"),
        ({"params": {"x": _nested(150)}}, "params", "nested more than 100 levels"),
        ({"input": {"items": [1]}}, "input", "input.kind, one of 'items', 'files', 'delimited', 'artifacts'"),
    ],
)
def test_spec_refuses_what_json_or_the_store_cannot_hold(changes: dict[str, object], field: str, words: str) -> None:
    """Issue 11, defects 2 and 11: `batch_size: true`, `timeout: Infinity`, deep nesting, a missing `input.kind`."""
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate({"step": "identity", "input": {"kind": "items", "items": [1]}, **changes})
    error = caught.value.errors()[0]
    assert error["loc"][0] == field
    assert words in error["msg"]


def test_items_at_the_nesting_limit_are_accepted() -> None:
    spec = JobSpec.model_validate({"step": "identity", "input": {"kind": "items", "items": [_nested(98)]}})
    assert spec.model_dump_json()  # and they serialize


def test_input_kind_is_required_in_the_json_schema_but_not_in_python() -> None:
    schema = JobSpec.model_json_schema()
    for name in ("ItemsInput", "FilesInput", "DelimitedInput", "ArtifactsInput"):
        assert schema["$defs"][name]["required"][0] == "kind"
    assert ItemsInput(items=[1]).kind == "items"

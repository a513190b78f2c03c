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

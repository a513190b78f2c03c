from __future__ import annotations

import pytest

from jobnode.core.models import ItemsInput, JobSpec
from jobnode.prefect.context import artifact_key, flow_run_tag, idempotency_key, tagged

SPEC = JobSpec(name="nightly", step="identity", input=ItemsInput(items=[1, 2, 3]))
OTHER = JobSpec(name="nightly", step="identity", input=ItemsInput(items=[1, 2, 4]))


class TestIdempotencyKey:
    def test_same_flow_run_and_spec_give_the_same_key(self) -> None:
        assert idempotency_key("run-1", SPEC) == idempotency_key("run-1", SPEC.model_copy())

    @pytest.mark.parametrize(
        ("flow_run_id", "spec", "key"),
        [("run-2", SPEC, None), ("run-1", OTHER, None), ("run-1", SPEC, "second")],
    )
    def test_another_run_spec_or_key_gives_another_key(self, flow_run_id: str, spec: JobSpec, key: str | None) -> None:
        assert idempotency_key(flow_run_id, spec, key) != idempotency_key("run-1", SPEC)

    def test_outside_a_flow_run_only_an_explicit_key_makes_one(self) -> None:
        assert idempotency_key(None, SPEC) is None
        assert idempotency_key(None, SPEC, "mine") == idempotency_key(None, OTHER, "mine")

    def test_generations_are_distinct_and_the_first_has_no_suffix(self) -> None:
        first = idempotency_key("run-1", SPEC)
        assert first is not None
        keys = [idempotency_key("run-1", SPEC, generation=g) for g in range(3)]
        assert keys[0] == first
        assert len(set(keys)) == 3

    def test_a_key_fits_the_idempotency_header(self) -> None:
        key = idempotency_key("0" * 36, SPEC, "k" * 10_000, generation=99)
        assert key is not None
        assert len(key) <= 255


def test_tagged_adds_the_flow_run_tag_once() -> None:
    once = tagged(SPEC.model_copy(update={"tags": ["team:a"]}), "run-1")
    assert once.tags == ["team:a", flow_run_tag("run-1")]
    assert tagged(once, "run-1").tags == once.tags
    assert tagged(SPEC, None) is SPEC


def test_artifact_keys_use_only_what_prefect_allows() -> None:
    assert artifact_key("logs", "job_0123ABC") == "jobnode-logs-job-0123abc"

from __future__ import annotations

import pytest

from jobnode.client._attach import idempotency_key, request_digest
from jobnode.core.models import ItemsInput, JobSpec
from jobnode.prefect.context import artifact_key, flow_run_tag, submit_key, tagged

SPEC = JobSpec(name="nightly", step="identity", input=ItemsInput(items=[1, 2, 3]))


class TestSubmitKey:
    def test_the_same_flow_run_and_key_give_the_same_key(self) -> None:
        assert submit_key("run-1") == submit_key("run-1")
        assert submit_key("run-1", "a") == submit_key("run-1", "a")

    @pytest.mark.parametrize(("flow_run_id", "key"), [("run-2", None), ("run-1", "second"), (None, "run-1")])
    def test_another_run_or_key_gives_another_key(self, flow_run_id: str | None, key: str | None) -> None:
        assert submit_key(flow_run_id, key) != submit_key("run-1")

    def test_outside_a_flow_run_only_an_explicit_key_makes_one(self) -> None:
        assert submit_key(None) is None
        assert submit_key(None, "mine") is not None

    def test_a_key_is_short_enough_for_any_idempotency_header_with_its_request_and_generation(self) -> None:
        stem = submit_key("0" * 36, "k" * 10_000)
        assert stem is not None
        assert len(idempotency_key(stem, request_digest(SPEC), 99)) < 64


def test_tagged_adds_the_flow_run_tag_once() -> None:
    once = tagged(SPEC.model_copy(update={"tags": ["team:a"]}), "run-1")
    assert once.tags == ["team:a", flow_run_tag("run-1")]
    assert tagged(once, "run-1").tags == once.tags
    assert tagged(SPEC, None) is SPEC


def test_artifact_keys_use_only_what_prefect_allows() -> None:
    assert artifact_key("logs", "job_0123ABC") == "jobnode-logs-job-0123abc"

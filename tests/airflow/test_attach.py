"""Reattaching: a retried task finds the job it started, through the task state store or the idempotency key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import jobnode
from jobnode.airflow._attach import STATE_KEY, attach, base_key, idempotency_key
from jobnode.client import build_spec
from jobnode.core.models import JobState
from tests.airflow.fakes import FakeBackend

SPEC = build_spec(name="n", step="identity", items=[1, 2])
BASE = base_key("dag", "run", "task", -1)


class Store:
    """Airflow's task state store accessor, in memory."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class BrokenStore(Store):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("the API server is down")

    def set(self, key: str, value: Any) -> None:
        raise RuntimeError("the API server is down")


@pytest.fixture
def platform() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(platform: FakeBackend) -> Iterator[jobnode.Client]:
    with jobnode.Client(backend=platform) as c:
        yield c


def test_keys_are_stable_across_tries_and_distinct_across_task_instances() -> None:
    assert base_key("dag", "run", "task", -1) == BASE
    others = {base_key("dag", "run", "task", 0), base_key("dag", "run2", "task", -1), base_key("d", "run", "task", -1)}
    assert BASE not in others
    assert len(others) == 3
    assert len(idempotency_key(base_key("d" * 250, "r" * 250, "t" * 250, 10_000), 999)) < 64


def test_a_retry_reattaches_through_the_store(client: jobnode.Client, platform: FakeBackend) -> None:
    store = Store()
    first = attach(client, SPEC, base=BASE, store=store)
    assert first.how == "created"
    assert store.values[STATE_KEY] == {"job_id": first.job.id, "generation": 0, "jobs": [first.job.id]}
    again = attach(client, SPEC, base=BASE, store=store)
    assert again.how == "reattached"
    assert again.job.id == first.job.id
    assert platform.calls["create_job"] == 1
    assert len(platform.jobs) == 1


def test_a_retry_reattaches_through_the_key_alone(client: jobnode.Client, platform: FakeBackend) -> None:
    first = attach(client, SPEC, base=BASE)
    again = attach(client, SPEC, base=BASE)
    assert again.job.id == first.job.id
    assert len(platform.jobs) == 1


@pytest.fixture(params=["store", "key"])
def store(request: pytest.FixtureRequest) -> Store | None:
    """A fresh task state store, or none (the idempotency key alone finds the job)."""
    return Store() if request.param == "store" else None


def test_a_job_that_succeeded_is_not_run_again(client: jobnode.Client, platform: FakeBackend, store: Any) -> None:
    first = attach(client, SPEC, base=BASE, store=store)
    platform.set(first.job.id, JobState.SUCCEEDED)
    again = attach(client, SPEC, base=BASE, store=store)
    assert again.how == "succeeded"
    assert again.job.id == first.job.id
    assert len(platform.jobs) == 1


@pytest.mark.parametrize("ended", [JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT])
def test_a_job_that_failed_is_replaced(
    client: jobnode.Client, platform: FakeBackend, store: Any, ended: JobState
) -> None:
    first = attach(client, SPEC, base=BASE, store=store)
    platform.set(first.job.id, ended)
    second = attach(client, SPEC, base=BASE, store=store)
    assert second.how == "created"
    assert second.job.id != first.job.id
    assert second.generation == 1
    assert second.jobs == [first.job.id, second.job.id]
    third = attach(client, SPEC, base=BASE, store=store)
    assert third.job.id == second.job.id
    assert len(platform.jobs) == 2


def test_a_changed_request_gets_a_new_key(client: jobnode.Client, platform: FakeBackend) -> None:
    first = attach(client, SPEC, base=BASE)
    changed = attach(client, build_spec(name="n", step="identity", items=[1, 2, 3]), base=BASE)
    assert changed.job.id != first.job.id
    assert changed.generation == 1


def test_a_store_that_fails_costs_requests_not_jobs(client: jobnode.Client, platform: FakeBackend) -> None:
    first = attach(client, SPEC, base=BASE, store=BrokenStore())
    again = attach(client, SPEC, base=BASE, store=BrokenStore())
    assert again.job.id == first.job.id
    assert len(platform.jobs) == 1


def test_a_recorded_job_that_was_deleted_is_replaced(client: jobnode.Client, platform: FakeBackend) -> None:
    store = Store()
    first = attach(client, SPEC, base=BASE, store=store)
    platform.remove(first.job.id)
    platform.keys.clear()
    again = attach(client, SPEC, base=BASE, store=store)
    assert again.job.id != first.job.id
    assert again.generation == 1

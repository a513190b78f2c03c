"""Fixtures of the provider's unit tests: Airflow connections from the environment, a fake platform behind them."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import jobnode
from jobnode.service.process import ServiceProcess
from tests.airflow.fakes import FakeBackend


def connection_env(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> str:
    """Declare an Airflow connection through `AIRFLOW_CONN_<ID>` (JSON), as a deployment would."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "jobnode", **fields}))
    return conn_id


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBackend]:
    """A fake platform that every client the hook builds, sync or async, talks to."""
    backend = FakeBackend(watch=False)
    monkeypatch.setattr("jobnode.airflow.hooks.AsyncClient", lambda *a, **k: jobnode.AsyncClient(backend=backend))
    monkeypatch.setattr("jobnode.airflow.hooks.Client", lambda *a, **k: jobnode.Client(backend=backend))
    yield backend


class Store:
    """Airflow's task state store accessor (one task instance's values, kept across its tries), in memory."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class OutletEvent:
    def __init__(self) -> None:
        self.extra: dict[str, Any] = {}


class FakeTI:
    """The task instance a task sees; XComs of every task of the run are shared, as in one DAG run."""

    def __init__(
        self,
        task_id: str = "task",
        *,
        xcoms: dict[tuple[str, str], Any] | None = None,
        try_number: int = 1,
        map_index: int = -1,
        run_id: str | None = None,
    ) -> None:
        # each test is a DAG run of its own unless it says otherwise (job idempotency keys derive from the run)
        self.dag_id, self.run_id, self.task_id = "dag", run_id or f"run-{uuid.uuid4().hex}", task_id
        self.map_index, self.try_number = map_index, try_number
        self.xcoms = {} if xcoms is None else xcoms
        self.start_date = datetime.now(UTC)
        self.stats_tags: dict[str, str] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[(self.task_id, key)] = value

    def xcom_pull(self, task_ids: str | list[str], key: str = "return_value", **_: Any) -> Any:
        if isinstance(task_ids, str):
            return self.xcoms.get((task_ids, key))
        return [self.xcoms.get((t, key)) for t in task_ids]


def task_context(task: Any, ti: FakeTI | None = None, store: Any = None) -> dict[str, Any]:
    """What the task runner gives `execute`: the task instance, the DAG, the state store, outlet events."""
    return {
        "ti": ti or FakeTI(task.task_id),
        "dag": task.dag if task.has_dag() else type("Dag", (), {"dag_id": "dag"})(),
        "task_state_store": store,
        "outlet_events": defaultdict(OutletEvent),
    }


@pytest.fixture
def fake_conn(monkeypatch: pytest.MonkeyPatch, fake: FakeBackend) -> str:
    """A connection of its own (so no poller is shared with another test) to the fake platform."""
    return connection_env(
        monkeypatch, f"fake_{uuid.uuid4().hex[:8]}", host="fake.invalid", extra={"poll_interval": 0.1}
    )


@pytest.fixture
def service_conn(monkeypatch: pytest.MonkeyPatch, service: ServiceProcess) -> str:
    """The connection `jobnode_default` to the session's real local service."""
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    return connection_env(
        monkeypatch,
        "jobnode_default",
        host=host,
        port=int(port),
        password=service.token,
        extra={"poll_interval": 0.2},
    )

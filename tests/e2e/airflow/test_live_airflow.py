"""End-to-end tests with real Airflow processes (api-server, scheduler with the LocalExecutor, dag-processor,
triggerer; SQLite metadata database) against the real local service, started as the docs' local setup starts them
(the scheduler's and triggerer's log servers off: nothing listens beyond loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.core.models import JobState
from jobnode.service.process import ServiceProcess
from tests.e2e.airflow.conftest import SQLITE_BUSY_SECONDS, AirflowHome

LIVE_DAGS = Path(__file__).resolve().parent / "live_dags"
DAG_ID = "jobnode_live_test"
#: how often a REST API call that got a 500 is made in all
API_ATTEMPTS = 3
#: each component with the arguments of the docs' local setup
COMPONENTS = {
    "api-server": [],
    "scheduler": ["--skip-serve-logs"],
    "dag-processor": [],
    "triggerer": ["--skip-serve-logs"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, jobnode.JobnodeError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout:g}s (last: {last!r})")


class Airflow:
    """The Airflow components as child processes, each in a process group of its own (so that stopping one
    stops the processes it started too), and a REST API client."""

    def __init__(self, home: AirflowHome, logs: Path) -> None:
        self.home = home.home
        self.port = _free_port()
        self.env = {
            **home.env,
            "AIRFLOW__CORE__DAGS_FOLDER": str(LIVE_DAGS),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "true",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
            # a killed triggerer's triggers move to a live one once its heartbeat is this old
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
        }
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # a request may wait out SQLite's lock (SQLITE_BUSY_SECONDS) before the API server answers it
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=SQLITE_BUSY_SECONDS + 30)

    def start(self) -> None:
        """The API server first (tasks report to it from their first line), then the other components."""
        self.launch("api-server")
        token = _until("the API server answers", self._token, timeout=120)
        self.http.headers["Authorization"] = f"Bearer {token}"
        for name in COMPONENTS:
            if name not in self.procs:
                self.launch(name)

    def launch(self, name: str, component: str | None = None) -> None:
        """Start `component` (by default the one called `name`) as `name`."""
        component = component or name
        airflow = str(Path(sys.executable).with_name("airflow"))
        with (self.logs / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                [airflow, component, *COMPONENTS[component]],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _token(self) -> str:
        response = self.http.get("/auth/token")
        return str(response.json()["access_token"]) if response.status_code == 201 else ""

    def kill(self, name: str) -> None:
        """Kill a component the way a lost machine does: SIGKILL, no clean-up, no last heartbeat."""
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.http.close()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST API call. A 500 is asked again, twice: on SQLite, Airflow's API server answers 500 to a request
        that lost a lock to another of its own ("database is locked"), having changed nothing."""
        for attempt in range(API_ATTEMPTS):
            response = self.http.request(method, f"/api/v2{path}", **kwargs)
            if response.status_code != 500 or attempt == API_ATTEMPTS - 1:
                break
            time.sleep(1)
        response.raise_for_status()
        return response.json()

    def task(self, run_id: str, task_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
        result: dict[str, Any] = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return result

    def ended(self, run_id: str, task_id: str, timeout: float) -> dict[str, Any]:
        """The task instance once it has ended (succeeded or failed for good)."""
        result: dict[str, Any] = _until(
            f"{task_id} ends",
            lambda: (ti := self.task(run_id, task_id))["state"] in ("success", "failed") and ti,
            timeout=timeout,
        )
        return result

    def xcom(self, run_id: str, task_id: str, key: str) -> Any:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.api("GET", path)["value"]

    def link(self, run_id: str, task_id: str) -> str | None:
        """What the task's "jobnode job" button opens, as the UI asks the API server for it."""
        links = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/links")["extra_links"]
        return links.get("jobnode job")  # type: ignore[no-any-return]

    def log(self, run_id: str, task_id: str, try_number: int) -> str:
        """The task's log as the UI reads it through the API server."""
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        return json.dumps(self.api("GET", path, headers={"Accept": "application/json"}))

    def trigger_logs(self, run_id: str, task_id: str, dag_id: str = DAG_ID) -> dict[str, str]:
        """What the task's trigger logged so far, by the triggerer (its job id) that ran it."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return {p.name.split(".")[-2]: p.read_text(errors="replace") for p in folder.glob("*.log.trigger.*.log")}

    def trigger_log(self, run_id: str, task_id: str) -> str:
        """What the task's trigger logged in the triggerers so far."""
        return "".join(self.trigger_logs(run_id, task_id).values())

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log"))


@pytest.fixture
def airflow(airflow_home: AirflowHome, tmp_path: Path) -> Iterator[Airflow]:
    processes = Airflow(airflow_home, tmp_path)
    try:
        processes.start()
        yield processes
    finally:
        processes.stop()


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_schedules_deferral_kills_timeouts_and_clears_as_users_meet_them(
    airflow: Airflow, client: jobnode.Client, service: ServiceProcess
) -> None:
    """One Airflow, the DAGs of `live_dags/`: a deferred task marked failed cancels its job; a killed try's retry
    reattaches to its one job, and its link opens that job's page; a task cleared after its request changed runs
    the new request; `execution_timeout` on the worker and while deferred fails the task and cancels the job; a DAG
    that only the scheduler starts completes."""
    try:
        _until("the DAG is parsed", lambda: airflow.api("GET", f"/dags/{DAG_ID}"), timeout=120)
        airflow.api("POST", "/variables", json={"key": "live_seconds", "value": "0.1"})
        run_id = airflow.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})["dag_run_id"]

        deferred = _until(
            "the task defers", lambda: airflow.task(run_id, "deferred")["state"] == "deferred", timeout=150
        )
        assert deferred
        (job,) = client.jobs.list(name="live-deferred").data
        # Airflow calls on_kill only on a trigger that runs: wait until the triggerer has picked it up
        _until(
            "the trigger follows the job",
            lambda: f"job {job.id}: running" in airflow.trigger_log(run_id, "deferred"),
            timeout=60,
        )
        airflow.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/deferred", json={"new_state": "failed"})
        # the triggerer cancels the trigger as a user action and calls its on_kill, which cancels the job
        _until("the job is cancelled", lambda: client.jobs.get(job.id).state is JobState.CANCELLED, timeout=60)

        killed = airflow.ended(run_id, "killed", timeout=180)
        assert killed["state"] == "success"
        assert killed["try_number"] == 2
        (only,) = client.jobs.list(name="live-killed").data  # the retry reattached: exactly one job
        assert only.state is JobState.SUCCEEDED
        # the task's "jobnode job" button, as Airflow's UI asks for it, opens the job's page in the console
        assert airflow.link(run_id, "killed") == only.url == f"{service.url}/ui/jobs/{only.id}"
        assert f"job {only.id}" in airflow.log(run_id, "killed", 2)  # logs read without the log servers

        # a succeeded task cleared after its request changed runs the new request (and the unchanged one would not)
        assert airflow.ended(run_id, "changing", timeout=120)["state"] == "success"
        first = airflow.xcom(run_id, "changing", "job_id")
        airflow.api("PATCH", "/variables/live_seconds", json={"key": "live_seconds", "value": "0.2"})
        airflow.api(
            "POST",
            f"/dags/{DAG_ID}/clearTaskInstances",
            json={"dag_run_id": run_id, "task_ids": ["changing"], "only_failed": False, "dry_run": False},
        )
        again = _until(
            "the cleared task runs again",
            lambda: (ti := airflow.task(run_id, "changing"))["try_number"] == 2 and ti["state"] == "success" and ti,
            timeout=120,
        )
        assert again
        second = airflow.xcom(run_id, "changing", "job_id")
        assert second != first  # not the stale job of the first request
        assert client.jobs.get(second).state is client.jobs.get(first).state is JobState.SUCCEEDED
        assert f"job {second}" in airflow.log(run_id, "changing", 2)

        for task_id, name in (("worker_timeout", "live-worker-timeout"), ("deferred_timeout", "live-deferred-timeout")):
            timed_out = airflow.ended(run_id, task_id, timeout=120)
            assert timed_out["state"] == "failed", task_id
            (job,) = client.jobs.list(name=name).data
            assert client.jobs.wait(job.id, timeout=30).state is JobState.CANCELLED, task_id
        scheduled_run_completes(airflow, client)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{airflow.tail()}") from None


def scheduled_run_completes(airflow: Airflow, client: jobnode.Client) -> None:
    """Nothing triggers `jobnode_scheduled_test`: the scheduler creates its run from the schedule, and the run must
    complete (its job succeeded, then the cleanup deleted it)."""
    runs = _until(
        "the scheduler starts and finishes a scheduled run",
        lambda: [
            r
            for r in airflow.api("GET", "/dags/jobnode_scheduled_test/dagRuns")["dag_runs"]
            if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")
        ],
        timeout=120,
    )
    assert [r["state"] for r in runs] == ["success"]
    xcom = f"/dags/jobnode_scheduled_test/dagRuns/{runs[0]['dag_run_id']}/taskInstances/scheduled/xcomEntries/job_id"
    job_id = airflow.api("GET", xcom)["value"]
    assert {"succeeded", "deleted"} <= {e.type for e in client.jobs.events(job_id)}  # events outlive the job


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_killed_triggerer_hands_its_waits_to_another_and_each_completes_once(
    airflow: Airflow, client: jobnode.Client, tmp_path: Path
) -> None:
    """Six deferred waits run in one triggerer; a second triggerer starts and the first is killed (SIGKILL). The
    second takes the triggers over once the first's heartbeat is stale, follows the same jobs (none is submitted
    again), and each task completes once, on its first try."""
    dag_id, tasks = "jobnode_triggerers_test", [f"wait_{n}" for n in range(6)]
    gate = tmp_path / "gate"
    try:
        _until("the DAG is parsed", lambda: airflow.api("GET", f"/dags/{dag_id}"), timeout=120)
        airflow.api("POST", "/variables", json={"key": "moved_gate", "value": str(gate)})
        run_id = airflow.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"]

        def followed_by(count: int) -> bool:
            """Whether every task's trigger has logged its job in `count` triggerers."""
            logs = [airflow.trigger_logs(run_id, t, dag_id) for t in tasks]
            return all(len(by) == count and all("job " in text for text in by.values()) for by in logs)

        _until("every wait runs in the first triggerer", lambda: followed_by(1), timeout=240)
        airflow.launch("triggerer-2", "triggerer")
        airflow.kill("triggerer")
        _until("the second triggerer takes every wait over", lambda: followed_by(2), timeout=120)

        gate.touch()  # the jobs end only now, so that the second triggerer is the one that sees them end
        for task_id in tasks:
            ended = _until(
                f"{task_id} ends",
                lambda t=task_id: (ti := airflow.task(run_id, t, dag_id))["state"] in ("success", "failed") and ti,
                timeout=120,
            )
            assert (ended["state"], ended["try_number"]) == ("success", 1), task_id
        for n in range(6):
            (job,) = client.jobs.list(name=f"live-moved-{n}").data  # followed again, never submitted again
            assert job.state is JobState.SUCCEEDED
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{airflow.tail()}") from None

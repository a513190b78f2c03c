"""The operators and the sensor: deferral, execute_complete, polling on the worker, reattach, logs, cleanup, cancel."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.sdk import DAG, Asset, PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowTaskTimeout,
    TaskDeferred,
)

import jobnode
from jobnode.airflow.links import XCOM_JOB_ID, XCOM_JOB_IDS, XCOM_JOB_URL, JobnodeJobLink
from jobnode.airflow.operators import (
    STATE_KEY,
    JobnodeCancelJobOperator,
    JobnodeCleanupOperator,
    JobnodeFetchLogsOperator,
    JobnodeSubmitJobOperator,
)
from jobnode.airflow.sensors import JobnodeJobSensor
from jobnode.airflow.triggers import JobnodeJobTrigger, event_payload
from jobnode.core.models import JobError, JobState
from tests.airflow.conftest import FakeTI, Store, task_context
from tests.airflow.fakes import FakeBackend


def _submit(conn: str, **kwargs: object) -> JobnodeSubmitJobOperator:
    fields: dict[str, object] = {"task_id": "score", "step": "identity", "items": [1, 2, 3], "jobnode_conn_id": conn}
    return JobnodeSubmitJobOperator(**{**fields, **kwargs})  # type: ignore[arg-type]


class TestSubmitDeferred:
    def test_defers_to_the_trigger_after_pushing_the_job(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, deferrable=True, timeout=600)
        context = task_context(op)
        before = time.time()
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(context)
        trigger = deferred.value.trigger
        assert isinstance(trigger, JobnodeJobTrigger)
        assert deferred.value.method_name == "execute_complete"
        (job_id,) = fake.jobs
        assert trigger.job_id == job_id
        assert trigger.jobnode_conn_id == fake_conn
        assert trigger.cancel_on_kill and trigger.cancel_on_timeout
        assert trigger.timeout_at is not None and trigger.timeout_at >= before + 600
        ti = context["ti"]
        assert ti.xcoms[("score", XCOM_JOB_ID)] == job_id
        assert ti.xcoms[("score", XCOM_JOB_URL)] == fake.job_url(job_id)
        assert ti.xcoms[("score", XCOM_JOB_IDS)] == [job_id]

    def test_a_job_that_fails_before_deferral_fails_the_task_at_once(self, fake: FakeBackend, fake_conn: str) -> None:
        def fail_at_once(job: jobnode.Job) -> None:
            fake.errors[job.id] = [JobError(time="2026-01-01T00:00:00Z", item="2", message="not a number")]
            fake.set(job.id, JobState.FAILED, reason="1 of 3 items failed")

        fake.on_create = fail_at_once
        op = _submit(fake_conn, deferrable=True)
        with pytest.raises(AirflowException, match="1 of 3 items failed") as failed:
            op.execute(task_context(op))
        assert "2: not a number" in str(failed.value)

    def test_execute_complete_returns_the_summary_and_fills_outlet_events(
        self, fake: FakeBackend, fake_conn: str
    ) -> None:
        asset = Asset("jobnode://example/scores")
        op = _submit(fake_conn, deferrable=True, outlets=[asset])
        job = fake.add()
        fake.set(job.id, JobState.SUCCEEDED)
        context = task_context(op)
        payload = event_payload("success", job.id, "done", fake.jobs[job.id])
        summary = op.execute_complete(context, json.loads(json.dumps(payload)))
        assert summary["job_id"] == job.id
        assert summary["state"] == "succeeded"
        assert summary["outputs"] == [f"art_{job.id}"]
        assert context["outlet_events"][asset].extra == {
            "jobnode_job_id": job.id,
            "jobnode_url": fake.jobs[job.id].url,
            "jobnode_outputs": [f"art_{job.id}"],
        }

    @pytest.mark.parametrize("status", ["failed", "timeout", "error"])
    def test_execute_complete_fails_with_the_event_s_message(self, fake_conn: str, status: str) -> None:
        op = _submit(fake_conn, deferrable=True)
        message = f"job job_1 {status}\nlast errors:\n  - item-3: boom"  # the trigger's report
        with pytest.raises(AirflowException) as failed:
            op.execute_complete(task_context(op), event_payload(status, "job_1", message))  # type: ignore[arg-type]
        assert str(failed.value) == message

    def test_openlineage_facets_name_inputs_and_outputs(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, items=None, files=["s3://reviews/2026/", "/data/extra.txt"])
        job = fake.add()
        fake.set(job.id, JobState.SUCCEEDED)
        op.execute_complete(task_context(op), event_payload("success", job.id, "ok", fake.jobs[job.id]))
        lineage = op.get_openlineage_facets_on_complete(None)
        inputs = [(d.namespace, d.name) for d in lineage.inputs]
        assert inputs == [("s3://reviews", "2026/"), ("file", "/data/extra.txt")]
        outputs = [(d.namespace, d.name) for d in lineage.outputs]
        assert outputs == [("jobnode-memory://memory.invalid", f"artifacts/art_{job.id}")]
        assert lineage.run_facets["externalQuery"].externalQueryId == job.id
        tags = {(t.key, t.value) for t in lineage.run_facets["tags"].tags}
        assert tags == {("jobnode.platform", "memory"), ("jobnode.job_url", fake.jobs[job.id].url)}

    def test_openlineage_facets_of_a_failed_job_name_the_job_and_its_inputs(
        self, fake: FakeBackend, fake_conn: str
    ) -> None:
        op = _submit(fake_conn, deferrable=True, items=None, artifacts=["art_in"])
        job = fake.add()
        fake.set(job.id, JobState.FAILED, reason="1 of 3 items failed")
        with pytest.raises(AirflowException):
            op.execute_complete(task_context(op), event_payload("failed", job.id, "failed", fake.jobs[job.id]))
        lineage = op.get_openlineage_facets_on_failure(None)
        assert [(d.namespace, d.name) for d in lineage.inputs] == [
            ("jobnode-memory://memory.invalid", "artifacts/art_in")
        ]
        assert lineage.run_facets["externalQuery"].externalQueryId == job.id


class TestSubmitOnTheWorker:
    def test_waits_and_returns_the_summary(self, service_conn: str, client: jobnode.Client) -> None:
        op = _submit(service_conn, deferrable=False, check_interval=0.2, items=list(range(20)), batch_size=5)
        summary = op.execute(task_context(op))
        assert summary["state"] == "succeeded"
        assert list(client.artifacts.read(summary["outputs"][0])) == list(range(20))

    def test_a_failed_job_fails_the_task_with_its_reason(self, service_conn: str, client: jobnode.Client) -> None:
        op = _submit(service_conn, deferrable=False, step="fail", step_params={"fail_items": [2]}, check_interval=0.2)
        with pytest.raises(AirflowException, match=r"ended failed: 1 of 3 items failed") as failed:
            op.execute(task_context(op))
        assert "last errors:\n  - 1: failed on purpose" in str(failed.value)
        lineage = op.get_openlineage_facets_on_failure(None)
        job_id = lineage.run_facets["externalQuery"].externalQueryId
        assert [d.name for d in lineage.outputs] == [f"artifacts/{a.id}" for a in client.jobs.get(job_id).outputs]

    def test_timeout_cancels_the_job(self, service_conn: str, client: jobnode.Client) -> None:
        op = _submit(service_conn, deferrable=False, step="sleep", step_params={"seconds": 60}, timeout=0.5)
        context = task_context(op)
        with pytest.raises(AirflowException, match="cancelled"):
            op.execute(context)
        job_id = context["ti"].xcoms[("score", XCOM_JOB_ID)]
        assert client.jobs.get(job_id).state is JobState.CANCELLED

    def test_on_kill_cancels_the_job_it_waits_for(self, fake: FakeBackend, fake_conn: str) -> None:
        job = fake.add()
        op = _submit(fake_conn, deferrable=False)
        op._waiting_on = job.id  # what execute records while it polls
        op.on_kill()
        assert fake.jobs[job.id].state is JobState.CANCELLED

    def test_no_wait_returns_the_queued_job(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, wait_for_completion=False)
        summary = op.execute(task_context(op))
        assert summary["state"] == "queued"
        assert fake.calls["get_job"] == 0


class TestSubmitRequest:
    def test_a_bad_request_fails_without_retries(self, fake_conn: str) -> None:
        op = _submit(fake_conn, files=["a.txt"])
        with pytest.raises(AirflowFailException, match="exactly one of items=, files="):
            op.execute(task_context(op))
        op = _submit(fake_conn, batch_size=0)
        with pytest.raises(AirflowFailException, match="batch_size"):
            op.execute(task_context(op))

    def test_a_request_the_service_refuses_fails_without_retries(self, service_conn: str) -> None:
        op = _submit(service_conn, step="no-such-step")
        with pytest.raises(AirflowFailException, match="no-such-step"):
            op.execute(task_context(op))

    def test_default_deferrable_follows_the_airflow_configuration(
        self, monkeypatch: pytest.MonkeyPatch, fake_conn: str
    ) -> None:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
        assert _submit(fake_conn).deferrable is True
        assert JobnodeJobSensor(task_id="s", job_id="j").deferrable is True
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false")
        assert _submit(fake_conn).deferrable is False

    def test_the_job_name_defaults_to_dag_and_task(self, fake: FakeBackend, fake_conn: str) -> None:
        with DAG("nightly", schedule=None):
            op = _submit(fake_conn, wait_for_completion=False)
        op.execute(task_context(op))
        (job,) = fake.jobs.values()
        assert job.name == "nightly.score"


class TestReattach:
    def test_a_retried_task_waits_for_the_job_it_started(self, fake: FakeBackend, fake_conn: str) -> None:
        store = Store()
        op = _submit(fake_conn, deferrable=True)
        with pytest.raises(TaskDeferred):
            op.execute(task_context(op, FakeTI("score", try_number=1, run_id="r"), store))
        (job_id,) = fake.jobs
        record = store.values[STATE_KEY]
        assert (record["job_id"], record["generation"], record["jobs"]) == (job_id, 0, [job_id])
        with pytest.raises(TaskDeferred) as retried:
            op.execute(task_context(op, FakeTI("score", try_number=2, run_id="r"), store))
        assert retried.value.trigger.job_id == job_id
        assert (len(fake.jobs), fake.calls["create_job"]) == (1, 1)  # the store found it: no create at all

    def test_a_worker_that_dies_before_recording_the_job_loses_nothing(self, fake: FakeBackend, fake_conn: str) -> None:
        class DiesOnSet(Store):
            def set(self, key: str, value: object) -> None:
                raise SystemExit("the worker died right after creating the job")

        op = _submit(fake_conn, deferrable=True)
        with pytest.raises(SystemExit):
            op.execute(task_context(op, FakeTI("score", try_number=1, run_id="r"), DiesOnSet()))
        with pytest.raises(TaskDeferred) as retried:
            op.execute(task_context(op, FakeTI("score", try_number=2, run_id="r"), Store()))
        (job_id,) = fake.jobs  # the idempotency key found it
        assert retried.value.trigger.job_id == job_id

    @pytest.mark.parametrize("store", [Store, None], ids=["store", "key-alone"])
    def test_a_retry_after_success_does_not_run_again(
        self, fake: FakeBackend, fake_conn: str, store: type[Store] | None
    ) -> None:
        kept = store() if store is not None else None
        op = _submit(fake_conn, deferrable=True)
        with pytest.raises(TaskDeferred):
            op.execute(task_context(op, FakeTI("score", run_id="r"), kept))
        (job_id,) = fake.jobs
        fake.set(job_id, JobState.SUCCEEDED)
        summary = op.execute(task_context(op, FakeTI("score", try_number=2, run_id="r"), kept))
        assert summary["job_id"] == job_id
        assert len(fake.jobs) == 1

    @pytest.mark.parametrize("ended", [JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT])
    def test_a_retry_after_a_failed_job_starts_a_new_one(
        self, fake: FakeBackend, fake_conn: str, ended: JobState
    ) -> None:
        store = Store()
        op = _submit(fake_conn, deferrable=True)
        with pytest.raises(TaskDeferred):
            op.execute(task_context(op, FakeTI("score", run_id="r"), store))
        (first,) = fake.jobs
        fake.set(first, ended)
        context = task_context(op, FakeTI("score", try_number=2, run_id="r"), store)
        with pytest.raises(TaskDeferred) as retried:
            op.execute(context)
        second = retried.value.trigger.job_id
        assert second != first
        assert store.values[STATE_KEY]["generation"] == 1
        assert context["ti"].xcoms[("score", XCOM_JOB_IDS)] == [first, second]  # the cleanup deletes both

    @pytest.mark.parametrize("store", [Store, None], ids=["store", "key-alone"])
    def test_a_task_cleared_after_its_request_changed_runs_the_new_request(
        self, fake: FakeBackend, fake_conn: str, store: type[Store] | None
    ) -> None:
        kept = store() if store is not None else None
        op = _submit(fake_conn, deferrable=True)
        with pytest.raises(TaskDeferred):
            op.execute(task_context(op, FakeTI("score", run_id="r"), kept))
        (first,) = fake.jobs
        fake.set(first, JobState.SUCCEEDED)
        op.items = [1, 2, 3, 4]  # what rendering gives once the template's inputs changed
        with pytest.raises(TaskDeferred) as cleared:
            op.execute(task_context(op, FakeTI("score", try_number=2, run_id="r"), kept))
        assert cleared.value.trigger.job_id != first
        assert fake.specs[cleared.value.trigger.job_id].input.items == [1, 2, 3, 4]  # type: ignore[union-attr]
        op.items = [1, 2, 3]  # cleared again with the first request: its job succeeded, so it is not run again
        assert op.execute(task_context(op, FakeTI("score", try_number=3, run_id="r")))["job_id"] == first

    def test_retry_from_failure_runs_only_the_failed_items(
        self, service_conn: str, client: jobnode.Client, tmp_path: Path
    ) -> None:
        op = _submit(
            service_conn,
            deferrable=False,
            check_interval=0.2,
            step="flaky",
            step_params={"marker_dir": str(tmp_path), "fail_items": [2]},
            retry_from_failure=True,
        )
        store = Store()
        with pytest.raises(AirflowException, match="item 2 failed on its first run"):
            op.execute(task_context(op, FakeTI("score", run_id="r"), store))
        summary = op.execute(task_context(op, FakeTI("score", try_number=2, run_id="r"), store))
        retry = client.jobs.get(summary["job_id"])
        assert retry.progress.items_total == 1
        results = sorted(r for output in summary["outputs"] for r in client.artifacts.read(output))
        assert results == [1, 2, 3]  # the failed job's results and the retry's

    def test_reattach_off_starts_a_job_per_try(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, wait_for_completion=False, reattach=False)
        store = Store()
        op.execute(task_context(op, FakeTI("score", try_number=1, run_id="r"), store))
        op.execute(task_context(op, FakeTI("score", try_number=2, run_id="r"), store))
        assert len(fake.jobs) == 2

    def test_map_indexes_get_jobs_of_their_own(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, wait_for_completion=False)
        op.execute(task_context(op, FakeTI("score", map_index=0, run_id="r")))
        op.execute(task_context(op, FakeTI("score", map_index=1, run_id="r")))
        assert len(fake.jobs) == 2


class TestTimeouts:
    def test_the_execution_timeout_bounds_a_deferred_wait(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, deferrable=True, timeout=600, execution_timeout=timedelta(seconds=20))
        ti = FakeTI("score")
        ti.start_date -= timedelta(seconds=5)
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(task_context(op, ti))
        assert deferred.value.trigger.timeout_at == pytest.approx(ti.start_date.timestamp() + 20)
        assert deferred.value.kwargs == {"deadline": "execution_timeout"}
        (job_id,) = fake.jobs
        timed_out = event_payload("timeout", job_id, f"job {job_id} did not end before the timeout")
        with pytest.raises(AirflowTaskTimeout, match="did not end before the timeout"):
            op.execute_complete(task_context(op), timed_out, deadline="execution_timeout")

    def test_the_sooner_timeout_wins(self, fake: FakeBackend, fake_conn: str) -> None:
        op = _submit(fake_conn, deferrable=True, timeout=30, execution_timeout=timedelta(hours=1))
        before = time.time()
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(task_context(op))
        assert before + 30 <= deferred.value.trigger.timeout_at <= time.time() + 30
        assert deferred.value.kwargs == {"deadline": "timeout"}
        with pytest.raises(AirflowException, match="too slow"):
            op.execute_complete(task_context(op), event_payload("timeout", "job_1", "too slow"), deadline="timeout")

    @pytest.mark.timeout(60, method="thread")  # Airflow's execution timeout takes SIGALRM, as pytest-timeout would
    def test_the_execution_timeout_on_the_worker_cancels_the_job(
        self, service_conn: str, client: jobnode.Client
    ) -> None:
        from airflow.sdk.execution_time.timeout import timeout

        op = _submit(service_conn, deferrable=False, step="sleep", step_params={"seconds": 60}, check_interval=0.2)
        context = task_context(op)
        with pytest.raises(AirflowTaskTimeout), timeout(2):  # what the task runner wraps execute in
            op.execute(context)
        op.on_kill()  # what the task runner calls next
        job_id = context["ti"].xcoms[("score", XCOM_JOB_ID)]
        assert client.jobs.wait(job_id, timeout=30).state is JobState.CANCELLED


class TestSensor:
    def test_poke_until_the_job_succeeds(self, fake: FakeBackend, fake_conn: str) -> None:
        job = fake.add()
        sensor = JobnodeJobSensor(task_id="wait", job_id=job.id, jobnode_conn_id=fake_conn)
        context = task_context(sensor)
        assert sensor.poke(context) is False
        assert context["ti"].xcoms[("wait", XCOM_JOB_URL)] == job.url
        fake.set(job.id, JobState.SUCCEEDED)
        done = sensor.poke(context)
        assert isinstance(done, PokeReturnValue)
        assert done.xcom_value["state"] == "succeeded"

    def test_a_failed_job_fails_the_sensor(self, fake: FakeBackend, fake_conn: str) -> None:
        job = fake.add()
        fake.set(job.id, JobState.TIMED_OUT, reason="the job ran longer than its timeout")
        sensor = JobnodeJobSensor(task_id="wait", job_id=job.id, jobnode_conn_id=fake_conn)
        with pytest.raises(AirflowException, match="ended timed_out: the job ran longer"):
            sensor.poke(task_context(sensor))
        assert sensor.get_openlineage_facets_on_failure(None).run_facets["externalQuery"].externalQueryId == job.id

    def test_deferred_sensor_never_cancels_the_job_on_kill(self, fake: FakeBackend, fake_conn: str) -> None:
        job = fake.add()
        sensor = JobnodeJobSensor(task_id="wait", job_id=job.id, jobnode_conn_id=fake_conn, deferrable=True, timeout=60)
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(task_context(sensor))
        trigger = deferred.value.trigger
        assert trigger.cancel_on_kill is False
        assert trigger.cancel_on_timeout is False
        with pytest.raises(AirflowSensorTimeout):
            sensor.execute_complete(task_context(sensor), event_payload("timeout", job.id, "too slow"))


class TestFetchLogs:
    def test_streams_entries_to_the_task_log_and_a_file(
        self, service_conn: str, client: jobnode.Client, tmp_path: Path
    ) -> None:
        job = client.jobs.create(step="fail", params={"fail_items": [3, 7]}, items=list(range(10)), batch_size=3)
        client.jobs.wait(job.id, timeout=30)
        out = tmp_path / "logs.jsonl"
        op = JobnodeFetchLogsOperator(
            task_id="logs", job_id=job.id, jobnode_conn_id=service_conn, output_path=f"file://{out}", first_errors=1
        )
        context = task_context(op)
        summary = op.execute(context)
        lines = out.read_text().splitlines()
        assert summary["entries"] == len(lines) >= 10
        assert summary["by_level"]["error"] == 2
        assert len(summary["first_errors"]) == 1
        assert " ERROR ItemFailed item=3 " in summary["first_errors"][0]
        assert {json.loads(line)["level"] for line in lines} >= {"info", "error"}
        assert context["ti"].xcoms[("logs", XCOM_JOB_URL)] == client.jobs.get(job.id).url
        lineage = op.get_openlineage_facets_on_complete(None)
        assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", str(out))]
        assert lineage.run_facets["externalQuery"].externalQueryId == job.id

    def test_filters_by_level_and_fails_over_the_error_threshold(
        self, service_conn: str, client: jobnode.Client
    ) -> None:
        job = client.jobs.create(step="fail", params={"fail_items": [1]}, items=[0, 1, 2])
        client.jobs.wait(job.id, timeout=30)
        op = JobnodeFetchLogsOperator(
            task_id="logs", job_id=job.id, jobnode_conn_id=service_conn, min_level="error", max_errors=0
        )
        with pytest.raises(AirflowException, match="logged 1 errors") as failed:
            op.execute(task_context(op))
        assert "failed on purpose" in str(failed.value)

    def test_a_bad_filter_is_named(self, fake_conn: str) -> None:
        op = JobnodeFetchLogsOperator(task_id="logs", job_id="j", jobnode_conn_id=fake_conn, min_level="loud")
        with pytest.raises(AirflowFailException, match="min_level must be debug, info, warning or error"):
            op.execute(task_context(op))
        op = JobnodeFetchLogsOperator(task_id="logs", job_id="j", jobnode_conn_id=fake_conn, after_time="yesterday")
        with pytest.raises(AirflowFailException, match="after_time must be an ISO 8601 time"):
            op.execute(task_context(op))


class TestCleanupAndCancel:
    def _run(self, service_conn: str, *, outlets: list[Asset], dry_run: bool = False) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
        with DAG("cleanup_test", schedule=None):
            first = _submit(service_conn, task_id="first", deferrable=False, check_interval=0.2, outlets=outlets)
            second = _submit(
                service_conn,
                task_id="second",
                deferrable=False,
                check_interval=0.2,
                items=None,
                artifacts=["{{ ti.xcom_pull('first', key='job_id') }}/results"],
            )
            cleanup = JobnodeCleanupOperator(task_id="cleanup", jobnode_conn_id=service_conn, dry_run=dry_run)
        xcoms: dict[tuple[str, str], object] = {}
        ids = []
        run_id = f"run-{time.time_ns()}"
        for op in (first, second):
            ti = FakeTI(op.task_id, xcoms=xcoms, run_id=run_id)
            op.render_template_fields({"ti": ti})
            ids.append(op.execute(task_context(op, ti))["job_id"])
        self.cleanup = cleanup
        return cleanup.execute(task_context(cleanup, FakeTI("cleanup", xcoms=xcoms))), ids

    def test_deletes_the_run_s_jobs_consumer_first(self, service_conn: str, client: jobnode.Client) -> None:
        report, (first, second) = self._run(service_conn, outlets=[])
        assert report["deleted_jobs"] == [second, first]
        dropped = self.cleanup.get_openlineage_facets_on_complete(None).outputs
        assert [d.name for d in dropped] == [f"artifacts/{a}" for a in report["deleted_artifacts"]]
        assert {d.facets["lifecycleStateChange"].lifecycleStateChange.value for d in dropped} == {"DROP"}
        for job_id in (first, second):
            with pytest.raises(jobnode.NotFound):
                client.jobs.get(job_id)

    def test_keeps_the_outputs_of_tasks_with_outlets(self, service_conn: str, client: jobnode.Client) -> None:
        report, (first, second) = self._run(service_conn, outlets=[Asset("jobnode://test/first")])
        assert report["deleted_jobs"] == [second]
        assert [k["id"] for k in report["kept"]] == [first]
        assert client.jobs.get(first).state is JobState.SUCCEEDED

    def test_dry_run_deletes_nothing(self, service_conn: str, client: jobnode.Client) -> None:
        report, (first, second) = self._run(service_conn, outlets=[], dry_run=True)
        assert report["plan"]["dry_run"] is True
        assert report["deleted_jobs"] == [second, first]  # what a cleanup would delete
        assert client.jobs.get(first).state is client.jobs.get(second).state is JobState.SUCCEEDED

    def test_cleanup_is_a_teardown_by_default(self, fake_conn: str) -> None:
        cleanup = JobnodeCleanupOperator(task_id="c", jobnode_conn_id=fake_conn)
        assert cleanup.is_teardown
        assert cleanup.trigger_rule == "all_done_setup_success"  # with no setups: once everything upstream is done
        assert not cleanup.on_failure_fail_dagrun
        plain = JobnodeCleanupOperator(task_id="p", jobnode_conn_id=fake_conn, teardown=False, trigger_rule="all_done")
        assert (plain.is_teardown, plain.trigger_rule) == (False, "all_done")

    def test_unknown_submit_tasks_are_named(self, fake_conn: str) -> None:
        with DAG("d", schedule=None):
            _submit(fake_conn)
            op = JobnodeCleanupOperator(task_id="c", jobnode_conn_id=fake_conn, submit_task_ids=["nope"])
        with pytest.raises(AirflowFailException, match="submit_task_ids: nope"):
            op.execute(task_context(op))

    def test_cancel(self, fake: FakeBackend, fake_conn: str) -> None:
        job = fake.add()
        op = JobnodeCancelJobOperator(task_id="stop", job_id=job.id, jobnode_conn_id=fake_conn)
        assert op.execute(task_context(op))["state"] == "cancelled"
        with pytest.raises(AirflowFailException, match="cannot cancel job job_nope"):
            JobnodeCancelJobOperator(task_id="stop", job_id="job_nope", jobnode_conn_id=fake_conn).execute(
                task_context(op)
            )


def test_link_reads_the_job_url_from_xcom(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.execution_time.xcom import XCom

    asked = {}

    def get_value(*, ti_key: object, key: str) -> str:
        asked["key"] = key
        return "http://127.0.0.1:8765/v1/jobs/job_1"

    monkeypatch.setattr(XCom, "get_value", get_value)
    assert JobnodeJobLink().get_link(None, ti_key=None) == "http://127.0.0.1:8765/v1/jobs/job_1"  # type: ignore[arg-type]
    assert asked["key"] == XCOM_JOB_URL


def test_the_example_dag_cleans_up_in_a_teardown() -> None:
    import runpy

    dag = runpy.run_path(str(Path(__file__).resolve().parents[2] / "dags" / "jobnode_example.py"))["dag"]
    [cleanup] = [t for t in dag.tasks if isinstance(t, JobnodeCleanupOperator)]
    assert cleanup.is_teardown
    assert not cleanup.downstream_list  # the only leaf, and one that does not decide the run's state

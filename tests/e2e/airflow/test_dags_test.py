"""`airflow dags test` of the example DAG and of a lineage DAG, against the real local service."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jobnode
from tests.e2e.airflow.conftest import REPO, TEST_DAGS, AirflowHome, job_fates


def test_a_running_job_is_awaited_in_the_trigger(airflow_home: AirflowHome, client: jobnode.Client) -> None:
    result = airflow_home.run("dags", "test", "jobnode_defer_test", "-f", str(TEST_DAGS / "jobnode_defer_test.py"))
    output = result.stdout + result.stderr
    assert "state=success" in output, output[-5000:]
    assert "running trigger in line" in output  # the job was still running (it sleeps): the wait was deferred
    [job] = client.jobs.list(name="defer-slow").data
    assert job.state is jobnode.JobState.SUCCEEDED


def test_example_dag_runs_and_cleans_up_after_itself(
    airflow_home: AirflowHome, client: jobnode.Client, tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("example") / "score.jsonl"
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_example",
        "-f",
        str(REPO / "dags" / "jobnode_example.py"),
        "--conf",
        f'{{"logs_to": "file://{logs}"}}',
        extra_env={"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true", "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags")},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    assert len(logs.read_text().splitlines()) == 10  # one entry per review
    fates = job_fates(client, output)
    # both jobs are gone with their outputs: the scoring job first (it read the staging job's output)
    assert sorted(fates.values()) == [("score-reviews", "deleted"), ("stage-reviews", "deleted")]
    deleted = [line for line in output.splitlines() if "deleted 2 jobs" in line]
    assert deleted, output[-5000:]
    score, stage = (next(j for j, (n, _) in fates.items() if n == name) for name in ("score-reviews", "stage-reviews"))
    assert deleted[0].index(score) < deleted[0].index(stage)


def test_a_failed_job_fails_the_run_its_cleanup_keeps_outlet_outputs_and_deletes_the_rest(
    airflow_home: AirflowHome, client: jobnode.Client
) -> None:
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_lineage_test",
        "-f",
        str(TEST_DAGS / "jobnode_lineage_test.py"),
        extra_env={"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "false"},
    )
    output = result.stdout + result.stderr
    # the cleanup (a teardown) succeeded after the failed job: the run fails all the same
    assert result.returncode != 0, output[-5000:]
    assert "DagRun failed" in output, output[-5000:]
    assert "ended failed: 1 of 3 items failed" in output
    failure = "\n".join(line for line in output.splitlines() if "failed" in line)
    assert re.search(r"last errors:\n\s+- 1: failed on purpose", output), failure  # item 1 (from 0) is the 2
    fates = {name: fate for name, fate in job_fates(client, output).values()}
    assert fates == {"lineage-produce": "succeeded", "lineage-read": "deleted", "lineage-failing": "deleted"}
    produce = next(j for j in client.jobs.list(name="lineage-produce").data)
    assert client.artifacts.get(produce.outputs[0].id).consumers == []  # its reader went; the output stays


def test_openlineage_events_name_the_job_of_every_task_even_a_failed_one(
    airflow_home: AirflowHome, client: jobnode.Client, tmp_path: Path
) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_openlineage_test",
        "-f",
        str(TEST_DAGS / "jobnode_openlineage_test.py"),
        extra_env={"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport), "AIRFLOW__OPENLINEAGE__NAMESPACE": "e2e"},
    )
    output = result.stdout + result.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []
    ends = {e["job"]["name"].rsplit(".", 1)[-1]: e for e in events if e["eventType"] in ("COMPLETE", "FAIL")}
    assert set(ends) >= {"produce", "wait", "logs", "failing", "cleanup"}, output[-5000:]

    def job_of(task: str) -> str:
        return str(ends[task]["run"]["facets"]["externalQuery"]["externalQueryId"])

    def page_of(task: str) -> str:
        """The job's page, which a lineage tool links to (the console's page of the job)."""
        tags = {t["key"]: t["value"] for t in ends[task]["run"]["facets"]["tags"]["tags"]}
        assert tags["jobnode.platform"] == "local"
        return tags["jobnode.job_url"]

    ids = {name: job_id for job_id, (name, _) in job_fates(client, output).items()}
    assert job_of("produce") == job_of("wait") == job_of("logs") == ids["ol-produce"]  # the sensor names its job
    produced = [d["name"] for d in ends["wait"]["outputs"]]
    assert produced
    failing = ends["failing"]
    assert failing["eventType"] == "FAIL"
    assert job_of("failing") == ids["ol-failing"]
    assert page_of("failing").endswith(f"/ui/jobs/{ids['ol-failing']}")  # the job is gone now (the cleanup)
    assert [d["name"] for d in failing["inputs"]] == produced
    failed_outputs = [d["name"] for d in failing["outputs"]]  # the results of the items that did not fail
    assert failed_outputs
    dropped = ends["cleanup"]["outputs"]
    assert {d["facets"]["lifecycleStateChange"]["lifecycleStateChange"] for d in dropped} == {"DROP"}
    assert {d["name"] for d in dropped} == {*produced, *failed_outputs}

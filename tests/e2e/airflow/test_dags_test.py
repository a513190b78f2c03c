"""`airflow dags test` of the example DAG and of a lineage DAG, against the real local service."""

from __future__ import annotations

import re

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


def test_failed_job_fails_its_task_with_the_reason_and_cleanup_keeps_outlet_outputs(
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
    assert "state=failed" in output, output[-5000:]
    assert "ended failed: 1 of 3 items failed" in output
    failure = "\n".join(line for line in output.splitlines() if "failed" in line)
    assert re.search(r"last errors:\n\s+- 1: failed on purpose", output), failure  # item 1 (from 0) is the 2
    fates = {name: fate for name, fate in job_fates(client, output).values()}
    assert fates == {"lineage-produce": "succeeded", "lineage-read": "deleted", "lineage-failing": "deleted"}
    produce = next(j for j in client.jobs.list(name="lineage-produce").data)
    assert client.artifacts.get(produce.outputs[0].id).consumers == []  # its reader went; the output stays

"""`airflow dags test` on Dataiku DSS, through the emulator (`jobnode serve --platform dataiku`) behind a
`jobnode_dataiku` connection: the example DAG (only its `jobnode_conn_id` param changes) and the Dataiku example DAG
(`dags/jobnode_dataiku_example.py`)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

import jobnode
from jobnode.service.builtin_steps import SentimentParams, analyse
from jobnode.service.process import ServiceProcess
from tests.e2e.airflow.conftest import REPO, AirflowHome
from tests.platforms.dataiku.conftest import project_key

REVIEWS = [
    "The delivery was great and fast.",
    "Support was terrible, I want a refund.",
    "This product is not bad at all.",
]


def connection(service: ServiceProcess, key: str) -> str:
    return json.dumps(
        {
            "conn_type": "jobnode_dataiku",
            "host": service.url,
            "password": service.token,
            "extra": {"project_key": key, "poll_interval": 0.5},
        }
    )


def dss(service: ServiceProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call to the emulator's DSS API (what a DSS user does with the API client)."""
    response = httpx.request(
        method, f"{service.url}/dip/publicapi{path}", auth=(service.token or "", ""), timeout=30, **kwargs
    )
    response.raise_for_status()
    return response


def test_example_dag_runs_on_dataiku_by_switching_the_connection(
    airflow_home: AirflowHome, dataiku_service: ServiceProcess, tmp_path: Path
) -> None:
    key = project_key("REVIEWS")
    logs = tmp_path / "score.jsonl"
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_example",
        "-f",
        str(REPO / "dags" / "jobnode_example.py"),
        "--conf",
        json.dumps({"jobnode_conn_id": "jobnode_dataiku_default", "logs_to": f"file://{logs}"}),
        extra_env={
            "AIRFLOW_CONN_JOBNODE_DATAIKU_DEFAULT": connection(dataiku_service, key),
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    # the reviews went into the uploaded dataset `reviews`; identity built reviews_staged, sentiment reviews_scored
    assert len(dss(dataiku_service, "GET", f"/projects/{key}/datasets/reviews/data/").text.splitlines()) == 10
    # the scoring job's log reached the file: its activity's lines, one per review
    entries = [jobnode.LogEntry.model_validate_json(line) for line in logs.read_text().splitlines()]
    assert sum(1 for e in entries if e.item == "sentiment_NP" and (e.message or "").startswith("ItemProcessed")) == 10
    # count_labels read the scored dataset
    assert "Returned value was: {" in output and "'positive'" in output
    # the cleanup cleared both built datasets, consumer first; the uploaded reviews stay; DSS keeps the jobs
    for dataset in ("reviews_scored", "reviews_staged"):
        assert dss(dataiku_service, "GET", f"/projects/{key}/datasets/{dataset}/partitions").json() == []
    assert dss(dataiku_service, "GET", f"/projects/{key}/datasets/reviews/partitions").json() == ["NP"]
    jobs = dss(dataiku_service, "GET", f"/projects/{key}/jobs/").json()
    assert sorted(j["def"]["name"] for j in jobs) == ["build_reviews_scored_NP", "build_reviews_staged_NP"]
    assert "deleted 2 jobs" in output, output[-5000:]


def test_the_dataiku_example_dag(airflow_home: AirflowHome, dataiku_service: ServiceProcess, tmp_path: Path) -> None:
    key = project_key("REVIEWS")
    rows = "".join(json.dumps({"id": f"review-{i}", "text": t}) + "\n" for i, t in enumerate(REVIEWS))
    files = {"file": ("reviews.jsonl", rows.encode(), "application/x-ndjson")}
    dss(dataiku_service, "POST", f"/projects/{key}/datasets/reviews/uploaded/files", files=files)
    body = {"type": "NON_RECURSIVE_FORCED_BUILD", "outputs": [{"id": "stale"}]}
    stale = dss(dataiku_service, "POST", f"/projects/{key}/jobs/", json=body).json()["id"]
    logs = tmp_path / "build.jsonl"
    result = airflow_home.run(
        "dags",
        "test",
        "jobnode_dataiku_example",
        "-f",
        str(REPO / "dags" / "jobnode_dataiku_example.py"),
        "--conf",
        json.dumps({"logs_to": f"file://{logs}"}),
        extra_env={
            "AIRFLOW_CONN_JOBNODE_DATAIKU_DEFAULT": connection(dataiku_service, key),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    # the stale build was aborted before the rebuild
    stale_status = dss(dataiku_service, "GET", f"/projects/{key}/jobs/{stale}/").json()
    assert stale_status["baseStatus"]["state"] == "ABORTED"
    # the recursive build ran identity, then sentiment, each an activity with its log lines in the task's file
    [build] = [j for j in dss(dataiku_service, "GET", f"/projects/{key}/jobs/").json() if j["jobId"] != stale]
    status = dss(dataiku_service, "GET", f"/projects/{key}/jobs/{build['jobId']}/").json()
    assert list(status["baseStatus"]["activities"]) == ["identity_NP", "sentiment_NP"]
    entries = [jobnode.LogEntry.model_validate_json(line) for line in logs.read_text().splitlines()]
    by_activity = Counter(e.item for e in entries if (e.message or "").startswith("ItemProcessed"))
    assert by_activity == {"identity_NP": 3, "sentiment_NP": 3}
    expected = dict(Counter(analyse(text, SentimentParams())["label"] for text in REVIEWS))
    assert f"Returned value was: {expected}" in output, output[-5000:]  # count_labels read the rebuilt dataset
    # the cleanup cleared what the build wrote, under the flow's lineage; the uploaded reviews stay
    for dataset in ("reviews_scored", "reviews_staged"):
        assert dss(dataiku_service, "GET", f"/projects/{key}/datasets/{dataset}/partitions").json() == []
    assert dss(dataiku_service, "GET", f"/projects/{key}/datasets/reviews/partitions").json() == ["NP"]

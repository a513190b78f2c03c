"""The `jobnode` command against a running service."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobnode.service.process import ServiceProcess


@pytest.fixture
def cli(service: ServiceProcess):  # type: ignore[no-untyped-def]
    env = {**os.environ, "JOBNODE_URL": service.url, "JOBNODE_TOKEN": service.token or ""}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "jobnode", *args], capture_output=True, text=True, env=env, timeout=120
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_submit_wait_get_logs_list_delete(cli) -> None:  # type: ignore[no-untyped-def]
    created = cli(
        "jobs", "--json", "submit", "--step", "upper", "--items", '["a", "b", "c"]', "--name", "cli-job", "--tag", "cli"
    )
    job_id = json.loads(created.stdout)["id"]
    waited = cli("jobs", "wait", job_id)
    assert "succeeded" in waited.stdout and "3/3 items" in waited.stderr
    assert json.loads(cli("jobs", "--json", "get", job_id).stdout)["state"] == "succeeded"
    logs = cli("jobs", "logs", job_id).stdout.splitlines()
    assert len(logs) == 3 and all("ItemProcessed" in line for line in logs)
    assert [json.loads(x)["item"] for x in cli("jobs", "--json", "logs", job_id, "--order", "desc").stdout.split()] == [
        "c",
        "b",
        "a",
    ]
    table = cli("jobs", "list", "--tag", "cli").stdout
    assert table.splitlines()[0].split()[:3] == ["ID", "NAME", "STATE"] and job_id in table
    refused = cli("jobs", "delete", job_id, "--dry-run", ok=False)
    assert refused.returncode == 1 and "delete_outputs=true" in refused.stdout  # a succeeded job has an output
    assert "would delete" in cli("jobs", "delete", job_id, "--dry-run", "--delete-outputs").stdout
    assert f"deleted job {job_id}" in cli("jobs", "delete", job_id, "--delete-outputs").stdout


def test_submit_with_wait_reports_failure_exit_code(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "jobs", "submit", "--step", "fail", "--params", '{"fail_items": [1]}', "--items", "[1, 2]", "--wait", ok=False
    )
    assert result.returncode == 1
    assert "1 of 2 items failed" in result.stdout


def test_cancel_and_dry_run(cli) -> None:  # type: ignore[no-untyped-def]
    plan = cli("jobs", "submit", "--step", "identity", "--items", "[1, 2, 3]", "--batch-size", "2", "--dry-run")
    assert "3 items in 2 batches" in plan.stdout
    job_id = json.loads(
        cli("jobs", "--json", "submit", "--step", "sleep", "--params", '{"seconds": 30}', "--items", "[1]").stdout
    )["id"]
    assert "cancelled" in cli("jobs", "cancel", job_id).stdout


def test_errors_are_one_clear_line(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("jobs", "submit", "--step", "nope", "--items", "[1]", ok=False)
    assert result.returncode == 2
    assert result.stderr.startswith("jobnode: error:") and "unknown step 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
    bad = cli("jobs", "submit", "--step", "identity", "--items", "[1", ok=False)
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr

"""The example flow in `flows/` and its deployment file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint

import jobnode
from jobnode.prefect import JobnodeCredentials

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_two_chained_jobs_run_and_are_cleaned_up(credentials: JobnodeCredentials, client: jobnode.Client) -> None:
    example_flow = load_flow_from_entrypoint(f"{FLOWS / 'example_flow.py'}:example_flow")
    state: Any = example_flow(credentials=credentials, cleanup=False, return_state=True)
    labels = state.result()
    assert sum(labels.values()) == 10
    run_jobs = client.jobs.list(tag=f"prefect-flow-run:{state.state_details.flow_run_id}").data
    by_name = {job.name: job for job in run_jobs}
    staged, scored = by_name["stage-reviews"], by_name["score-reviews"]
    assert [a.id for a in scored.inputs] == [staged.outputs[0].id]
    report = client.jobs.cleanup([staged.id, scored.id])
    assert sorted(report.deleted_jobs) == sorted([staged.id, scored.id])


def test_the_deployment_file_names_the_flow_and_a_valid_cron() -> None:
    config = yaml.safe_load((FLOWS / "prefect.yaml").read_text())
    [deployment] = config["deployments"]
    path, _, name = deployment["entrypoint"].partition(":")
    assert load_flow_from_entrypoint(f"{FLOWS / path}:{name}").name == "jobnode-example"
    [schedule] = deployment["schedules"]
    assert CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"]).cron == "0 3 * * *"

"""Scale Nucleus in Prefect: the Nucleus example flow (append, then annotate) against the emulator (`jobnode serve
--platform nucleus`) with a saved `NucleusCredentials` block; the block Prefect derives from the platform; and what
the cancel and clean-up tasks say on a platform that can neither cancel nor delete."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.core import Block
from prefect.flows import load_flow_from_entrypoint

import jobnode
from jobnode.platforms.nucleus.backend import NucleusBackend
from jobnode.prefect import NucleusCredentials, cancel_job, cleanup_jobs, wait_for_job
from jobnode.prefect.jobs import cancel_flow_run_jobs
from jobnode.service.process import ServiceProcess
from tests.platforms.nucleus.api import NucleusApi, boxes, items
from tests.prefect.standards import JobnodeBlockStandards

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def nucleus_credentials(nucleus_service: ServiceProcess) -> tuple[NucleusCredentials, str]:
    """A saved block for a dataset of the test's own, loaded back as a flow run gets it; and the dataset."""
    api = NucleusApi(nucleus_service)
    dataset_id = api.create_dataset("street")
    NucleusCredentials(url=api.url, token=nucleus_service.token, dataset_id=dataset_id).save(
        "nucleus-example", overwrite=True
    )
    return NucleusCredentials.load("nucleus-example"), dataset_id


def test_the_nucleus_flow_appends_then_annotates(
    nucleus_service: ServiceProcess, nucleus_credentials: tuple[NucleusCredentials, str]
) -> None:
    credentials, dataset_id = nucleus_credentials
    nucleus_flow = load_flow_from_entrypoint(f"{FLOWS / 'nucleus_flow.py'}:nucleus_flow")
    ref = {"$ref": {"block_document_id": str(credentials._block_document_id)}}
    assert isinstance(nucleus_flow.validate_parameters({"credentials": ref})["credentials"], NucleusCredentials)

    state: Any = nucleus_flow(credentials=credentials, poll_interval=0.2, return_state=True)
    result = state.result()
    assert result["state"] == "succeeded"
    api = NucleusApi(nucleus_service)
    refs = [f"street_{i:03d}" for i in range(6)]
    assert api.reference_ids(dataset_id) == refs
    assert all(list(api.annotations(dataset_id, ref)) == ["box"] for ref in refs)
    jobs = api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": True})
    assert [j["job_id"] for j in jobs] == [result["annotate"], result["append"]]  # the clean-up deleted nothing


def test_a_failed_annotate_fails_the_flow_after_its_errors_reached_the_log(
    nucleus_service: ServiceProcess, nucleus_credentials: tuple[NucleusCredentials, str]
) -> None:
    credentials, dataset_id = nucleus_credentials
    nucleus_flow = load_flow_from_entrypoint(f"{FLOWS / 'nucleus_flow.py'}:nucleus_flow")
    state: Any = nucleus_flow(
        credentials=credentials,
        items=items(2),
        annotations=boxes(["img_0", "bad_ref_id"]),
        poll_interval=0.2,
        return_state=True,
    )
    assert state.is_failed()
    with pytest.raises(jobnode.JobFailed, match="ended failed: 1 of 2 annotations failed") as raised:
        state.result()
    assert [e.item for e in raised.value.errors] == ["bad_ref_id"]
    assert list(NucleusApi(nucleus_service).annotations(dataset_id, "img_0")) == ["box"]


# -- the credentials block ------------------------------------------------------------------------------------------


class TestNucleusCredentialsStandards(JobnodeBlockStandards):
    @pytest.fixture
    def block(self) -> type[Block]:
        return NucleusCredentials


async def test_the_block_names_its_fields_as_nucleus_does() -> None:
    fields = NucleusCredentials.model_json_schema()["properties"]
    assert (fields["url"]["title"], fields["token"]["title"], fields["dataset_id"]["title"]) == (
        "Endpoint",
        "API key",
        "Dataset ID",
    )
    credentials = NucleusCredentials(token="k", dataset_id="ds_1")
    assert credentials.url == "https://api.scale.com/v1/nucleus"
    async with credentials.get_async_client() as client:
        assert isinstance(client.backend, NucleusBackend)
        assert (client.backend.url, client.backend.dataset_id) == ("https://api.scale.com/v1/nucleus", "ds_1")


# -- cancel and clean-up say what they did not do -------------------------------------------------------------------


async def test_cancel_wait_and_cleanup_tasks_say_what_they_did_not_do(
    nucleus_credentials: tuple[NucleusCredentials, str], caplog: pytest.LogCaptureFixture
) -> None:
    credentials, _ = nucleus_credentials
    async with credentials.get_async_client() as client:
        job = await client.jobs.create(step="append", items=items(1))
        caplog.set_level(logging.WARNING, logger="jobnode.prefect")

        kept = await cancel_job.fn(job.id, credentials=credentials)
        assert kept.id == job.id and kept.state in (jobnode.JobState.RUNNING, jobnode.JobState.SUCCEEDED)
        assert f"job {job.id} was not cancelled and goes on" in caplog.text
        assert "the nucleus platform cannot cancel jobs" in caplog.text

        caplog.clear()
        with pytest.raises(jobnode.WaitTimeout):
            await wait_for_job.fn(job.id, credentials=credentials, timeout=0.001)
        assert f"job {job.id} was not finished after 0.001s; it was not cancelled and goes on" in caplog.text
        assert "it was cancelled" not in caplog.text.replace("it was not cancelled", "")

        caplog.clear()
        assert await cancel_flow_run_jobs(client, "flow-run-1") == []
        assert "the jobs of flow run flow-run-1 were not cancelled and go on" in caplog.text

        caplog.clear()
        caplog.set_level(logging.INFO, logger="jobnode.prefect")
        report = await cleanup_jobs.fn([job.id], credentials=credentials)
        assert report.deleted_jobs == [] and [b.id for b in report.kept] == [job.id]
        assert "nothing was deleted: the nucleus platform cannot delete jobs" in caplog.text
        assert f"not deleted: job {job.id} is kept: the nucleus platform cannot delete jobs" in caplog.text
        assert (await client.jobs.get(job.id)).id == job.id

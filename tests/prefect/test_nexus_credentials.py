"""`NexusCredentials`: the Prefect block of a Datature Nexus project (the example flow on Nexus is in
`test_nexus_flow.py`)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from pydantic import ValidationError

import jobnode.prefect
from jobnode.core.models import ItemsInput, JobSpec
from jobnode.platforms.nexus.backend import NexusBackend
from jobnode.prefect import JobnodeCredentials, JobnodeJob, NexusCredentials
from tests.prefect.standards import JobnodeBlockStandards


class TestNexusCredentialsStandards(JobnodeBlockStandards):
    @pytest.fixture
    def block(self) -> type[Block]:
        return NexusCredentials


def test_the_form_names_its_fields_as_nexus_does() -> None:
    fields = NexusCredentials.model_json_schema()["properties"]
    assert (fields["url"]["title"], fields["token"]["title"]) == ("Endpoint", "Secret key")
    assert NexusCredentials.model_json_schema()["required"] == ["platform", "project_id"]
    assert NexusCredentials(project_id="proj_1").url == "https://api.datature.io"


async def test_the_client_is_a_nexus_client_with_every_option() -> None:
    credentials = NexusCredentials(
        url="http://127.0.0.1:1",
        token="s3cret-key",
        project_id="b705a",
        webhook_id="webhook_ed98",
        deployments={"sentiment": "deploy_3286bd71"},
        timeout=12,
    )
    async with credentials.get_async_client() as client:
        backend = client.backend
        assert isinstance(backend, NexusBackend)
        assert (backend.url, backend.project_id) == ("http://127.0.0.1:1", "proj_b705a")
        assert backend.webhook_id == "webhook_ed98"
        assert backend.deployments == {"sentiment": "deploy_3286bd71"}
        assert client.job_url("batchjob_1") == "http://127.0.0.1:1/projects/proj_b705a/batch/jobs/batchjob_1"
    with credentials.get_client() as sync_client:
        assert sync_client.platform == "nexus"


def test_an_empty_secret_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBNODE_TOKEN", "from-env")
    options = NexusCredentials(project_id="proj_1").client_options()
    assert options["token"] is None  # the client reads JOBNODE_TOKEN when it gets no token
    assert options["url"] == "https://api.datature.io"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({}, "project_id"),
        ({"project_id": "  "}, "project_id"),
        ({"project_id": "proj_1", "url": "api.datature.io"}, "url"),
        ({"project_id": "proj_1", "deployments": {"sentiment": 3}}, "deployments"),
    ],
)
def test_bad_input_names_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        NexusCredentials(**fields)


def test_the_secret_key_stays_secret() -> None:
    credentials = NexusCredentials(project_id="proj_1", token="s3cret-key")
    for shown in (repr(credentials), str(credentials), credentials.model_dump_json()):
        assert "s3cret-key" not in shown


def test_a_saved_block_loads_whole() -> None:
    credentials = NexusCredentials(
        url="http://127.0.0.1:1", token="s3cret-key", project_id="proj_1", deployments={"identity": "deploy_x"}
    )
    credentials.save("nexus-roundtrip", overwrite=True)
    loaded = NexusCredentials.load("nexus-roundtrip")
    assert loaded.token is not None
    assert loaded.token.get_secret_value() == "s3cret-key"
    assert (loaded.project_id, loaded.deployments) == ("proj_1", {"identity": "deploy_x"})


def test_a_job_block_keeps_nexus_credentials_given_inline() -> None:
    credentials = NexusCredentials(url="http://127.0.0.1:1", token="s3cret-key", project_id="proj_1")
    spec = JobSpec(name="nexus-job", step="identity", input=ItemsInput(items=[1]))
    JobnodeJob(credentials=credentials, spec=spec).save("nexus-job", overwrite=True)
    job_block = JobnodeJob.load("nexus-job")
    assert isinstance(job_block.credentials, NexusCredentials)
    assert job_block.credentials.client_options() == credentials.client_options()


@pytest.mark.parametrize(
    "credentials",
    [
        NexusCredentials(url="http://127.0.0.1:1", token="s3cret-key", project_id="proj_1"),
        JobnodeCredentials(url="http://127.0.0.1:2", token="s3cret-token"),
    ],
    ids=["nexus", "local"],
)
def test_a_job_block_keeps_the_type_of_saved_credentials(credentials: JobnodeCredentials) -> None:
    name = f"saved-{type(credentials).__name__.lower()}"
    credentials.save(name, overwrite=True)
    spec = JobSpec(name="saved-credentials-job", step="identity", input=ItemsInput(items=[1]))
    JobnodeJob(credentials=type(credentials).load(name), spec=spec).save(f"job-{name}", overwrite=True)
    loaded = JobnodeJob.load(f"job-{name}").credentials
    assert type(loaded) is type(credentials)
    assert loaded.client_options() == credentials.client_options()


async def test_it_registers_with_the_other_blocks_of_the_collection() -> None:
    blocks = {cls for _, cls in inspect.getmembers(jobnode.prefect) if Block.is_block_class(cls)}
    assert {JobnodeCredentials, JobnodeJob, NexusCredentials} <= blocks
    await NexusCredentials.register_type_and_schema()
    async with get_client() as client:
        block_type = await client.read_block_type_by_slug("jobnode-nexus-credentials")
    assert block_type.name == "Jobnode Nexus Credentials"

from __future__ import annotations

from typing import Any, ClassVar

import jsonschema
import pytest
from prefect.blocks.core import Block
from pydantic import ValidationError

import jobnode
from jobnode.prefect import JobnodeCredentials, JobnodeJob
from jobnode.prefect.credentials import BLOCKS
from jobnode.service.process import ServiceProcess
from tests.prefect.standards import JobnodeBlockStandards


class TestJobnodeCredentialsStandards(JobnodeBlockStandards):
    @pytest.fixture
    def block(self) -> type[Block]:
        return JobnodeCredentials


class TestJobnodeJobStandards(JobnodeBlockStandards):
    @pytest.fixture
    def block(self) -> type[Block]:
        return JobnodeJob


def test_sync_client_reaches_the_service(credentials: JobnodeCredentials) -> None:
    with credentials.get_client() as client:
        job = client.jobs.create(name="creds", step="identity", items=[1])
        assert client.jobs.get(job.id).id == job.id


async def test_async_client_reaches_the_service(credentials: JobnodeCredentials) -> None:
    async with credentials.get_async_client() as client:
        job = await client.jobs.create(name="creds", step="identity", items=[1])
        assert (await client.jobs.get(job.id)).id == job.id


def test_empty_fields_fall_back_to_the_environment(service: ServiceProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBNODE_URL", service.url)
    monkeypatch.setenv("JOBNODE_TOKEN", service.token or "")
    with JobnodeCredentials().get_client() as client:
        assert client.jobs.list(limit=1).data is not None


def test_a_missing_url_says_how_to_give_one() -> None:
    with pytest.raises(jobnode.ConfigurationError, match="JOBNODE_URL"):
        JobnodeCredentials().get_async_client()


def test_a_wrong_token_is_refused_without_showing_it(service: ServiceProcess) -> None:
    with (
        JobnodeCredentials(url=service.url, token="not-the-token").get_client() as client,
        pytest.raises(jobnode.AuthenticationError) as caught,
    ):
        client.jobs.list()
    assert "not-the-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "named"), [({"url": "http://127.0.0.1:1", "timeout": 0}, "timeout"), ({"url": "127.0.0.1:8765"}, "url")]
)
def test_bad_input_names_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        JobnodeCredentials(**fields)


def test_the_token_stays_secret() -> None:
    credentials = JobnodeCredentials(url="http://127.0.0.1:1", token="s3cret-token")
    for shown in (repr(credentials), str(credentials), credentials.model_dump_json()):
        assert "s3cret-token" not in shown


def test_a_saved_block_keeps_its_token(service: ServiceProcess) -> None:
    JobnodeCredentials(url=service.url, token=service.token).save("creds-roundtrip", overwrite=True)
    loaded = JobnodeCredentials.load("creds-roundtrip")
    assert loaded.token is not None
    assert loaded.token.get_secret_value() == service.token
    with loaded.get_client() as client:
        client.jobs.list(limit=1)


class NoSuchPlatformCredentials(JobnodeCredentials):
    """Credentials of a platform jobnode does not know, as a platform's own block would subclass."""

    _block_type_name = "No Such Platform Credentials"
    platform: ClassVar[str] = "no-such-platform"

    def client_options(self) -> dict[str, Any]:
        return {**super().client_options(), "region": "eu"}


def test_a_platform_subclass_picks_its_own_backend() -> None:
    with pytest.raises(jobnode.ConfigurationError, match="no-such-platform"):
        NoSuchPlatformCredentials(url="http://127.0.0.1:1").get_async_client()


@pytest.mark.parametrize("block", list(BLOCKS.values()), ids=list(BLOCKS))
def test_a_block_reference_never_validates_as_the_block_itself(block: type[JobnodeCredentials]) -> None:
    # Prefect checks a deployment parameter against "a block reference, or the block's values" (a `oneOf`)
    schema = block.model_json_schema()
    with pytest.raises(jsonschema.ValidationError, match="'platform' is a required property"):
        jsonschema.validate({"$ref": {"block_document_id": "6f1e..."}}, schema)
    required = [name for name in schema["required"] if name != "platform"]
    values = {"platform": block.model_fields["platform"].default, **{name: "x1" for name in required}}
    jsonschema.validate(values, schema)
    for other in BLOCKS.values():
        if other is not block:  # the blocks of two platforms are told apart
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(values, other.model_json_schema())

"""Credentials blocks: where a platform's jobs live and how to authenticate, as a Prefect block per platform."""

from __future__ import annotations

from typing import Any, ClassVar

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, field_validator

from jobnode.client import AsyncClient, Client

DOCS_URL = HttpUrl("https://github.com/jobnode/jobnode/blob/main/docs/prefect.md")
LOGO_URL = HttpUrl("https://raw.githubusercontent.com/jobnode/jobnode/main/docs/prefect-logo.png")
#: Datature's API, the default endpoint of `NexusCredentials`
NEXUS_URL = "https://api.datature.io"


class JobnodeCredentials(CredentialsBlock):
    """The URL and bearer token of a jobnode local job service (`jobnode serve`).

    Empty fields fall back to the `JOBNODE_URL` and `JOBNODE_TOKEN` environment variables, so an unsaved
    `JobnodeCredentials()` works wherever those are set. Each other platform has a block of its own that subclasses
    this one: it sets `platform`, adds its fields and extends `client_options`.

    Example:
        ```python
        from jobnode.prefect import JobnodeCredentials

        JobnodeCredentials(url="http://127.0.0.1:8765", token="s3cret").save("local-service")
        credentials = JobnodeCredentials.load("local-service")
        with credentials.get_client() as client:
            print(client.jobs.list(limit=5).data)
        ```
    """

    _block_type_name = "Jobnode Credentials"
    _logo_url = LOGO_URL
    _documentation_url = DOCS_URL
    _code_example = """
        from jobnode.prefect import JobnodeCredentials

        jobnode_credentials = JobnodeCredentials.load("BLOCK_NAME")
        async with jobnode_credentials.get_async_client() as client:
            job = await client.jobs.create(name="nightly", step="sentiment", items=["good", "bad"])
        """

    #: the `jobnode.platforms` backend this block's client talks to
    platform: ClassVar[str] = "local"

    url: str | None = Field(
        default=None,
        title="URL",
        description="The service's URL, such as http://127.0.0.1:8765; when empty, the JOBNODE_URL variable.",
        examples=["http://127.0.0.1:8765"],
    )
    token: SecretStr | None = Field(
        default=None, description="The service's bearer token; when empty, the JOBNODE_TOKEN variable."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds before one HTTP request times out.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL; give one like http://127.0.0.1:8765")
        return url

    def client_options(self) -> dict[str, Any]:
        """The options of this platform's backend (`jobnode.platforms.create_backend`); a subclass adds its own."""
        return {
            "url": self.url,
            "token": self.token.get_secret_value() if self.token is not None else None,
            "timeout": self.timeout,
        }

    def get_async_client(self) -> AsyncClient:
        """A new `jobnode.AsyncClient` for this platform; close it (`async with`) when done."""
        options = self.client_options()
        return AsyncClient(options.pop("url"), options.pop("token"), platform=self.platform, **options)

    def get_client(self) -> Client:
        """A new synchronous `jobnode.Client` for this platform; close it (`with`) when done."""
        options = self.client_options()
        return Client(options.pop("url"), options.pop("token"), platform=self.platform, **options)


class NexusCredentials(JobnodeCredentials):
    """A Datature Nexus project: its endpoint, secret key and id, for batch jobs run through jobnode.

    The endpoint defaults to Datature's API; point it at `jobnode serve --platform nexus` to use the emulator. An
    empty secret key falls back to `JOBNODE_TOKEN`. A flow written for `JobnodeCredentials` runs on Nexus when it
    is given this block instead: its steps run on the deployments named in `deployments` (else on
    `deploy_<step>`), and the results of jobs that name no webhook go to `webhook_id`.

    Example:
        ```python
        from jobnode.prefect import NexusCredentials

        NexusCredentials(token="secret-key", project_id="proj_b705a...", webhook_id="webhook_ed98...",
                         deployments={"sentiment": "deploy_3286bd71-..."}).save("nexus")
        credentials = NexusCredentials.load("nexus")
        with credentials.get_client() as client:
            print(client.jobs.list(limit=5).data)
        ```
    """

    _block_type_name = "Jobnode Nexus Credentials"
    _code_example = """
        from jobnode.prefect import NexusCredentials

        nexus_credentials = NexusCredentials.load("BLOCK_NAME")
        with nexus_credentials.get_client() as client:
            job = client.jobs.create(name="nightly", step="deploy_3286bd71", artifacts=["dataset_652ef566"])
        """

    platform: ClassVar[str] = "nexus"

    url: str | None = Field(
        default=NEXUS_URL,
        title="Endpoint",
        description="The Nexus API, or a local `jobnode serve --platform nexus`; when empty, the JOBNODE_URL variable.",
        examples=[NEXUS_URL, "http://127.0.0.1:8080"],
    )
    token: SecretStr | None = Field(
        default=None,
        title="Secret key",
        description="The project's secret key; when empty, the JOBNODE_TOKEN variable.",
    )
    project_id: str = Field(
        title="Project ID", description="The Nexus project whose batch jobs run (proj_...).", examples=["proj_b705a"]
    )
    webhook_id: str | None = Field(
        default=None,
        title="Webhook ID",
        description="The webhook that receives the results of jobs that name none (webhook_...).",
    )
    deployments: dict[str, str] = Field(
        default_factory=dict,
        description="Step names mapped to Nexus deployment or artifact ids; other steps run on deploy_<step>.",
        examples=[{"sentiment": "deploy_3286bd71-9a8b-42bb-8ba6-c07549b81367"}],
    )

    @field_validator("project_id")
    @classmethod
    def _project(cls, project_id: str) -> str:
        if not project_id.strip():
            raise ValueError("empty; give your Nexus project's id (proj_...)")
        return project_id.strip()

    def client_options(self) -> dict[str, Any]:
        """The `nexus` backend's options: those of every platform, the project, the webhook and the deployments."""
        return {
            **super().client_options(),
            "project_id": self.project_id,
            "webhook_id": self.webhook_id,
            "deployments": self.deployments,
        }


def async_client(credentials: JobnodeCredentials | None) -> AsyncClient:
    """A new client from the credentials or, when none are given, from `JOBNODE_URL` and `JOBNODE_TOKEN`."""
    return (credentials or JobnodeCredentials()).get_async_client()

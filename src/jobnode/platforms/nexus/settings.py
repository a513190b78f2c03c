"""Where a Datature Nexus project is, its secret key, and how jobnode's steps map onto its deployments."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from jobnode.platforms.platform import PlatformSettings

#: Datature's API
NEXUS_URL = "https://api.datature.io"


class NexusSettings(PlatformSettings):
    url: str = Field(
        default=NEXUS_URL,
        title="Endpoint",
        description="The Nexus API, or a local `jobnode serve --platform nexus`.",
        examples=[NEXUS_URL, "http://127.0.0.1:8080"],
    )
    token: SecretStr | None = Field(default=None, title="Secret key", description="The project's secret key.")
    timeout: float = Field(default=60.0, gt=0, title="Request timeout (seconds)", description="Timeout of one request.")
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
        title="Deployments",
        description="Step names mapped to Nexus deployment or artifact ids, as a JSON object, e.g. "
        '{"sentiment": "deploy_3286bd71-..."}; other steps run on deploy_<step>.',
        examples=[{"sentiment": "deploy_3286bd71-9a8b-42bb-8ba6-c07549b81367"}],
    )

    @field_validator("project_id")
    @classmethod
    def _project(cls, project_id: str) -> str:
        if not project_id.strip():
            raise ValueError("empty; give your Nexus project's id (proj_...)")
        return project_id.strip()

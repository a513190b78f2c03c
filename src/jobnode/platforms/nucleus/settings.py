"""Where Scale Nucleus is, its API key, and the dataset jobs go to when a job names none."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from jobnode.platforms.platform import PlatformSettings

#: Scale's Nucleus API (the SDK's `NUCLEUS_ENDPOINT`)
NUCLEUS_URL = "https://api.scale.com/v1/nucleus"


class NucleusSettings(PlatformSettings):
    url: str = Field(
        default=NUCLEUS_URL,
        title="Endpoint",
        description="The Nucleus API, path included, or a local `jobnode serve --platform nucleus` "
        "(its API is under /v1/nucleus).",
        examples=[NUCLEUS_URL, "http://127.0.0.1:8080/v1/nucleus"],
    )
    token: SecretStr | None = Field(
        default=None, title="API key", description="Your Scale API key (sent as the HTTP Basic user name)."
    )
    timeout: float = Field(
        default=120.0,
        gt=0,
        title="Request timeout (seconds)",
        description="Timeout of one request (the Nucleus SDK waits 120 seconds).",
    )
    dataset_id: str | None = Field(
        default=None,
        title="Dataset ID",
        description="The dataset that jobs append items to and annotate when their params name none (ds_...).",
        examples=["ds_bwkezj6g5c4g05gqp1eg"],
    )

    @field_validator("dataset_id")
    @classmethod
    def _dataset(cls, dataset_id: str | None) -> str | None:
        if dataset_id is not None and not dataset_id.strip():
            raise ValueError("empty; give a Nucleus dataset id (ds_...) or leave it out")
        return dataset_id.strip() if dataset_id is not None else None

"""Where a jobnode local job service is and its token."""

from __future__ import annotations

from pydantic import Field, SecretStr

from jobnode.platforms.platform import PlatformSettings


class LocalSettings(PlatformSettings):
    url: str = Field(
        title="URL",
        description="The service's URL, such as http://127.0.0.1:8765 (JOBNODE_URL).",
        examples=["http://127.0.0.1:8765"],
    )
    token: SecretStr | None = Field(
        default=None, title="Token", description="The service's bearer token (JOBNODE_TOKEN)."
    )

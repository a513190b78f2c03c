"""Where a PinexQ Job-Management API is and the API key that reaches it."""

from __future__ import annotations

from pydantic import Field, SecretStr

from jobnode.platforms.platform import PlatformSettings


class PinexqSettings(PlatformSettings):
    url: str = Field(
        title="API URL",
        description="Your organisation's PinexQ Job-Management API (each has its own host; the API's entry point is "
        "<url>/api/EntryPoint), or a local `jobnode serve --platform pinexq`.",
        examples=["https://myapihost.com", "http://127.0.0.1:8765"],
    )
    token: SecretStr | None = Field(
        default=None, title="API key", description="Your PinexQ API key (sent as the x-api-key header)."
    )
    timeout: float = Field(default=30.0, gt=0, title="Request timeout (seconds)", description="Timeout of one request.")

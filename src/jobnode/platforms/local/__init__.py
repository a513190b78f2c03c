"""The local job service's native API (`/v1`) as a jobnode platform."""

from jobnode.core.backend import Capabilities, Sweep
from jobnode.platforms.local.settings import LocalSettings
from jobnode.platforms.platform import Platform

PLATFORM = Platform(
    name="local",
    title="jobnode local job service",
    label="Jobnode",
    settings=LocalSettings,
    capabilities=Capabilities(
        cancel=True,
        delete=True,
        logs=True,
        watch=True,
        bulk_status=True,
        artifacts=True,
        read_artifacts=True,
        delete_artifacts=True,
        lineage=True,
        errors=True,
        events=True,
        subjobs=True,
        dead_letters=True,
        resubmit=True,
        plan=True,
        log_segments=True,
        tags=True,
        idempotency=True,
        sweep=Sweep(page_size=1000, active_only=True),
        steps=True,
    ),
    backend="jobnode.platforms.local.backend:LocalBackend.from_settings",
    url_scheme="http",
    url_port=8765,
    conn_type="jobnode",
    credentials_block="JobnodeCredentials",
    docs="docs/service-data.md",
)

__all__ = ["PLATFORM", "LocalSettings"]

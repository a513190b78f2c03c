"""`JobnodeHook`: an Airflow connection turned into a jobnode client for its platform, sync and async."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from jobnode.airflow.connections import ClientSettings, client_settings, hook_class_name
from jobnode.client import AsyncClient, Client
from jobnode.platforms import Platform, platforms


class JobnodeHook(BaseHook):
    """Jobs on the platform that a jobnode connection points at.

    Any jobnode connection type works (the connection's type picks the platform, see
    `jobnode.airflow.connections`); this class is registered for the `jobnode` type, the local job service, and each
    other platform's type has a subclass of its own (`JobnodeNexusHook`, ...) that defaults to its connection. The
    sync client is built once per hook and closed by `close()`; each `aget_client()` call builds an async client
    that the caller closes.

    Example:
        ```python
        hook = JobnodeHook(jobnode_conn_id="jobnode_default")
        job = hook.client.jobs.create(name="nightly", step="sentiment", items=["good", "bad"])
        hook.close()
        ```
    """

    conn_name_attr = "jobnode_conn_id"
    default_conn_name = "jobnode_default"
    conn_type = "jobnode"
    hook_name = "jobnode local job service"

    def __init__(self, jobnode_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # the default is the class's own, so that each platform's subclass defaults to its connection
        self.jobnode_conn_id = jobnode_conn_id or self.default_conn_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(jobnode_conn_id={self.jobnode_conn_id!r})"

    @cached_property
    def settings(self) -> ClientSettings:
        """The connection's platform, client options and wait settings."""
        return client_settings(self.get_connection(self.jobnode_conn_id))

    async def asettings(self) -> ClientSettings:
        """`settings`, reading the connection without blocking the event loop (for triggers); `settings` then
        holds the same value."""
        if "settings" not in self.__dict__:
            self.__dict__["settings"] = client_settings(await self.aget_connection(self.jobnode_conn_id))
        return self.settings

    @cached_property
    def client(self) -> Client:
        """A synchronous client, built on first use."""
        return Client(platform=self.settings.platform, **self.settings.options)

    def get_conn(self) -> Client:
        """The synchronous client (Airflow's name for it)."""
        return self.client

    async def aget_client(self) -> AsyncClient:
        """A new async client for this connection; close it with `await client.aclose()`."""
        settings = await self.asettings()
        return AsyncClient(
            platform=settings.platform, poll_interval=settings.poll_interval, watch=settings.watch, **settings.options
        )

    def test_connection(self) -> tuple[bool, str]:
        """Whether the platform answers with these credentials (the connection form's Test button)."""
        try:
            self.client.jobs.list(limit=1)
        except Exception as exc:
            return False, str(exc)
        finally:
            self.close()
        return True, f"connected to the {self.settings.platform} platform"

    def close(self) -> None:
        """Close the sync client, if one was built."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()


def _platform_hook(platform: Platform) -> type[JobnodeHook]:
    """The hook class of a platform's connection type (a `JobnodeHook` that defaults to its own connection)."""
    name = hook_class_name(platform)
    doc = f"Jobs on {platform.title}, through a `{platform.conn_type}` connection (see `JobnodeHook`)."
    attributes = {
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": name,
        "default_conn_name": f"{platform.conn_type}_default",
        "conn_type": platform.conn_type,
        "hook_name": f"jobnode {platform.title}",
    }
    return type(name, (JobnodeHook,), attributes)


# one hook class per platform's connection type, derived from the platforms' descriptors (Airflow names each by
# its dotted path: `jobnode.airflow.hooks.JobnodeNexusHook`, ...)
for _platform in platforms().values():
    if _platform.conn_type != JobnodeHook.conn_type:
        globals()[hook_class_name(_platform)] = _platform_hook(_platform)

"""`Platform`: what a job platform tells the rest of jobnode about itself, in one descriptor.

Each platform folder exports one (`jobnode/platforms/<name>/__init__.py`: `PLATFORM = Platform(...)`). The Airflow
connection types, the Prefect credentials blocks, the command line's `--platform` choices and the docs' platform
table are all derived from these descriptors, so a platform is added by adding its folder (or, from another
package, by registering its descriptor under the `jobnode.platforms` entry-point group).

A descriptor is cheap to import: its backend and emulator are named as `"module:attribute"` and imported on first use.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from jobnode.core.backend import Backend, Capabilities
from jobnode.core.errors import ConfigurationError
from jobnode.core.ratelimit import RequestLimiter

S = TypeVar("S", bound="PlatformSettings")


class PlatformSettings(BaseModel):
    """Where a platform's jobs are and how to reach them. Each platform subclasses it with its own fields and
    defaults; every field has a title and a description, which become the labels and help texts of the Airflow
    connection form, the Prefect block and the command line.

    Example:
        ```python
        class NexusSettings(PlatformSettings):
            url: str = Field("https://api.datature.io", title="Endpoint", description="...")
            project_id: str = Field(title="Project ID", description="The Nexus project (proj_...).")
        ```
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: fields every platform has; the rest are the platform's own (see `own_fields`)
    COMMON: ClassVar[tuple[str, ...]] = ("url", "token", "timeout", "requests_per_second", "max_concurrency")

    url: str = Field(title="URL", description="Where the platform's API answers.")
    token: SecretStr | None = Field(default=None, title="Token", description="The secret that authenticates jobnode.")
    timeout: float = Field(default=30.0, gt=0, title="Request timeout (seconds)", description="Timeout of one request.")
    requests_per_second: float | None = Field(
        default=None,
        gt=0,
        title="Rate limit (requests per second)",
        description="The most requests jobnode sends this platform per second, from one process (a platform sets "
        "its published limit as the default; none: unlimited).",
    )
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        title="Requests at once",
        description="The most requests jobnode has in flight to this platform at once, from one process.",
    )

    @classmethod
    def own_fields(cls) -> dict[str, Any]:
        """The platform's own fields (besides url, token and timeout): name -> pydantic `FieldInfo`."""
        return {name: info for name, info in cls.model_fields.items() if name not in cls.COMMON}

    def limiter(self) -> RequestLimiter | None:
        """What keeps one process within this platform's limits (None when no limit is set)."""
        if self.requests_per_second is None and self.max_concurrency is None:
            return None
        return RequestLimiter(rate=self.requests_per_second, concurrency=self.max_concurrency)

    def secret(self) -> str | None:
        """The token's value (never shown in a repr)."""
        return self.token.get_secret_value() if self.token is not None else None


@functools.cache
def import_target(target: str) -> Any:
    """The object a `"module:attribute.attribute"` string names."""
    module, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Platform:
    """A job platform, as jobnode knows it.

    Attributes:
        name: the platform's name (`local`, `nexus`, ...): `AsyncClient(platform=...)`, `jobnode serve --platform`.
        title: its name for people ("Datature Nexus").
        label: a short name for classes and form titles ("Nexus").
        settings: its settings model.
        capabilities: what it offers beyond create, get and list.
        backend: `"module:callable"` of a factory taking the settings and returning the backend.
        emulator: `"module:callable"` of a factory that builds its emulator's ASGI app (see
            `jobnode.service.emulation`), or None when jobnode does not emulate it.
        emulator_prefix: the path the emulator is mounted at ("" for the root of the port).
        url_scheme: the scheme of a URL given without one (a connection whose host is a bare name).
        url_port: the port of a URL given without one (None: the scheme's port).
        conn_type: its Airflow connection type (default `jobnode_<name>`).
        credentials_block: the class name of its Prefect credentials block (default `<label>Credentials`).
        docs: the page of the docs about it.
    """

    name: str
    title: str
    label: str
    settings: type[PlatformSettings]
    capabilities: Capabilities
    backend: str
    emulator: str | None = None
    emulator_prefix: str = ""
    url_scheme: str = "https"
    url_port: int | None = None
    conn_type: str = ""
    credentials_block: str = ""
    docs: str | None = None

    def __post_init__(self) -> None:
        if not self.conn_type:
            object.__setattr__(self, "conn_type", f"jobnode_{self.name}")
        if not self.credentials_block:
            object.__setattr__(self, "credentials_block", f"{self.label}Credentials")

    @property
    def default_url(self) -> str | None:
        """The URL used when none is given (a platform's public API), or None when one must be given."""
        default = self.settings.model_fields["url"].default
        return default if isinstance(default, str) else None

    def make_settings(self, **values: Any) -> PlatformSettings:
        """The platform's settings from keyword values (None values are left out, so defaults apply).

        Raises:
            ConfigurationError: a value is missing or wrong; the message names the field and what to give.
        """
        given = {k: v for k, v in values.items() if v is not None}
        try:
            return self.settings.model_validate(given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {_plain(e)}" for e in exc.errors()[:5]
            )
            raise ConfigurationError(f"the {self.name} platform's settings are not valid: {problems}") from None

    def create_backend(self, settings: PlatformSettings) -> Backend:
        """The platform's backend, built from its settings."""
        factory: Callable[[PlatformSettings], Backend] = import_target(self.backend)
        return factory(settings)

    def load_emulator(self) -> Callable[..., Any]:
        """The factory of the platform's emulator app.

        Raises:
            ConfigurationError: jobnode has no emulator of this platform.
        """
        if self.emulator is None:
            raise ConfigurationError(f"jobnode has no emulator of the {self.name} platform")
        factory: Callable[..., Any] = import_target(self.emulator)
        return factory


def _plain(error: Any) -> str:
    if error.get("type") == "missing":
        return "required; give it"
    if error.get("type") == "extra_forbidden":
        return "not a setting of this platform"
    return str(error.get("msg", "invalid"))

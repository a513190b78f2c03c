"""Credentials blocks, derived from the platforms' descriptors: one Prefect block per platform.

`JobnodeCredentials` is the local job service's block; every other platform's block subclasses it
(`NexusCredentials`, ...) with the fields of that platform's settings, titled and described as there. Empty `url` and
`token` fields fall back to the `JOBNODE_URL` and `JOBNODE_TOKEN` environment variables, so an unsaved
`JobnodeCredentials()` works wherever those are set. A `platform` field names the platform, so that a saved block
of one platform never validates as another's.

Example:
    ```python
    from jobnode.prefect import JobnodeCredentials

    JobnodeCredentials(url="http://127.0.0.1:8765", token="s3cret").save("local-service")
    credentials = JobnodeCredentials.load("local-service")
    with credentials.get_client() as client:
        print(client.jobs.list(limit=5).data)
    ```
"""

from __future__ import annotations

from typing import Any, Literal

from prefect.blocks.abstract import CredentialsBlock
from prefect.blocks.core import Block, schema_extra
from pydantic import ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from jobnode.client import AsyncClient, Client
from jobnode.platforms import Platform, get_platform, platforms

_CODE_EXAMPLE = """
    from jobnode.prefect import {name}

    credentials = {name}.load("BLOCK_NAME")
    async with credentials.get_async_client() as client:
        job = await client.jobs.create(name="nightly", step="sentiment", items=["good", "bad"])
    """
_LOCAL = get_platform("local")


def _platform_required(schema: dict[str, Any], model: type[Block]) -> None:
    """Prefect's block schema, with `platform` required.

    Every other field has a default, so without this any object would validate as these credentials: a deployment
    parameter given as a block reference (`{"$ref": {"block_document_id": ...}}`) would then match both the
    reference and the block in the `oneOf` Prefect checks parameters against, and be refused; and the blocks of two
    platforms could not be told apart. `platform` still defaults to the block's own platform in Python.
    """
    schema_extra(schema, model)
    schema["required"] = sorted({*schema.get("required", []), "platform"})


class JobnodeCredentials(CredentialsBlock):
    """The URL and bearer token of a jobnode local job service (`jobnode serve`).

    Empty fields fall back to the `JOBNODE_URL` and `JOBNODE_TOKEN` environment variables. Each other platform has a
    block of its own that subclasses this one, with its settings as fields (see the module).

    Example:
        ```python
        from jobnode.prefect import JobnodeCredentials

        JobnodeCredentials(url="http://127.0.0.1:8765", token="s3cret").save("local-service")
        with JobnodeCredentials.load("local-service").get_client() as client:
            print(client.jobs.list(limit=5).data)
        ```
    """

    # no `_logo_url` or `_documentation_url`: jobnode has no public web home to point at (docs/prefect.md ships
    # with the project), and a guessed address would be a broken link in Prefect's UI
    _block_type_name = "Jobnode Credentials"
    _code_example = _CODE_EXAMPLE.format(name="JobnodeCredentials")
    model_config = ConfigDict(json_schema_extra=_platform_required)

    platform: Literal["local"] = Field(default="local", description="The jobnode platform these credentials are for.")
    url: str | None = Field(
        default=None,
        title=_LOCAL.settings.model_fields["url"].title,
        description="The service's URL, such as http://127.0.0.1:8765; when empty, the JOBNODE_URL variable.",
        examples=["http://127.0.0.1:8765"],
    )
    token: SecretStr | None = Field(
        default=None,
        title=_LOCAL.settings.model_fields["token"].title,
        description="The service's bearer token; when empty, the JOBNODE_TOKEN variable.",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds before one HTTP request times out.")
    requests_per_second: float | None = Field(
        default=None, gt=0, description=_LOCAL.settings.model_fields["requests_per_second"].description
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description=_LOCAL.settings.model_fields["max_concurrency"].description
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL; give one like http://127.0.0.1:8765")
        return url

    @model_validator(mode="after")
    def _valid_settings(self) -> JobnodeCredentials:
        """The platform's own rules about its settings (a blank project id, ...) hold for the block too."""
        platform = get_platform(self.platform)
        own = {name: getattr(self, name) for name in platform.settings.own_fields()}
        try:
            platform.settings.model_validate({"url": self.url or platform.default_url or "http://127.0.0.1", **own})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None
        return self

    def client_options(self) -> dict[str, Any]:
        """The platform's settings these credentials give (`jobnode.platforms`): every field but `platform`."""
        options = {name: getattr(self, name) for name in type(self).model_fields if name != "platform"}
        options["token"] = self.token.get_secret_value() if self.token is not None else None
        return options

    def get_async_client(self) -> AsyncClient:
        """A new `jobnode.AsyncClient` for this platform; close it (`async with`) when done."""
        options = self.client_options()
        return AsyncClient(options.pop("url"), options.pop("token"), platform=self.platform, **options)

    def get_client(self) -> Client:
        """A new synchronous `jobnode.Client` for this platform; close it (`with`) when done."""
        options = self.client_options()
        return Client(options.pop("url"), options.pop("token"), platform=self.platform, **options)


def _field(info: FieldInfo, *, optional: bool, env: str | None = None) -> tuple[Any, FieldInfo]:
    """A block field from a settings field; `optional` ones default to None (then `env` is read instead)."""
    annotation: Any = info.annotation
    description = info.description or ""
    if env:
        description = f"{description} When empty, the {env} variable."
    kwargs: dict[str, Any] = {"title": info.title, "description": description, "examples": info.examples}
    if optional:
        default = info.default if isinstance(info.default, str) else None
        return annotation | None, Field(default=default, **kwargs)
    if info.default_factory is not None:
        return annotation, Field(default_factory=info.default_factory, **kwargs)
    if info.is_required():
        return annotation, Field(**kwargs)
    return annotation, Field(default=info.default, **kwargs)


def credentials_block(platform: Platform) -> type[JobnodeCredentials]:
    """The credentials block of a platform: `JobnodeCredentials` with the platform's settings as fields."""
    settings = platform.settings.model_fields
    fields: dict[str, Any] = {
        "platform": (Literal[platform.name], Field(default=platform.name, description="The jobnode platform.")),
        "url": _field(settings["url"], optional=True, env="JOBNODE_URL"),
        "token": _field(settings["token"], optional=True, env="JOBNODE_TOKEN"),
        "timeout": _field(settings["timeout"], optional=False),
        "requests_per_second": _field(settings["requests_per_second"], optional=False),
        "max_concurrency": _field(settings["max_concurrency"], optional=False),
    }
    for name, info in platform.settings.own_fields().items():
        fields[name] = _field(info, optional=False)
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": platform.credentials_block,
        "__doc__": f"Where {platform.title} jobs run and how jobnode authenticates there (a jobnode platform block).",
        "__annotations__": {name: annotation for name, (annotation, _) in fields.items()},
        "_block_type_name": f"Jobnode {platform.label} Credentials",
        "_code_example": _CODE_EXAMPLE.format(name=platform.credentials_block),
        **{name: info for name, (_, info) in fields.items()},
    }
    block: type[JobnodeCredentials] = type(platform.credentials_block, (JobnodeCredentials,), namespace)
    return block


#: every platform's credentials block, by platform name
BLOCKS: dict[str, type[JobnodeCredentials]] = {"local": JobnodeCredentials}
for _platform in platforms().values():
    if _platform.name not in BLOCKS:
        BLOCKS[_platform.name] = globals()[_platform.credentials_block] = credentials_block(_platform)


def async_client(credentials: JobnodeCredentials | None) -> AsyncClient:
    """A new client from the credentials or, when none are given, from `JOBNODE_URL` and `JOBNODE_TOKEN`."""
    return (credentials or JobnodeCredentials()).get_async_client()

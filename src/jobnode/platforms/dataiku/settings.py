"""Where a Dataiku DSS instance is, its API key, the project whose flow jobnode builds, and how step names map
onto that flow's recipes."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from jobnode.platforms.platform import PlatformSettings

#: what DSS accepts as a project key
PROJECT_KEY = re.compile(r"^[A-Za-z0-9_]+$")


class DataikuSettings(PlatformSettings):
    url: str = Field(
        title="DSS URL",
        description="The DSS instance (design or automation node), without /dip/publicapi, or a local "
        "`jobnode serve --platform dataiku`.",
        examples=["https://dss.example.com:11200", "http://127.0.0.1:8080"],
    )
    token: SecretStr | None = Field(
        default=None, title="API key", description="A DSS API key (personal or project key), sent as HTTP Basic."
    )
    timeout: float = Field(default=60.0, gt=0, title="Request timeout (seconds)", description="Timeout of one request.")
    project_key: str = Field(
        title="Project key",
        description="The DSS project whose datasets the jobs build (its key, e.g. CHURN).",
        examples=["CHURN"],
    )
    recipes: dict[str, str] = Field(
        default_factory=dict,
        title="Recipes",
        description="jobnode step names mapped to the project's recipe names, as a JSON object, e.g. "
        '{"sentiment": "compute_reviews_scored"}; other steps name a recipe themselves.',
        examples=[{"sentiment": "compute_reviews_scored"}],
    )

    @field_validator("project_key")
    @classmethod
    def _project_key(cls, key: str) -> str:
        key = key.strip()
        if not PROJECT_KEY.match(key):
            raise ValueError(f"{key!r} is not a DSS project key; give one of letters, digits and underscores")
        return key

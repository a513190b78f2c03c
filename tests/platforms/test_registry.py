"""Every registered platform keeps the promises of its descriptor: it implements each capability it declares, its
settings describe every field (they become form labels and help), and the docs' platform table lists it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobnode.core.backend import missing_operations
from jobnode.core.errors import ConfigurationError
from jobnode.platforms import Platform, get_platform, platforms
from jobnode.platforms.platform import import_target

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = [p for p in platforms().values() if p.backend.startswith("jobnode.platforms.")]


@pytest.mark.parametrize("platform", BUILT_IN, ids=lambda p: p.name)
def test_the_backend_implements_what_the_platform_declares(platform: Platform) -> None:
    backend_class = import_target(platform.backend).__self__
    assert backend_class.capabilities == platform.capabilities
    assert missing_operations(backend_class, platform.capabilities) == []


@pytest.mark.parametrize("platform", BUILT_IN, ids=lambda p: p.name)
def test_every_setting_has_a_title_and_a_description(platform: Platform) -> None:
    for name, info in platform.settings.model_fields.items():
        assert info.title and info.description, f"{platform.name}.{name}"


@pytest.mark.parametrize("platform", BUILT_IN, ids=lambda p: p.name)
def test_the_readme_table_lists_it_with_its_docs(platform: Platform) -> None:
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith(f"| `{platform.name}` ")]
    assert rows, f"README's platform table has no row for {platform.name}"
    assert platform.docs is not None and (ROOT / platform.docs).exists()


def test_an_unknown_platform_names_the_known_ones() -> None:
    known = ", ".join(platforms())
    assert known.startswith("local, ") and "nexus" in known
    with pytest.raises(ConfigurationError, match=f"unknown platform 'nexsu'; known platforms: {known}$"):
        get_platform("nexsu")


@pytest.mark.parametrize("platform", BUILT_IN, ids=lambda p: p.name)
async def test_the_backend_keeps_to_the_request_limits_its_settings_set(platform: Platform) -> None:
    required = {name: "x" for name, info in platform.settings.model_fields.items() if info.is_required()}
    limits = {"url": "http://127.0.0.1:9", "requests_per_second": 7.0, "max_concurrency": 3}
    settings = platform.settings.model_construct(**{**required, **limits})
    backend = import_target(platform.backend)(settings)
    try:
        limiter = backend.transport.limiter
        assert limiter is not None and (limiter.rate, limiter.concurrency) == (7.0, 3)
    finally:
        await backend.aclose()

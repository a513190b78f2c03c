"""A job's spec as its page shows it: secrets hidden, the first inline items only, and a big spec read without
parsing the items it does not show (the result is the same as parsing it whole)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobnode.core.models import ItemsInput, JobSpec, Webhook
from jobnode.service.console.jobs import BIG_SPEC, SPEC_ITEMS, _first_items_only, spec_view


class Record:
    """What `spec_view` reads of a job."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec_json = spec.model_dump_json()
        self.items_total = len(spec.input.items) if isinstance(spec.input, ItemsInput) else 0


def parsed_whole(spec: JobSpec) -> dict[str, Any]:
    whole = json.loads(spec.model_dump_json())
    items = whole["input"]["items"]
    if len(items) > SPEC_ITEMS:
        whole["input"]["items"] = [*items[:SPEC_ITEMS], f"… and {len(items) - SPEC_ITEMS:,} more items"]
    return whole


TRICKY = ['"]},"batch_size":', "]},\\", {"batch_size": 3, "input": {"kind": "items", "items": [1]}}, None, 1.5]


@pytest.mark.parametrize("count", [3, SPEC_ITEMS, SPEC_ITEMS + 1, 300_000])
def test_a_big_spec_read_in_part_is_the_spec_parsed_whole(count: int) -> None:
    items = [TRICKY[i % len(TRICKY)] for i in range(count)]
    spec = JobSpec(
        name="n", step="s", input=ItemsInput(items=items), batch_size=7, tags=[']},"batch_size":'], params={"k": [1]}
    )
    assert _first_items_only(spec.model_dump_json(), count) == parsed_whole(spec)


def test_a_spec_that_does_not_look_as_expected_is_parsed_whole() -> None:
    spec = JobSpec(
        name="n",
        step="s",
        params={"input": {"kind": "items", "items": [1]}},  # the marker, in the parameters
        input=ItemsInput(items=list(range(200_000))),
    )
    assert _first_items_only(spec.model_dump_json(), 200_000) is None
    record = Record(spec)
    assert len(record.spec_json) > BIG_SPEC
    assert spec_view(record) == parsed_whole(spec)  # type: ignore[arg-type]


def test_secrets_are_hidden_however_the_spec_is_read() -> None:
    for count in (5, 300_000):
        spec = JobSpec(
            name="n",
            step="s",
            input=ItemsInput(items=list(range(count))),
            webhook=Webhook(url="http://127.0.0.1:9/hook", secret="s3cret"),
            params={"api": {"token": "t0ken", "password": "", "other": 1}},
        )
        shown = spec_view(Record(spec))  # type: ignore[arg-type]
        assert shown["webhook"]["secret"] == "(hidden)" and shown["params"]["api"]["token"] == "(hidden)"
        assert shown["params"]["api"]["password"] == "" and "s3cret" not in json.dumps(shown)

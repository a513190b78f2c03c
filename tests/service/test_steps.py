from __future__ import annotations

import pytest
from pydantic import BaseModel

from jobnode.service.builtin_steps import SentimentParams, analyse
from jobnode.service.runner import execute_batch, item_label
from jobnode.service.steps import ItemError, NoParams, StepRegistry, UnknownStep, item_guard, step


def test_latest_version_is_the_natural_maximum() -> None:
    registry = StepRegistry()
    for version in ("1", "9", "10", "2"):
        step("s", version=version, registry=registry)(lambda items: items)
    assert registry.get("s").version == "10"
    assert registry.get("s", "9").version == "9"
    with pytest.raises(UnknownStep) as info:
        registry.get("s", "3")
    assert info.value.field == "step_version"
    with pytest.raises(UnknownStep) as info:
        registry.get("nope")
    assert info.value.field == "step"


class P(BaseModel):
    n: int = 1


def test_params_model_comes_from_the_annotation() -> None:
    registry = StepRegistry()

    @step("with-params", registry=registry)
    def fn(items: list[int], params: P) -> list[int]:
        return [i * params.n for i in items]

    assert registry.get("with-params").params_model is P
    step("no-params", registry=registry)(lambda items: items)
    assert registry.get("no-params").params_model is NoParams


def test_item_guard_fails_one_item() -> None:
    out: list[object] = []
    for item in ["1", "x", "3"]:
        with item_guard(out):
            out.append(int(item))
    assert out[0] == 1 and out[2] == 3
    assert isinstance(out[1], ItemError) and "ValueError" in out[1].message


def test_execute_batch_reports_wrong_result_count_and_exceptions() -> None:
    registry = StepRegistry()
    step("short", registry=registry)(lambda items: items[:1])
    outcome = execute_batch(registry.get("short"), NoParams(), "j", 0, 1, 0, "[1, 2]", lambda: False)
    assert outcome.error is not None and "returned 1 results for 2 items" in outcome.error

    def boom(items: list[int]) -> list[int]:
        raise RuntimeError("kaput")

    step("boom", registry=registry)(boom)
    outcome = execute_batch(registry.get("boom"), NoParams(), "j", 0, 1, 0, "[1]", lambda: False)
    assert outcome.error is not None and outcome.error.startswith("RuntimeError: kaput")


def test_item_labels() -> None:
    assert item_label({"id": "a-1", "text": "x"}, 5) == "a-1"
    assert item_label("s3://b/k.png", 5) == "s3://b/k.png"
    assert item_label({"text": "no id"}, 5) == "5"
    assert item_label("x" * 300, 9) == "9"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love it, great product, excellent support", "positive"),
        ("terrible, awful, I want a refund", "negative"),
        ("not good", "negative"),
        ("The box is blue.", "neutral"),
    ],
)
def test_sentiment_labels(text: str, label: str) -> None:
    result = analyse(text, SentimentParams())
    assert result["label"] == label
    assert result["words"] == len(text.replace(",", " ").replace(".", " ").split())

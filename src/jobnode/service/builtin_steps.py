"""The steps every local service has: identity, sleep, fail (for tests) and a real text-analysis demo."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobnode.service.steps import ItemError, batch_context, step


@step("identity", version="1", description="Returns each item unchanged.")
def identity(items: list[Any]) -> list[Any]:
    return list(items)


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(default=1.0, ge=0, le=86_400, description="how long each batch sleeps")


@step("sleep", version="1", description="Sleeps, then returns each item unchanged; stops early when cancelled.")
def sleep(items: list[Any], params: SleepParams) -> list[Any]:
    deadline = time.monotonic() + params.seconds
    ctx = batch_context()
    while (left := deadline - time.monotonic()) > 0:
        if ctx.cancelled():
            break
        time.sleep(min(left, 0.05))
    return list(items)


class FailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_items: list[Any] = Field(default_factory=list, description="items (or their `id`) that fail alone")
    raise_on: list[Any] = Field(
        default_factory=list, description="a batch holding any of these items raises, so the whole batch fails"
    )
    raise_attempts: int | None = Field(
        default=None, ge=1, description="raise only on the first N attempts of a batch (then succeed)"
    )
    message: str = "failed on purpose"


def _key(item: Any) -> Any:
    return item.get("id", item) if isinstance(item, dict) else item


@step("fail", version="1", description="Fails chosen items, or whole batches, for tests and demonstrations.")
def fail(items: list[Any], params: FailParams) -> list[Any]:
    ctx = batch_context()
    keys = [_key(i) for i in items]
    if any(k in params.raise_on for k in keys) and (
        params.raise_attempts is None or ctx.attempt <= params.raise_attempts
    ):
        raise RuntimeError(f"{params.message} (batch {ctx.batch}, attempt {ctx.attempt})")
    return [ItemError(params.message) if k in params.fail_items else item for k, item in zip(keys, items, strict=True)]


POSITIVE = frozenset(
    [
        "good",
        "great",
        "excellent",
        "amazing",
        "love",
        "loved",
        "lovely",
        "happy",
        "wonderful",
        "best",
        "fantastic",
        "nice",
        "pleasant",
        "superb",
        "brilliant",
        "enjoy",
        "enjoyed",
        "like",
        "liked",
        "awesome",
        "perfect",
        "delightful",
        "fast",
        "helpful",
        "recommend",
        "beautiful",
        "glad",
    ]
)
NEGATIVE = frozenset(
    [
        "bad",
        "terrible",
        "awful",
        "hate",
        "hated",
        "poor",
        "worst",
        "horrible",
        "sad",
        "angry",
        "slow",
        "broken",
        "boring",
        "disappointing",
        "disappointed",
        "ugly",
        "useless",
        "annoying",
        "fail",
        "failed",
        "failure",
        "wrong",
        "refund",
        "rude",
        "dirty",
        "expensive",
    ]
)
NEGATORS = frozenset(["not", "no", "never", "n't", "hardly", "without"])
WORD = re.compile(r"[a-z']+")
SENTENCE = re.compile(r"[.!?]+(?:\s|$)")


class SentimentParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    positive_words: list[str] = Field(default_factory=list, description="extra words that count as positive")
    negative_words: list[str] = Field(default_factory=list, description="extra words that count as negative")
    neutral_band: float = Field(default=0.05, ge=0, le=1, description="|score| below this is neutral")
    top_k: int = Field(default=3, ge=0, le=50, description="how many frequent words to report")


def analyse(text: str, params: SentimentParams) -> dict[str, Any]:
    words = WORD.findall(text.lower())
    positive = POSITIVE | {w.lower() for w in params.positive_words}
    negative = NEGATIVE | {w.lower() for w in params.negative_words}
    pos = neg = 0
    for i, word in enumerate(words):
        polarity = (word in positive) - (word in negative)
        if polarity and i and (words[i - 1] in NEGATORS or words[i - 1].endswith("n't")):
            polarity = -polarity
        pos += polarity > 0
        neg += polarity < 0
    score = (pos - neg) / max(1, pos + neg) * min(1.0, (pos + neg) / 3)
    label = "neutral" if abs(score) < params.neutral_band else ("positive" if score > 0 else "negative")
    long_words = Counter(w for w in words if len(w) > 3 and w not in NEGATORS)
    return {
        "label": label,
        "score": round(score, 4),
        "positive_hits": pos,
        "negative_hits": neg,
        "words": len(words),
        "sentences": max(1, len(SENTENCE.findall(text.strip()))) if text.strip() else 0,
        "characters": len(text),
        "top_words": [w for w, _ in long_words.most_common(params.top_k)],
    }


@step(
    "sentiment",
    version="1",
    executor="process",
    description="Keyword-based sentiment and text statistics of text items (strings, or objects with a `text`).",
)
def sentiment(items: list[Any], params: SentimentParams) -> list[Any]:
    results: list[Any] = []
    for item in items:
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            results.append(ItemError("an item must be a string or an object with a string `text`"))
            continue
        results.append(analyse(text, params))
    return results

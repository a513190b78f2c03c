"""The message checks of enqueuing (pure): a batch within the limit by its items' text passes at once; one over it
is measured as Go writes it, so that insignificant whitespace in a file does not fail a job Cortex would run."""

from __future__ import annotations

import pytest

from jobnode.platforms.cortex import messages, wire
from jobnode.platforms.cortex.emulator.enqueuing import EnqueueFailed, _check_batches, enqueue


def test_a_batch_over_the_limit_by_its_text_but_not_as_a_message_passes() -> None:
    items = [{"text": "x" * 80_000}] * 3  # 240,040 bytes as a message
    spaced = [messages.item_size(items[0]) + 10_000] * 3  # the file's text had whitespace inside the values
    assert messages.batch_size(spaced) > messages.MESSAGE_LIMIT
    _check_batches(items, 3, spaced)


def test_a_batch_over_the_limit_as_a_message_fails() -> None:
    items = ["<" * 50_000] * 2  # 50,002 bytes each as text, 300,002 as Go escapes them
    with pytest.raises(EnqueueFailed, match="cannot enqueue message because its size of 600007 bytes exceeds"):
        _check_batches(items, 2, [300_002, 300_002])
    with pytest.raises(EnqueueFailed, match="its size of 600007 bytes"):
        _check_batches(items, 2)  # files' items come with their bounds; without them every batch is measured


def test_an_item_list_batch_is_named_as_cortex_names_it() -> None:
    submission = wire.Submission(workers=1, item_list=wire.ItemList(items=["a" * 200_000] * 3, batch_size=1))
    assert len(enqueue(submission, None).items) == 3
    submission.item_list.batch_size = 2  # type: ignore[union-attr]
    with pytest.raises(EnqueueFailed, match=r"^items with index between 0 to 2: cannot enqueue message"):
        enqueue(submission, None)

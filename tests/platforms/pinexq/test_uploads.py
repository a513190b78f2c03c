"""The records of an uploaded file: what a job over that WorkData reads, by the file's media type."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from jobnode.platforms.pinexq.emulator.context import records_of
from jobnode.service.emulation import InvalidRequest


@pytest.mark.parametrize(
    ("content", "media_type", "filename", "records"),
    [
        (b'[{"a": 1}, 2, "three"]', "application/json", "x.json", [{"a": 1}, 2, "three"]),
        (b'{"a": 1}', "application/json", "x.json", [{"a": 1}]),
        (b'{"a": 1}', "application/octet-stream", "x.json", [{"a": 1}]),
        (b'{"a": 1}\n\n[2]\n', "application/x-ndjson", "x", [{"a": 1}, [2]]),
        (b'{"a": 1}\n', "application/octet-stream", "x.jsonl", [{"a": 1}]),
        (b"one\ntwo\n\n", "text/plain; charset=utf-8", "x.txt", ["one", "two"]),
    ],
)
def test_records_by_media_type(content: bytes, media_type: str, filename: str, records: list[Any]) -> None:
    assert records_of(content, media_type, filename) == records


def test_any_other_file_is_one_record_that_describes_it() -> None:
    [record] = records_of(b"\x89PNG\x00", "image/png", "cat.png")
    assert record == {
        "name": "cat.png",
        "media_type": "image/png",
        "size_in_bytes": 5,
        "content_base64": base64.b64encode(b"\x89PNG\x00").decode(),
    }


@pytest.mark.parametrize(
    ("content", "media_type", "message"),
    [
        (b"{nope", "application/json", "not JSON"),
        (b'{"a": 1}\nnope\n', "application/x-ndjson", "line 2 is not JSON"),
        (b"\xff\xfe", "text/plain", "not UTF-8"),
    ],
)
def test_a_file_that_is_not_what_it_says_is_refused(content: bytes, media_type: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=f"upload-file: .*{message}"):
        records_of(content, media_type, "f")

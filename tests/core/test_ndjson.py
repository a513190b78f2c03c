from __future__ import annotations

from pathlib import Path

import pytest

from jobnode.core import ndjson


def test_items_are_compact_lines_and_keep_their_characters() -> None:
    assert ndjson.encode([{"url": "a.jpg", "n": 1}, "ü"]) == '{"url":"a.jpg","n":1}\n"ü"\n'.encode()


def test_nan_is_refused_naming_what_to_send_instead() -> None:
    with pytest.raises(ValueError, match="items: NaN and infinity are not JSON; send null"):
        ndjson.encode([{"score": float("nan")}])


def test_files_are_joined_each_ending_with_a_newline(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b'{"id": 1}')  # no final newline
    (tmp_path / "b.jsonl").write_bytes(b'{"id": 2}\n')
    (tmp_path / "empty.jsonl").write_bytes(b"")
    paths = [str(tmp_path / n) for n in ("a.jsonl", "empty.jsonl", "b.jsonl")]
    assert ndjson.read(paths) == b'{"id": 1}\n{"id": 2}\n'

"""S3 objects as Cortex lists and reads them, through fsspec (blocking calls: run them in a worker thread).

Cortex lists an S3 path as a key prefix (`ListObjectsV2` with `Prefix`): `s3://bucket/images/` lists everything
under `images/`, `s3://bucket/images/img` every key that starts with `images/img`, and a whole key lists that
object (and any other key it is a prefix of). Directory placeholders (keys that end with `/`) are skipped; keys
come in S3's order (UTF-8 binary). How fsspec reaches S3 is configured the fsspec way, in the environment of the
process that reads (`FSSPEC_S3_ENDPOINT_URL`, `FSSPEC_S3='{"anon": true}'`, and the usual `AWS_*` variables), so
that no credential ever travels in a job.

Example:
    ```python
    list_objects("s3://bucket/images/img")   # ["s3://bucket/images/img_1.png", "s3://bucket/images/img_2.jpg", ...]
    ```
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import fsspec

from jobnode.platforms.cortex.paths import SCHEME, split


def _filesystem(path: str) -> Any:
    try:
        fs, _ = fsspec.core.url_to_fs(path)
    except ImportError:
        raise OSError("reading S3 needs the s3fs package in this environment (pip install s3fs)") from None
    return fs


def list_objects(path: str) -> list[str]:
    """Every object whose key starts with the path's key, as `s3://bucket/key`, in key order.

    Raises:
        ValueError: not an S3 path.
        OSError: S3 refused or could not be reached (a missing bucket, no permission), or s3fs is not installed.
    """
    bucket, key = split(path)
    fs = _filesystem(path)
    fs.invalidate_cache()  # a listing cached by an earlier job may be stale
    parent, _, name = key.rpartition("/")
    where = f"{bucket}/{parent}" if parent else bucket
    try:
        names = fs.find(where, prefix=name) if name else fs.find(where)
    except FileNotFoundError as exc:
        if not fs.exists(bucket):
            raise OSError(f"the bucket {bucket!r} does not exist") from exc
        return []
    wanted = f"{bucket}/{key}"
    return [SCHEME + n for n in sorted(names) if n.startswith(wanted) and not n.endswith("/")]


def read(path: str) -> bytes:
    """An object's bytes."""
    with _filesystem(path).open(path, "rb") as fh:
        data: bytes = fh.read()
    return data


def write(path: str, chunks: Iterable[bytes], *, block: int = 1 << 20) -> None:
    """Write an object from chunks of bytes (replacing it), in writes of about `block` bytes (small chunks, such as
    lines, would cost a call each)."""
    pending = bytearray()
    with _filesystem(path).open(path, "wb") as fh:
        for chunk in chunks:
            pending += chunk
            if len(pending) >= block:
                fh.write(bytes(pending))
                pending.clear()
        fh.write(bytes(pending))

"""S3 paths as Cortex takes them: `s3://<bucket>/<key or key prefix>`, and where a job's results go.

Example:
    ```python
    is_s3_path("s3://bucket/images/")          # True
    split("s3://bucket/images/img")            # ("bucket", "images/img")
    results_prefix("s3://bucket/results", "69b183ed6bdf3e9b")   # "s3://bucket/results/69b183ed6bdf3e9b/"
    ```
"""

from __future__ import annotations

SCHEME = "s3://"
#: the config key under which a job names the S3 directory of its results (Cortex's examples' convention)
DEST_S3_DIR = "dest_s3_dir"
#: the file of a job's results under its results prefix (newline-delimited JSON, one result per item)
RESULTS_FILE = "results.jsonl"


def is_s3_path(path: str) -> bool:
    """Cortex's rule (`IsValidS3Path`): `s3://` and a bucket; the key may be empty."""
    return path.startswith(SCHEME) and bool(path[len(SCHEME) :].split("/", 1)[0])


def split(path: str) -> tuple[str, str]:
    """The bucket and the key (or key prefix) of an S3 path.

    Raises:
        ValueError: not an S3 path.
    """
    if not is_s3_path(path):
        raise ValueError(f"{path!r} is not an S3 path (s3://bucket/key)")
    bucket, _, key = path[len(SCHEME) :].partition("/")
    return bucket, key


def results_prefix(dest_s3_dir: str, job_id: str) -> str:
    """Where a job's results go: `<dest_s3_dir>/<job_id>/`, as Cortex's own example Batch APIs write them."""
    return f"{dest_s3_dir.rstrip('/')}/{job_id}/"

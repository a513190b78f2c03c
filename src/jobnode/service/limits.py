"""How much the local service takes in one request and one job, so that one client cannot exhaust its memory.

The defaults follow the Cortex batch API's (at most 10 MiB per request and 256 KiB per batch); `jobnode serve`
sets each (`--max-request-bytes`, `--max-items`, `--max-batch-bytes`). Going beyond one is a 413 that names the
limit and how to stay within it.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    """The service's limits.

    Attributes:
        max_request_bytes: the largest request body (a job's inline items travel in it).
        max_items: the most items in one job, whatever its input.
        max_batch_bytes: the largest batch, as the JSON of its items (a batch is stored and sent to a worker whole).

    Example:
        ```python
        service = JobService(engine, limits=Limits(max_items=5_000_000))
        ```
    """

    max_request_bytes: int = 10 * MIB
    max_items: int = 1_000_000
    max_batch_bytes: int = 256 * KIB

"""Runs calls of Dataiku's official API client (`dataikuapi`, unmodified) for the conformance tests, in the client's
own environment (`.venv-conformance/dataiku/`).

Reads one JSON request per line on stdin, `{"url": ..., "api_key": ..., "code": ...}`, runs `code` as the seed's
examples are written, with `client = dataikuapi.DSSClient(url, api_key)` and `dataikuapi`, `datetime`, `io` and
`DSSJobWaiter` in scope, and answers one JSON line: `{"result": ...}` (the value of `result`, a job handle as its
`{"id", "project_key"}`) or `{"error": {"type": ..., "message": ...}}`.
"""

from __future__ import annotations

import datetime
import io
import json
import sys
from typing import Any

import dataikuapi
from dataikuapi.dss.job import DSSJob, DSSJobWaiter


def plain(value: Any) -> Any:
    """A result as JSON: a job handle as its id and project; a list item (a dict) as itself."""
    if isinstance(value, DSSJob):
        return {"id": value.id, "project_key": value.project_key}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def run(request: dict[str, Any]) -> Any:
    scope: dict[str, Any] = {
        "client": dataikuapi.DSSClient(request["url"], request["api_key"]),
        "dataikuapi": dataikuapi,
        "datetime": datetime,
        "io": io,
        "DSSJobWaiter": DSSJobWaiter,
    }
    exec(request["code"], scope)
    return plain(scope.get("result"))


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = {"result": run(json.loads(line))}
        except Exception as exc:  # every client error goes back to the test, which asserts on it
            answer = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

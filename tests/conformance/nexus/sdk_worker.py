"""Runs calls of Datature's official SDK (unmodified) for the conformance tests, in the SDK's own environment.

Started with the Python of `.venv-conformance/nexus/` and `DATATURE_API_BASE_URL` pointing at the emulator (set
before `datature.nexus` is imported, as the SDK reads it at import time). Reads one JSON request per line on stdin:

    {"secret_key": "...", "project": "proj_...", "code": "result = project.batch.jobs.list({'limit': 2})"}

runs `code` as the seed's examples are written, with `project = Client(secret_key).get_project(project)` and
`Client` defined, and answers one JSON line: `{"result": ...}` (the value of `result`: a struct as its wire JSON, a
generator as the list of what it yielded) or `{"error": {"type": ..., "message": ...}}`. The SDK draws progress
bars on stdout, so the answers go to a private copy of the original stdout and the SDK's own output to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
sys.stdout = sys.stderr

import msgspec  # noqa: E402  (after the redirection: the SDK's modules capture stdout when imported)
from datature.nexus import Client  # noqa: E402


def run(request: dict[str, Any]) -> Any:
    scope: dict[str, Any] = {"Client": Client, "project": Client(request["secret_key"]).get_project(request["project"])}
    exec(request["code"], scope)
    result = scope.get("result")
    if isinstance(result, types.GeneratorType):
        return [msgspec.to_builtins(item) for item in result]
    return msgspec.to_builtins(result)


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = {"result": run(json.loads(line))}
        except Exception as exc:  # every SDK error goes back to the test, which asserts on it
            answer = {"error": {"type": type(exc).__name__, "message": getattr(exc, "message", None) or str(exc)}}
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()

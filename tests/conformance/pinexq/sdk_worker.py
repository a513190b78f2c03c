"""Runs code of PinexQ's official SDK (unmodified) for the conformance tests, in the SDK's own environment.

Started with the Python of `.venv-conformance/pinexq/` as `sdk_worker.py <url> <api key>`. Reads one JSON request
per line on stdin, `{"code": "...", "vars": {...}}`, and runs `code` as the seed's examples are written: with
`client = create_pinexq_client(url, api_key)` (one client for the worker's life, as a user's script has), the SDK's
tool classes (`Job`, `ProcessingStep`, `WorkData`, `JobQuery`, `JobStates`) and `vars` in scope. It answers one JSON
line: `{"result": ...}` (the value of `result`, made JSON: an enum as its value, a model as its wire JSON) or
`{"error": {"type": ..., "message": ...}}`.

The SDK's warnings are errors here: it warns about anything it did not expect in an answer (an unknown property, a
media type that is not Siren, a problem without `application/problem+json`), and the emulator must give it none.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import warnings
from typing import Any

from pinexq.client.job_management import Job, JobQuery, ProcessingStep, WorkData
from pinexq.client.job_management.enterjma import create_pinexq_client
from pinexq.client.job_management.model import JobStates
from pydantic import BaseModel


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def main() -> None:
    url, api_key = sys.argv[1], sys.argv[2]
    client = create_pinexq_client(url, api_key)
    tools = {"Job": Job, "ProcessingStep": ProcessingStep, "WorkData": WorkData, "JobQuery": JobQuery}
    warnings.simplefilter("error", UserWarning)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        scope: dict[str, Any] = {"client": client, "JobStates": JobStates, **tools, **request.get("vars", {})}
        try:
            exec(request["code"], scope)
            answer = {"result": jsonable(scope.get("result"))}
        except Exception as exc:  # every SDK error goes back to the test, which asserts on it
            answer = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    # the SDK's event thread is not a daemon and stops only after its 30-second cool-down: do not wait for it
    os._exit(0)


if __name__ == "__main__":
    main()

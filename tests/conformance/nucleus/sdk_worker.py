"""Runs code of Scale's official Nucleus SDK (unmodified) for the conformance tests, in the SDK's own environment.

Started with the Python of `.venv-conformance/nucleus/` and `NUCLEUS_ENDPOINT` pointing at the emulator (the SDK
reads it when a `NucleusClient` is made, so the seed's `NucleusClient("YOUR_SCALE_API_KEY")` goes there unchanged).
Reads one JSON request per line on stdin:

    {"code": "import nucleus\\nclient = nucleus.NucleusClient(KEY)\\n...", "names": {"KEY": "..."}}

runs `code` with `names` in scope (plus `SDK_OBJECTS`, the SDK's own classes that a test builds its inputs with) and
answers one JSON line: `{"result": ..., "stdout": ...}` (the value of `result`: an `AsyncJob` as its four fields, a
list of them as a list) or `{"error": {"type": ..., "message": ...}, "stdout": ...}`. What the code prints (the
seed prints, and `sleep_until_complete` does) is captured as `stdout`; the SDK's progress bars go to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import warnings
from typing import Any

answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
sys.stdout = sys.stderr

import nucleus  # noqa: E402  (after the redirection)
from nucleus.async_job import AsyncJob  # noqa: E402


def plain(value: Any) -> Any:
    """What the SDK returned, as JSON: an `AsyncJob` is its fields without the client."""
    if isinstance(value, AsyncJob):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.name != "client"}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def run(request: dict[str, Any]) -> dict[str, Any]:
    scope: dict[str, Any] = {"nucleus": nucleus, **request.get("names", {})}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(request["code"], scope)
    except Exception as exc:  # every SDK error goes back to the test, which asserts on it
        message = getattr(exc, "message", None) or str(exc)
        return {"error": {"type": type(exc).__name__, "message": message}, "stdout": printed.getvalue()}
    return {
        "result": plain(scope.get("result")),
        "stdout": printed.getvalue(),
        "warnings": [str(w.message) for w in caught],
    }


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            answers.write(json.dumps(run(json.loads(line))) + "\n")


if __name__ == "__main__":
    main()

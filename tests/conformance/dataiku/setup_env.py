"""The isolated environment of the Dataiku conformance suite: the official `dataiku-api-client`, pinned and
unmodified, in `.venv-conformance/dataiku/` (about 10 MB). Run this file to create or check it, with `--force` to
rebuild it; how it is built: `tests/conformance/sdk_env.py`.

`six` is installed beside it: `dataikuapi` imports it without declaring it (`import dataikuapi` fails without it
since python-dateutil stopped pulling it in), so the check imports `dataikuapi` rather than only reading its version.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `tests` is this checkout's when this file runs as a script or by runpy from a bench (under pytest it already is)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

DATAIKU = SdkEnv(
    "dataiku", "dataiku-api-client", "15.2.0", size="about 10 MB", undeclared=("six",), imports=("dataikuapi",)
)
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = DATAIKU.python, DATAIKU.installed_version, DATAIKU.version

if __name__ == "__main__":
    raise SystemExit(DATAIKU.main())

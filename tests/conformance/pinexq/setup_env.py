"""The isolated environment of the PinexQ conformance suite: the official `pinexq-client` SDK, pinned and unmodified,
in `.venv-conformance/pinexq/` (about 76 MB). Run this file to create or check it, with `--force` to rebuild it; how
it is built: `tests/conformance/sdk_env.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `tests` is this checkout's when this file runs as a script or by runpy from a bench (under pytest it already is)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

PINEXQ = SdkEnv("pinexq", "pinexq-client", "2.7.0", size="about 76 MB")
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = PINEXQ.python, PINEXQ.installed_version, PINEXQ.version

if __name__ == "__main__":
    raise SystemExit(PINEXQ.main())

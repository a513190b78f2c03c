"""The isolated environment of the Nexus conformance suite: Datature's official `datature` SDK, pinned and
unmodified, in `.venv-conformance/nexus/` (about 630 MB: opencv, scipy, matplotlib). Run this file to create or check
it, with `--force` to rebuild it; how it is built: `tests/conformance/sdk_env.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `tests` is this checkout's when this file runs as a script or by runpy from a bench (under pytest it already is)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

NEXUS = SdkEnv("nexus", "datature", "1.12.2", size="about 630 MB")
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = NEXUS.python, NEXUS.installed_version, NEXUS.version

if __name__ == "__main__":
    raise SystemExit(NEXUS.main())

"""The isolated environment of the Nucleus conformance suite: Scale's official `scale-nucleus` SDK, pinned and
unmodified, in `.venv-conformance/nucleus/` (about 210 MB, with numpy, boto3, Pillow and aiohttp). Run this file to
create or check it, with `--force` to rebuild it; how it is built: `tests/conformance/sdk_env.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `tests` is this checkout's when this file runs as a script or by runpy from a bench (under pytest it already is)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

NUCLEUS = SdkEnv("nucleus", "scale-nucleus", "0.22.3", size="about 210 MB")
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = NUCLEUS.python, NUCLEUS.installed_version, NUCLEUS.version

if __name__ == "__main__":
    raise SystemExit(NUCLEUS.main())

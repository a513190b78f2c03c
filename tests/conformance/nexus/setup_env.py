"""Create the isolated environment of the Nexus conformance suite: the official `datature` SDK, unmodified, in
`.venv-conformance/nexus/` (it is large: opencv, scipy, matplotlib). How it is built: `tests/conformance/sdk_env.py`.

    python tests/conformance/nexus/setup_env.py          # create or check the environment
    python tests/conformance/nexus/setup_env.py --force  # rebuild it from scratch
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script, or by runpy from a bench: `tests` is this checkout's
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

NEXUS = SdkEnv("nexus", "datature", "1.12.2", size="about 630 MB")
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = NEXUS.python, NEXUS.installed_version, NEXUS.version

if __name__ == "__main__":
    raise SystemExit(NEXUS.main())

"""Create the isolated environment of the Nucleus conformance suite: the official `scale-nucleus` SDK, unmodified, in
`.venv-conformance/nucleus/` (numpy, boto3, Pillow, aiohttp come with it). How it is built:
`tests/conformance/sdk_env.py`.

    python tests/conformance/nucleus/setup_env.py          # create or check the environment
    python tests/conformance/nucleus/setup_env.py --force  # rebuild it from scratch
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script, or by runpy from a bench: `tests` is this checkout's
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

NUCLEUS = SdkEnv("nucleus", "scale-nucleus", "0.22.3", size="about 210 MB")
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = NUCLEUS.python, NUCLEUS.installed_version, NUCLEUS.version

if __name__ == "__main__":
    raise SystemExit(NUCLEUS.main())

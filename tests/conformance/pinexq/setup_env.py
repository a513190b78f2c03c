"""Create the isolated environment of the PinexQ conformance suite: the official `pinexq-client` SDK, unmodified, in
`.venv-conformance/pinexq/`. How it is built: `tests/conformance/sdk_env.py`.

    python tests/conformance/pinexq/setup_env.py          # create or check the environment
    python tests/conformance/pinexq/setup_env.py --force  # rebuild it from scratch
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script, or by runpy from a bench: `tests` is this checkout's
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

PINEXQ = SdkEnv("pinexq", "pinexq-client", "2.7.0", size="about 76 MB")
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = PINEXQ.python, PINEXQ.installed_version, PINEXQ.version

if __name__ == "__main__":
    raise SystemExit(PINEXQ.main())

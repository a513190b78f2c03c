"""Create the isolated environment of the Dataiku conformance suite: the official `dataiku-api-client`, unmodified, in
`.venv-conformance/dataiku/`. How it is built: `tests/conformance/sdk_env.py`.

`six` is installed beside it: `dataikuapi` imports it without declaring it (`import dataikuapi` fails without it
since python-dateutil stopped pulling it in), so the check imports `dataikuapi` rather than only reading its version.

    python tests/conformance/dataiku/setup_env.py          # create or check the environment
    python tests/conformance/dataiku/setup_env.py --force  # rebuild it from scratch
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script, or by runpy from a bench: `tests` is this checkout's
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conformance.sdk_env import SdkEnv

DATAIKU = SdkEnv(
    "dataiku", "dataiku-api-client", "15.2.0", size="about 10 MB", undeclared=("six",), imports=("dataikuapi",)
)
# what the benches read through runpy
env_python, installed_version, SDK_VERSION = DATAIKU.python, DATAIKU.installed_version, DATAIKU.version

if __name__ == "__main__":
    raise SystemExit(DATAIKU.main())

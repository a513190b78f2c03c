"""The real servers the Cortex tests run against: an S3-compatible server (moto in server mode, on 127.0.0.1) with
the seed's bucket, and `jobnode serve --platform cortex` configured the fsspec way to reach it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import fsspec
import s3fs
from moto.server import ThreadedMotoServer

from jobnode.service.process import ServiceProcess
from tests.platforms.cortex.steps import CORTEX_STEPS

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_DEFAULT_REGION": "us-east-1"}
#: the seed's folder: s3://bucket/images/img_{1.png,2.jpg,3.jpg,4.gif}
SEED_IMAGES = ("img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif")


@dataclass(frozen=True)
class S3:
    """A running S3-compatible server and a filesystem on it."""

    endpoint: str
    fs: s3fs.S3FileSystem

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to reach this S3 through fsspec."""
        return {"FSSPEC_S3_ENDPOINT_URL": self.endpoint, **AWS}


@contextmanager
def running_s3() -> Iterator[S3]:
    """moto's S3 on a free port of 127.0.0.1, holding the seed's `s3://bucket/images/` and a results bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fs = s3fs.S3FileSystem(
            key=AWS["AWS_ACCESS_KEY_ID"],
            secret=AWS["AWS_SECRET_ACCESS_KEY"],
            endpoint_url=endpoint,
            skip_instance_cache=True,
        )
        fs.mkdir("bucket")
        fs.mkdir("results")
        for name in SEED_IMAGES:
            fs.pipe(f"bucket/images/{name}", name.encode())
        yield S3(endpoint, fs)
    finally:
        server.stop()


@contextmanager
def running_cortex(data_dir: Path, s3: S3) -> Iterator[ServiceProcess]:
    """`jobnode serve --platform cortex` with the test steps, a token, and fsspec pointed at `s3`."""
    with ServiceProcess(
        data_dir,
        steps=[CORTEX_STEPS],
        token=secrets.token_hex(16),
        extra_args=["--platform", "cortex"],
        env=s3.env(),
    ) as service:
        yield service


@contextmanager
def fsspec_configured(s3: S3) -> Iterator[None]:
    """fsspec in this process reaches `s3`, as `FSSPEC_S3_ENDPOINT_URL` and `AWS_*` in a fresh process's
    environment would do it (fsspec reads its environment once, on import)."""
    saved = fsspec.config.conf.get("s3")
    fsspec.config.conf["s3"] = {
        "endpoint_url": s3.endpoint,
        "key": AWS["AWS_ACCESS_KEY_ID"],
        "secret": AWS["AWS_SECRET_ACCESS_KEY"],
    }
    try:
        yield
    finally:
        if saved is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved

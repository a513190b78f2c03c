"""The local job service's native API (`/v1`) as a jobnode platform."""

from jobnode.platforms.local.backend import LocalBackend

__all__ = ["LocalBackend"]

"""The CRC32C (Castagnoli) checksum Nexus asks for when a dataset is created (`spec.source.crc32c`)."""

from __future__ import annotations

import base64

_POLY = 0x82F63B78  # Castagnoli, bit-reversed


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """The CRC32C of `data`; pass the previous result as `crc` to checksum a file chunk by chunk."""
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_base64(data: bytes) -> str:
    """The form Nexus uses: base64 of the big-endian 4-byte digest.

    Example:
        ```python
        crc32c_base64(b"123456789")  # "4waSgw=="
        ```
    """
    return base64.b64encode(crc32c(data).to_bytes(4, "big")).decode("ascii")

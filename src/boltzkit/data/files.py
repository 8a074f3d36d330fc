"""Reading files that may be gzip-compressed (detected by their magic bytes, not their name)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from boltzkit.errors import DataError


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, decompressed when they start with the gzip magic number.

    Raises :class:`DataError` naming the file when it is missing, a directory, unreadable, or
    truncated or corrupt gzip.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, expected a file") from None
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise DataError(path, "truncated gzip stream (the file is incomplete)") from None
        except (OSError, zlib.error) as exc:
            raise DataError(path, f"corrupt gzip data ({exc})") from None
    return raw


def peek_bytes(path: str | Path, size: int = 65536) -> bytes:
    """The first ``size`` bytes of the file, decompressed when it is gzip; b"" when they cannot be
    read (for telling a format: the reader proper then says what is wrong)."""
    try:
        with open(path, "rb") as f:
            head = f.read(size)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                head = f.read(size)
    except (OSError, EOFError, zlib.error):
        return b""
    return head


def read_text(path: str | Path) -> str:
    """The file as UTF-8 text (see :func:`read_bytes`); a non-text byte is a DataError naming
    the line."""
    raw = read_bytes(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, "not a text file", raw[: exc.start].count(b"\n") + 1) from None

"""Atomic file writes: a crash never leaves a half-written file behind.

Everything is written to a temporary file in the destination folder, flushed to disk, then
moved over the destination with :func:`os.replace` (atomic on POSIX). The temporary file is
named ``.<name>.<pid>.<random>.tmp``: a process killed mid-write (kill -9 leaves no chance to
clean up) leaves one behind, and the next write to the same destination removes the temporary
files of processes that no longer exist.
"""

from __future__ import annotations

import contextlib
import io
import os
from glob import escape as glob_escape
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import h5py


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` when the block exits without error.

    With ``copy_existing`` the temporary file starts as a copy of ``path`` (to append to it).
    On error the temporary file is removed and ``path`` is untouched; an ``OSError`` on the
    temporary file (no space left, ...) is raised as one on ``path``, the file the user named.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        if copy_existing and path.exists():
            shutil.copyfile(path, tmp_path)
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates files readable by the owner only; give the usual umask-based mode
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except OSError as e:
        if e.filename not in (None, str(tmp_path)):
            raise
        raise OSError(e.errno, e.strerror, str(path)) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` left by processes that are gone; returns them."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_hdf5(path: str | os.PathLike, keep_existing: bool = False) -> Iterator["h5py.File"]:
    """An HDF5 file built in memory, written to ``path`` atomically when the block exits.

    The HDF5 library only ever sees memory; the bytes reach the disk through plain Python I/O
    (:func:`write_bytes_atomic`), so that a full disk, a read-only folder or a missing permission
    surfaces as an ``OSError`` naming the file, never as an error inside the HDF5 library (which
    can crash the process), and the previous file stays intact. With ``keep_existing`` the file
    starts as a copy of the one at ``path`` (to add to it).
    """
    import h5py  # imported by the writers of HDF5 files only

    path = Path(path)
    buffer = io.BytesIO(path.read_bytes() if keep_existing and path.exists() else b"")
    with h5py.File(buffer, "a" if keep_existing and path.exists() else "w") as f:
        yield f
    write_bytes_atomic(path, buffer.getvalue())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode())

"""Outputs never destroy inputs: the checks every command runs before it writes anything.

* :func:`check_outputs` refuses an output that is one of the command's inputs (the same file,
  through symlinks or hard links too), two outputs that are the same file, an output that is a
  folder, an output under a file, and an output in a folder that cannot be written.
* :class:`RunLock` makes one process at a time the writer of a run file: a second ``train`` (or a
  ``--resume``) on the same run is refused in one line while the first runs. The lock is the
  operating system's (``flock``), so a killed process releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator, Mapping

from boltzkit.errors import BoltzkitError

__all__ = ["check_outputs", "RunLock", "refuse_existing_run"]

PathLike = str | os.PathLike


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_outputs(outputs: Mapping[str, PathLike | None],
                  inputs: Mapping[str, PathLike | None] | None = None) -> None:
    """Raise a one-line :class:`~boltzkit.errors.BoltzkitError` unless every output can be written
    without touching an input or another output.

    Parameters
    ----------
    outputs, inputs : {what the user typed (a flag or an argument name): path or None}
    """
    given_inputs = [(name, Path(p)) for name, p in (inputs or {}).items() if p is not None]
    seen: list[tuple[str, Path]] = []
    for name, value in outputs.items():
        if value is None:
            continue
        out = Path(value)
        for other, path in given_inputs:
            if _same_file(out, path):
                raise BoltzkitError(f"{name} {out}: this is the input {other} ({path}); "
                                    "write the output to another path")
        for other, path in seen:
            if _same_file(out, path):
                raise BoltzkitError(f"{name} {out}: the same file as {other}; give two different paths")
        _check_writable(name, out)
        seen.append((name, out))


def _check_writable(name: str, out: Path) -> None:
    if out.is_dir():
        raise BoltzkitError(f"{name} {out}: is a folder, not a file")
    parent = out.parent
    while not parent.exists():  # the folders that will be created
        parent = parent.parent
    if not parent.is_dir():
        raise BoltzkitError(f"{name} {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BoltzkitError(f"{name} {out}: the folder {parent} is not writable")


def new_output_file(out: PathLike, overwrite: bool, name: str = "--out") -> None:
    """An output that replaces no existing file unless asked (``--overwrite``), and can be written
    (:func:`check_outputs`)."""
    check_outputs({name: out})
    if Path(out).exists() and not overwrite:
        raise BoltzkitError(f"{name} {out}: the file exists; --overwrite replaces it")


def refuse_existing_run(out: PathLike, overwrite: bool) -> None:
    """A new run never replaces an existing file unless asked (``--overwrite``)."""
    if Path(out).exists() and not overwrite:
        raise BoltzkitError(f"{out}: the file exists; --resume continues the run in it, "
                            "--overwrite replaces it")


class RunLock:
    """Exclusive writer of a run file while the ``with`` block runs.

    The lock is taken on ``.<name>.lock`` beside the run (created if needed and removed at the
    end); a second writer gets a one-line :class:`~boltzkit.errors.BoltzkitError` naming the
    process that holds it.
    """

    def __init__(self, run: PathLike):
        self.run = Path(run)
        self.path = self.run.parent / f".{self.run.name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BoltzkitError(f"{self.run}: process {holder} is writing this run; wait for it to "
                                "end or write to another path") from None
        with contextlib.suppress(OSError):  # the pid only names the holder (a full disk may refuse it)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def writing_run(out: PathLike | None) -> Iterator[None]:
    """:class:`RunLock` on ``out``, or nothing when no file is written."""
    if out is None:
        yield
        return
    with RunLock(out):
        yield

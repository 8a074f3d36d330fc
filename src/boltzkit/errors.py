"""User-facing errors.

Anything the user can fix (a malformed file, a wrong shape, a bad option) raises a
:class:`BoltzkitError`. The CLI prints its message on one line and exits with code 2,
without a traceback; the Python API lets it propagate like any exception.
"""

from __future__ import annotations

from os import PathLike


class BoltzkitError(Exception):
    """An error caused by the user's input; its message is one self-contained line."""


class DataError(BoltzkitError):
    """A data file that cannot be used: the message names the file and the problem."""

    def __init__(self, path: str | PathLike | None, problem: str, line: int | None = None):
        where = str(path) if path is not None else "<data>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")
        self.path, self.problem, self.line = path, problem, line


class InvalidValue(BoltzkitError, ValueError):
    """A value out of its domain (a ValueError too, as scikit-learn and NumPy users expect)."""


class TrainingDiverged(BoltzkitError):
    """Training produced non-finite parameters; nothing non-finite was saved."""

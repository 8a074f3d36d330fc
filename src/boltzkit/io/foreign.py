"""Models trained by other tools, read wherever a command reads a run file.

The readers of :mod:`boltzkit.io.trajectory` (``read_config``, ``checkpoint_updates``,
``load_model``, ``load_models``) take these files as well as boltzkit run files, so that
``couplings``, ``sample``, ``evaluate``, ``landscape``, ``tree`` and ``contacts`` read them all.
The format is told by the file's contents, never its name:

==========================  ========================================================  ===============
format                      file                                                      checkpoints
==========================  ========================================================  ===============
``rbms archive``            HDF5 archive of the rbms package, or the authors' older   its update_<k>
                            layout (:mod:`boltzkit.io.rbms_archive`)
``adabmDCA parameter file`` adabmDCA ``params.dat``, plain or gzip                     one, 0
                            (:func:`~boltzkit.io.adabmdca.read_adabmdca_params`)
``plmc parameter file``     plmc's binary ``-o`` file, plain or gzip                   one, 0
                            (:func:`~boltzkit.io.adabmdca.read_plmc_params`)
==========================  ========================================================  ===============

Such a file holds no data spec: the commands that need data (``evaluate``, ``landscape``,
``tree``) take it as an argument, read as the model's kind of data. Its config has ``model`` (the
model's own description), ``source`` (the format above) and, for the parameter files, the
``alphabet`` of the states (plmc stores it; for adabmDCA it is told by the letters of the file,
see :func:`adabmdca_alphabet`).
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import Any

from boltzkit.data.files import peek_bytes
from boltzkit.data.msa import get_alphabet
from boltzkit.errors import DataError
from boltzkit.io.adabmdca import adabmdca_alphabet, read_adabmdca_params, read_plmc_params
from boltzkit.io.rbms_archive import is_rbms_archive, load_rbms, rbms_updates
from boltzkit.models.pairwise import PottsModel

__all__ = ["FOREIGN_FORMATS", "foreign_format", "foreign_updates", "foreign_config", "load_foreign"]

FOREIGN_FORMATS = ("rbms archive", "adabmDCA parameter file", "plmc parameter file")
_HEAD = 4096  # bytes read to recognise a parameter file


def _is_adabmdca(head: bytes) -> bool:
    """The first non-blank line is ``J i j a b value`` or ``h i a value``."""
    for line in head.splitlines():
        fields = line.split()
        if fields:
            return (fields[0], len(fields)) in ((b"J", 6), (b"h", 4))
    return False


def _is_plmc(head: bytes) -> bool:
    """plmc's header: int32 L, q, nSeqs, nSkipped, maxIter in plausible ranges, then the alphabet."""
    if len(head) < 40:
        return False
    length, q, n_seqs, n_skipped, max_iter = struct.unpack("<5i", head[:20])
    return 0 < length < 100_000 and 0 < q < 256 and n_seqs >= 0 and n_skipped >= 0 and max_iter >= 0 \
        and all(32 < c < 127 for c in head[40:40 + q])


def foreign_format(path: str | os.PathLike) -> str | None:
    """The format of a model file of another tool (one of :data:`FOREIGN_FORMATS`), or None."""
    path = Path(path)
    if not path.is_file():
        return None
    if is_rbms_archive(path):
        return "rbms archive"
    head = peek_bytes(path, _HEAD)
    if head.startswith(b"\x89HDF"):
        return None
    if _is_adabmdca(head):
        return "adabmDCA parameter file"
    if _is_plmc(head):
        return "plmc parameter file"
    return None


def foreign_updates(path: str | os.PathLike) -> list[int]:
    """The checkpoints of a foreign model file: an archive's updates, or [0]."""
    return rbms_updates(path) if foreign_format(path) == "rbms archive" else [0]


def _parameter_file(path: Path, fmt: str) -> tuple[PottsModel, str]:
    """(model, alphabet) of a parameter file; a command asks for its config and then its model,
    so the parse (about 1 s for L = 53, q = 21) is kept for the same unchanged file."""
    stat = path.stat()
    model, alphabet = _parsed(str(path.resolve()), stat.st_mtime_ns, stat.st_size, fmt)
    return model.clone(), alphabet


@functools.lru_cache(maxsize=2)
def _parsed(path: str, mtime_ns: int, size: int, fmt: str) -> tuple[PottsModel, str]:
    if fmt == "plmc parameter file":
        params = read_plmc_params(path)
        return PottsModel(params.fields, params.couplings), params.alphabet
    alphabet = get_alphabet(adabmdca_alphabet(path))
    fields, couplings = read_adabmdca_params(path, alphabet)
    return PottsModel(fields, couplings), alphabet


def load_foreign(path: str | os.PathLike, checkpoint: int | None = None):
    """The model of a foreign model file at ``checkpoint`` (default: the last one)."""
    path = Path(path)
    fmt = foreign_format(path)
    if fmt is None:
        raise DataError(path, "not a model file of rbms, adabmDCA or plmc")
    if fmt == "rbms archive":
        return load_rbms(path, checkpoint)
    if checkpoint not in (None, 0):
        raise DataError(path, f"no checkpoint {checkpoint}: this {fmt} holds one model (checkpoint 0)")
    return _parameter_file(path, fmt)[0]


def foreign_config(path: str | os.PathLike) -> dict[str, Any]:
    """The config of a foreign model file: ``model``, ``source`` and, when known, ``alphabet``."""
    path = Path(path)
    fmt = foreign_format(path)
    if fmt == "rbms archive":
        return {"model": load_rbms(path).config(), "source": fmt}
    model, alphabet = _parameter_file(path, fmt)
    return {"model": model.config(), "source": fmt, "alphabet": alphabet}

"""Import RBMs trained by the ``rbms`` package (DsysDML/rbms, PyPI 0.6.0) from its HDF5 archives.

Layout of an rbms archive (written by ``rbms.io.save_model`` and
``rbms.training.implement._init_training``)::

    /model_type                 scalar bytes: "BBRBM" | "PBRBM" | "IIRBM" | "BGRBM" | "IGRBM" | "PBM"
    /update_<k>/params/<name>   the model's tensors at update k (``named_parameters()``)
    /update_<k>/<name>          the same datasets again (hard links kept "for retrocompatibility";
                                older archives have only these)
    /update_<k>/time, learning_rate, torch_rng_state, numpy_rng_arg0..4, flags/
    /parallel_chains            the persistent chains of the last save
    /hyperparameters, /train_args, /grad_args, /sampling_args, /dataset_args, /save_args, /sampler

The parameters and energies, read from rbms' ``*/implement.py``:

* ``BBRBM`` (Bernoulli visible and hidden, {0,1}): ``weight_matrix`` (N, Nh), ``vbias`` (N,),
  ``hbias`` (Nh,); E(v, h) = -v.vbias - h.hbias - v W h, marginal
  F(v) = -v.vbias - sum_a log(1 + exp(hbias_a + (v W)_a)) — boltzkit's :class:`~boltzkit.models.rbm.RBM`
  with the same tensors and no sign change.
* ``IIRBM`` (±1 visible and hidden): same names, F(v) = -v.vbias - sum_a log 2cosh(hbias_a + (v W)_a)
  — an RBM with :data:`~boltzkit.models.units.SPIN` units.
* ``PBRBM`` (Potts visible, Bernoulli hidden): ``weight_matrix`` (N, q, Nh), ``vbias`` (N, q),
  ``hbias`` (Nh,); F(v) = -sum_i vbias[i, v_i] - sum_a softplus(hbias_a + sum_i W[i, v_i, a]) —
  boltzkit's :class:`~boltzkit.models.potts_rbm.PottsRBM` with the same tensors (same index order).

Gaussian-hidden RBMs (``BGRBM``, ``IGRBM``) and the Potts Boltzmann machine (``PBM``) are not
imported (a :class:`~boltzkit.errors.DataError` says so).

The authors' older archives (for instance the Blume-Capel model of ``DsysDML/couplings_inference``)
have the same ``update_<k>/{weight_matrix, vbias, hbias}`` datasets but no ``model_type``, and
another index order; the shapes tell the model:

* Potts visible units: ``weight_matrix`` (q, N, Nh), ``vbias`` (q, N) — transposed here to
  boltzkit's (N, q, Nh) and (N, q); the state index keeps the file's order;
* binary ({0,1}) visible units: ``weight_matrix`` (N, Nh), ``vbias`` (N,).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import torch

from boltzkit.errors import DataError
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI, SPIN

__all__ = ["RBMS_MODEL_TYPES", "archive_layout", "is_rbms_archive", "rbms_updates", "rbms_model_type", "load_rbms"]

#: The rbms model types that can be imported.
RBMS_MODEL_TYPES = ("BBRBM", "IIRBM", "PBRBM")
_UPDATE = re.compile(r"^update_(\d+)$")


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "item"):
        return _text(value.item())
    return str(value)


def archive_layout(path: str | os.PathLike) -> str | None:
    """``"rbms"`` for an rbms archive (``model_type`` and ``update_<k>`` groups), ``"older"`` for
    the authors' older layout (``update_<k>`` groups holding a ``weight_matrix``, no
    ``model_type``), None for anything else."""
    path = Path(path)
    if not path.is_file() or not h5py.is_hdf5(path):
        return None
    try:
        with h5py.File(path, "r") as f:
            updates = [k for k in f if _UPDATE.match(k) and isinstance(f[k], h5py.Group)]
            if not updates:
                return None
            if "model_type" in f and isinstance(f["model_type"], h5py.Dataset):
                return "rbms"
            return "older" if "weight_matrix" in f[updates[0]] else None
    except (OSError, KeyError, ValueError):
        return None


def is_rbms_archive(path: str | os.PathLike) -> bool:
    """True when ``path`` is an rbms archive in either layout (:func:`archive_layout`)."""
    return archive_layout(path) is not None


def _open(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file")
    if not is_rbms_archive(path):
        raise DataError(path, "not an rbms archive (no update_<k> groups with the model's tensors)")
    return h5py.File(path, "r")


def rbms_updates(path: str | os.PathLike) -> list[int]:
    """The update numbers saved in an rbms archive, in increasing order."""
    with _open(path) as f:
        return sorted(int(m.group(1)) for m in map(_UPDATE.match, f) if m)


def rbms_model_type(path: str | os.PathLike) -> str:
    """rbms' name of the model class stored in the archive (e.g. "BBRBM", "PBRBM"); for the older
    layout, the name of the class its shapes match."""
    with _open(path) as f:
        if "model_type" in f:
            return _text(f["model_type"][()])
        weights = f[next(k for k in f if _UPDATE.match(k))]["weight_matrix"]
        return "PBRBM" if weights.ndim == 3 else "BBRBM"


def load_rbms(path: str | os.PathLike, checkpoint: int | None = None) -> RBM | PottsRBM:
    """The model of an rbms archive at update ``checkpoint`` (default: the last one saved).

    Returns an :class:`~boltzkit.models.rbm.RBM` (``BBRBM``: {0,1} units; ``IIRBM``: ±1 units) or a
    :class:`~boltzkit.models.potts_rbm.PottsRBM` (``PBRBM``) whose ``free_energy`` equals rbms'
    ``compute_energy_visibles`` on every configuration (same tensors, same signs: see the module
    docstring). Parameters keep the archive's dtype (float32 for rbms' default).
    """
    path = Path(path)
    updates = rbms_updates(path)
    if not updates:
        raise DataError(path, "the rbms archive holds no update_<k> group")
    update = updates[-1] if checkpoint is None else int(checkpoint)
    if update not in updates:
        shown = ", ".join(map(str, updates[:20]))
        raise DataError(path, f"no update {update} in the rbms archive (available: {shown}"
                              f"{', ...' if len(updates) > 20 else ''})")
    model_type = rbms_model_type(path)
    with _open(path) as f:
        older = "model_type" not in f
        if model_type not in RBMS_MODEL_TYPES:
            raise DataError(path, f"rbms model type {model_type!r} cannot be imported "
                                  f"(supported: {', '.join(RBMS_MODEL_TYPES)})")
        group = f[f"update_{update}"]
        source = group["params"] if "params" in group else group  # older archives: no params/
        names = ("weight_matrix", "vbias", "hbias")
        missing = [name for name in names if name not in source]
        if missing:
            raise DataError(path, f"update_{update}: missing parameter dataset "
                                  f"{', '.join(f'{source.name}/{name}' for name in missing)}")
        w, b, c = (torch.from_numpy(source[name][()]) for name in names)
    if older and w.ndim == 3:  # (q, N, Nh) and (q, N) -> (N, q, Nh) and (N, q)
        if b.shape != w.shape[:2]:
            raise DataError(path, f"update_{update}: vbias {tuple(b.shape)} does not match weight_matrix "
                                  f"{tuple(w.shape)} (the older layout stores (q, N) and (q, N, Nh))")
        w, b = w.permute(1, 0, 2).contiguous(), b.T.contiguous()
    try:
        if model_type == "PBRBM":
            return PottsRBM(w, b, c)
        units = BERNOULLI if model_type == "BBRBM" else SPIN
        return RBM(w, b, c, units, units)
    except ValueError as e:
        raise DataError(path, f"update_{update}: {e}") from None

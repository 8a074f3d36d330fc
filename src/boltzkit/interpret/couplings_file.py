"""COUPLINGS.h5: inferred couplings, stored in the ground-truth layout of synthetic data files.

The ``truth`` group is laid out exactly as in :mod:`boltzkit.synthetic.io`, so that the couplings
inferred from one model can serve as the reference (``--truth``) for another::

    /truth/fields             (N,) float64
    /truth/couplings          (N, N) float64 dense symmetric pair couplings, zero diagonal
    /truth/order_k/indices    (m_k, k) int64, k = 2, 3, ...
    /truth/order_k/values     (m_k,) float64
    /errors/fields            (N,) float64  Monte Carlo standard errors (sampling method only)
    /errors/order_k/values    (m_k,) float64
    root attributes: format = "boltzkit.couplings", format_version, beta = 1.0, convention (= the gauge:
                     "ising" or "lattice-gas"), gauge, method, n_sites, n_states = 2, state_values
                     (JSON), parameters (JSON: source run, checkpoint, options), energy (in words),
                     truth_scaling, offset (if known)

Couplings are *effective*: they already multiply the spins in p ∝ exp(-E) (beta = 1, so the
``truth_scaling`` of a synthetic file — multiply by beta — is a no-op here).

:func:`read_truth` reads either kind of file as a :class:`~boltzkit.synthetic.io.GroundTruth`;
:func:`read_couplings` as :class:`~boltzkit.interpret.energy_couplings.EffectiveCouplings`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
import torch

from boltzkit import __version__
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.interpret.energy_couplings import GAUGES, EffectiveCouplings
from boltzkit.io.atomic import atomic_path
from boltzkit.synthetic import io as synthetic_io
from boltzkit.synthetic.conversion import ising_to_lattice_gas, lattice_gas_to_ising
from boltzkit.synthetic.hamiltonians import Interactions

__all__ = ["FORMAT", "FORMAT_VERSION", "write_couplings", "read_couplings", "read_truth", "truth_in_gauge",
           "compare_with_truth", "file_format"]

FORMAT = "boltzkit.couplings"
FORMAT_VERSION = 1

_ENERGY_TEXT = {
    "ising": "-E(s) = offset + sum_j H_j s_j + sum_k sum_{B in order_k} J_B prod_{j in B} s_j, s in {-1,+1}",
    "lattice-gas": "-E(n) = offset + sum_j K_j n_j + sum_k sum_{B in order_k} K_B prod_{j in B} n_j, n in {0,1}",
}


def write_couplings(path: str | os.PathLike, couplings: EffectiveCouplings,
                    parameters: Mapping[str, Any] | None = None) -> Path:
    """Write effective couplings atomically in the ground-truth layout (module docstring).

    Parameters
    ----------
    path : destination .h5 file
    couplings : EffectiveCouplings
    parameters : mapping, optional
        Provenance (source run, checkpoint, method options); stored as JSON.
    """
    path = Path(path)
    if couplings.gauge not in GAUGES:
        raise BoltzkitError(f"cannot store couplings in gauge {couplings.gauge!r}")
    n = couplings.n_sites
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["boltzkit_version"] = __version__
        f.attrs["beta"] = 1.0
        f.attrs["convention"] = couplings.gauge
        f.attrs["gauge"] = couplings.gauge
        f.attrs["method"] = couplings.method
        f.attrs["n_sites"] = n
        f.attrs["n_states"] = 2
        f.attrs["state_values"] = json.dumps([-1.0, 1.0] if couplings.gauge == "ising" else [0.0, 1.0])
        f.attrs["parameters"] = json.dumps(dict(parameters or {}, info=couplings.info), default=synthetic_io.json_default,
                                           sort_keys=True)
        f.attrs["energy"] = _ENERGY_TEXT[couplings.gauge]
        f.attrs["truth_scaling"] = "effective couplings of p ∝ exp(-E): already scaled (beta = 1)"
        if couplings.offset is not None:
            f.attrs["offset"] = float(couplings.offset)
        truth = f.create_group("truth")
        truth.create_dataset("fields", data=couplings.fields.detach().cpu().double().numpy())
        truth.create_dataset("couplings", data=couplings.pair_matrix().detach().cpu().double().numpy(),
                             compression="gzip", compression_opts=4)
        for k, term in sorted(couplings.couplings.items()):
            g = truth.create_group(f"order_{k}")
            g.create_dataset("indices", data=term.indices.cpu().numpy().astype(np.int64))
            g.create_dataset("values", data=term.values.detach().cpu().double().numpy())
        if couplings.standard_errors:
            errors = f.create_group("errors")
            for k, err in sorted(couplings.standard_errors.items()):
                if k == 1:
                    errors.create_dataset("fields", data=err.cpu().double().numpy())
                else:
                    errors.create_group(f"order_{k}").create_dataset("values", data=err.cpu().double().numpy())
    return path


def file_format(path: str | os.PathLike) -> str:
    """The ``format`` attribute of an HDF5 file ('' when absent)."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file")
    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("format", ""))
    except OSError:
        raise DataError(path, "not an HDF5 file") from None


def read_truth(path: str | os.PathLike, scaled: bool = True) -> synthetic_io.GroundTruth:
    """Reference couplings from a synthetic data file or a couplings file.

    Parameters
    ----------
    path : a ``boltzkit.synthetic`` data file or a ``boltzkit.couplings`` file
    scaled : bool
        For data files, multiply the stored (unscaled) truth by beta (default); couplings files are
        already effective and are returned as they are.
    """
    kind = file_format(path)
    if kind == synthetic_io.FORMAT:
        return synthetic_io.ground_truth(path, scaled)
    if kind != FORMAT:
        raise DataError(path, f"neither a {synthetic_io.FORMAT} data file nor a {FORMAT} file "
                              "(missing or wrong 'format' attribute)")
    with h5py.File(path, "r") as f:
        truth = f["truth"]
        fields = torch.from_numpy(truth["fields"][...])
        couplings = {}
        for name in truth:
            if name.startswith("order_"):
                k = int(name.split("_", 1)[1])
                couplings[k] = (torch.from_numpy(truth[name]["indices"][...]).long(),
                                torch.from_numpy(truth[name]["values"][...]))
        return synthetic_io.GroundTruth(fields, dict(sorted(couplings.items())), 1.0, str(f.attrs["convention"]),
                                        True, None, 2, json.loads(f.attrs["parameters"]))


def read_couplings(path: str | os.PathLike) -> EffectiveCouplings:
    """A couplings file (or the beta-scaled truth of a binary synthetic data file) as EffectiveCouplings."""
    truth = read_truth(path)
    if truth.convention not in GAUGES:
        raise DataError(path, f"couplings of convention {truth.convention!r} are not binary spin couplings")
    standard_errors: dict[int, torch.Tensor] = {}
    method, offset = "truth", None
    if file_format(path) == FORMAT:
        with h5py.File(path, "r") as f:
            method = str(f.attrs.get("method", "unknown"))
            offset = float(f.attrs["offset"]) if "offset" in f.attrs else None
            if "errors" in f:
                for name in f["errors"]:
                    if name == "fields":
                        standard_errors[1] = torch.from_numpy(f["errors"]["fields"][...])
                    elif name.startswith("order_"):
                        standard_errors[int(name.split("_", 1)[1])] = torch.from_numpy(f["errors"][name]["values"][...])
    couplings = {k: Interactions(i, v) for k, (i, v) in truth.couplings.items()}
    return EffectiveCouplings(truth.fields, couplings, truth.convention, method, standard_errors, offset,
                              dict(truth.parameters))


def truth_in_gauge(truth: synthetic_io.GroundTruth, gauge: str) -> synthetic_io.GroundTruth:
    """The same reference expressed in another gauge (exact: the truth holds all its terms).

    A lattice-gas truth (occupations n) becomes Ising couplings of s = 2n - 1 (J = K/4 for pairs,
    h = mu/2 + sum_j K_ij/4, plus the contributions of higher orders), and conversely
    (:mod:`boltzkit.synthetic.conversion`).
    """
    if gauge not in GAUGES:
        raise BoltzkitError(f"unknown gauge {gauge!r} (choose {', '.join(GAUGES)})")
    if truth.convention not in GAUGES:
        raise BoltzkitError(f"reference couplings of convention {truth.convention!r} cannot be compared with "
                            "binary spin couplings")
    if truth.convention == gauge:
        return truth
    convert = lattice_gas_to_ising if gauge == "ising" else ising_to_lattice_gas
    h, _ = convert(truth.hamiltonian())
    couplings = {k: (t.indices, t.values) for k, t in h.interactions.items()}
    return synthetic_io.GroundTruth(h.fields, couplings, truth.beta, gauge, truth.scaled, None, 2,
                                    dict(truth.parameters))


def compare_with_truth(inferred: EffectiveCouplings, truth: synthetic_io.GroundTruth,
                       normalization: str = "relative", reference: synthetic_io.GroundTruth | None = None):
    """Reconstruction errors per order (1 = fields) of ``inferred`` against ``truth``, in the gauge of
    ``inferred`` (the truth is converted if needed).

    Only the orders that were inferred are compared; a term absent on one side counts as zero
    there (so spurious couplings on non-edges count). See
    :func:`boltzkit.evaluation.reconstruction.errors_by_order`.

    Parameters
    ----------
    normalization : {"relative", "reference", "none"}
        "reference" divides by the squared couplings of ``reference`` (e.g. the *unscaled* truth, as
        the SciPost notebook does; METHODS.md 1.6).
    """
    from boltzkit.evaluation.reconstruction import errors_by_order

    if truth.n_sites != inferred.n_sites:
        raise BoltzkitError(f"the reference has {truth.n_sites} sites, the model {inferred.n_sites}")
    ref = truth_in_gauge(truth, inferred.gauge)
    orders = inferred.orders
    true_terms = {k: ref.couplings[k] for k in orders if k in ref.couplings}
    for k in orders:  # an order absent from the truth is all zeros there
        true_terms.setdefault(k, (torch.empty(0, k, dtype=torch.long), torch.empty(0, dtype=torch.float64)))
    inferred_terms = {k: (t.indices, t.values) for k, t in inferred.couplings.items()}
    reference_terms = None
    if normalization == "reference":
        if reference is None:
            raise BoltzkitError("normalization 'reference' needs the reference (e.g. unscaled) couplings")
        r = truth_in_gauge(reference, inferred.gauge)
        reference_terms = {k: r.couplings.get(k, true_terms[k]) for k in orders}
    return errors_by_order(true_terms, inferred_terms, normalization, ref.fields, inferred.fields,
                           reference_terms)

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

Potts (q-state) couplings (:func:`write_potts_couplings`) use the Potts layout of synthetic files:
``fields`` (N, q), ``couplings`` (N, N, q, q), ``order_2/values`` (m, q, q) on every pair i < j,
``order_3/values`` (m, q, q, q); convention "potts", gauge "zero-sum", n_states = q, state_values
0..q-1. They are compared with a truth in the zero-sum gauge (:func:`compare_potts_with_truth`).

:func:`read_truth` reads either kind of file as a :class:`~boltzkit.synthetic.io.GroundTruth`;
:func:`read_couplings` as :class:`~boltzkit.interpret.expansion.EffectiveCouplings`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
import torch
from torch import Tensor

from boltzkit import __version__
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.evaluation.reconstruction import (ReconstructionError, errors_by_order, pair_entries,
                                                reconstruction_error, rmse)
from boltzkit.interpret.expansion import GAUGES, EffectiveCouplings, PottsCouplings, zero_sum_center
from boltzkit.io.atomic import atomic_hdf5
from boltzkit.models.interactions import Interactions
from boltzkit.synthetic import io as synthetic_io
from boltzkit.synthetic.conversion import ising_to_lattice_gas, lattice_gas_to_ising, potts_zero_sum_gauge

__all__ = ["FORMAT", "FORMAT_VERSION", "write_couplings", "write_potts_couplings", "read_couplings",
           "read_potts_couplings", "read_truth", "truth_in_gauge", "compare_with_truth", "compare_potts_with_truth",
           "potts_truth_zero_sum", "file_format"]

FORMAT = "boltzkit.couplings"
FORMAT_VERSION = 1

_ENERGY_TEXT = {
    "ising": "-E(s) = offset + sum_j H_j s_j + sum_k sum_{B in order_k} J_B prod_{j in B} s_j, s in {-1,+1}",
    "lattice-gas": "-E(n) = offset + sum_j K_j n_j + sum_k sum_{B in order_k} K_B prod_{j in B} n_j, n in {0,1}",
    "potts": ("-E(x) = const + sum_i h_i(x_i) + sum_k sum_{B in order_k} J_B(x_B), x in {0..q-1}, "
              "zero-sum gauge"),
}


def _write(path: str | os.PathLike, convention: str, method: str, n_states: int, state_values: list,
           fields: Tensor, dense: Tensor, terms: Mapping[int, tuple[Tensor, Tensor]],
           errors: Mapping[int, Tensor], parameters: Mapping[str, Any] | None, info: Mapping[str, Any],
           offset: float | None = None) -> Path:
    """The one writer of both layouts: ``terms`` k -> (indices, values) (such as Interactions),
    ``errors`` 1 (fields) or k -> values (module docstring)."""
    path = Path(path)
    with atomic_hdf5(path) as f:
        f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION, boltzkit_version=__version__, beta=1.0,
                       convention=convention, gauge="zero-sum" if convention == "potts" else convention,
                       method=method, n_sites=int(fields.shape[0]), n_states=n_states,
                       state_values=json.dumps(state_values), energy=_ENERGY_TEXT[convention],
                       truth_scaling="effective couplings of p ∝ exp(-E): already scaled (beta = 1)",
                       parameters=json.dumps(dict(parameters or {}, info=dict(info)),
                                             default=synthetic_io.json_default, sort_keys=True))
        if offset is not None:
            f.attrs["offset"] = float(offset)
        truth = f.create_group("truth")
        truth.create_dataset("fields", data=fields.detach().cpu().double().numpy())
        truth.create_dataset("couplings", data=dense.detach().cpu().double().numpy(), compression="gzip",
                             compression_opts=4)
        for k, (indices, values) in sorted(terms.items()):  # h5py makes the groups of a path
            truth.create_dataset(f"order_{k}/indices", data=indices.cpu().numpy().astype(np.int64))
            truth.create_dataset(f"order_{k}/values", data=values.detach().cpu().double().numpy())
        for k, err in sorted(errors.items()):
            f.create_dataset("errors/fields" if k == 1 else f"errors/order_{k}/values", data=err.cpu().double().numpy())
    return path


def _order(name: str) -> int:
    """k of a group ``order_k``; 1 for ``fields``."""
    return 1 if name == "fields" else int(name.split("_", 1)[1])


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
    if couplings.gauge not in GAUGES:
        raise BoltzkitError(f"cannot store couplings in gauge {couplings.gauge!r}")
    return _write(path, couplings.gauge, couplings.method, 2,
                  [-1.0, 1.0] if couplings.gauge == "ising" else [0.0, 1.0], couplings.fields,
                  couplings.pair_matrix(), couplings.couplings, couplings.standard_errors, parameters, couplings.info,
                  couplings.offset)


def write_potts_couplings(path: str | os.PathLike, couplings: PottsCouplings,
                          parameters: Mapping[str, Any] | None = None) -> Path:
    """Write zero-sum Potts couplings atomically in the Potts ground-truth layout (module docstring).

    ``order_2`` lists every pair i < j with its (q, q) block; higher orders come from
    ``couplings.terms``. Monte Carlo standard errors (sampling) go to ``/errors`` in the same shapes.
    """
    n, q = couplings.n_sites, couplings.n_states
    pairs = torch.combinations(torch.arange(n), 2)  # (0, 2) for one site
    dense = couplings.couplings.detach().cpu().double()
    terms = {2: (pairs, dense[pairs[:, 0], pairs[:, 1]]), **couplings.terms}
    errors = {}
    if couplings.fields_error is not None:
        errors[1] = couplings.fields_error
        if couplings.couplings_error is not None:
            errors[2] = couplings.couplings_error.cpu().double()[pairs[:, 0], pairs[:, 1]]
    return _write(path, "potts", couplings.method, q, list(range(q)), couplings.fields, dense, terms, errors,
                  parameters, {})


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
        couplings = {_order(name): (torch.from_numpy(g["indices"][...]).long(), torch.from_numpy(g["values"][...]))
                     for name, g in truth.items() if name.startswith("order_")}
        return synthetic_io.GroundTruth(fields, dict(sorted(couplings.items())), 1.0, str(f.attrs["convention"]),
                                        True, None, int(f.attrs.get("n_states", 2)),
                                        json.loads(f.attrs["parameters"]))


def read_couplings(path: str | os.PathLike) -> EffectiveCouplings:
    """A couplings file (or the beta-scaled truth of a binary synthetic data file) as EffectiveCouplings."""
    truth = read_truth(path)
    if truth.convention not in GAUGES:
        raise DataError(path, f"couplings of convention {truth.convention!r} are not binary spin couplings"
                              + (" (read them with read_potts_couplings)" if truth.convention == "potts" else ""))
    standard_errors: dict[int, torch.Tensor] = {}
    method, offset = "truth", None
    if file_format(path) == FORMAT:
        with h5py.File(path, "r") as f:
            method = str(f.attrs.get("method", "unknown"))
            offset = float(f.attrs["offset"]) if "offset" in f.attrs else None
            for name, g in f.get("errors", {}).items():
                if name == "fields" or name.startswith("order_"):
                    standard_errors[_order(name)] = torch.from_numpy((g if name == "fields" else g["values"])[...])
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
        the SciPost notebook does; docs/methods.md 1.6).
    """
    if truth.n_sites != inferred.n_sites:
        raise BoltzkitError(f"the reference has {truth.n_sites} sites, the model {inferred.n_sites}")
    ref = truth_in_gauge(truth, inferred.gauge)
    orders = inferred.orders
    # an order absent from the truth is all zeros there
    true_terms = {k: ref.couplings.get(k, (torch.empty(0, k, dtype=torch.long), torch.empty(0, dtype=torch.float64)))
                  for k in orders}
    reference_terms = None
    if normalization == "reference":
        if reference is None:
            raise BoltzkitError("normalization 'reference' needs the reference (e.g. unscaled) couplings")
        r = truth_in_gauge(reference, inferred.gauge)
        reference_terms = {k: r.couplings.get(k, true_terms[k]) for k in orders}
    return errors_by_order(true_terms, inferred.couplings, normalization, ref.fields, inferred.fields,
                           reference_terms)


# ---------------------------------------------------------------------------- Potts
def _sorted_terms(indices: Tensor, values: Tensor) -> dict[tuple[int, ...], Tensor]:
    """Terms keyed by their sorted site tuple, state axes permuted to match (summed if repeated)."""
    out: dict[tuple[int, ...], Tensor] = {}
    for row, value in zip(indices.long().tolist(), values):
        order = sorted(range(len(row)), key=lambda a: row[a])
        key = tuple(row[a] for a in order)
        value = value.permute(order) if value.ndim == len(row) else value
        out[key] = out[key] + value if key in out else value.clone()
    return out


def potts_truth_zero_sum(truth: synthetic_io.GroundTruth) -> PottsCouplings:
    """A Potts reference in the zero-sum gauge: fields (N, q), dense pairs (N, N, q, q) and any
    higher-order terms centred in every state index (pairwise generators have none; a couplings file's
    terms are already zero-sum, so centring them changes nothing)."""
    if truth.convention != "potts":
        raise BoltzkitError(f"reference couplings of convention {truth.convention!r} are not Potts couplings")
    fields, couplings = potts_zero_sum_gauge(truth.fields.double(), truth.pair_matrix().double())
    terms = {k: Interactions(idx.long(), zero_sum_center(val.double(), k))
             for k, (idx, val) in truth.couplings.items() if k >= 3}
    return PottsCouplings(fields, couplings, "truth", terms=terms)


def read_potts_couplings(path: str | os.PathLike) -> PottsCouplings:
    """A Potts couplings file (or the beta-scaled truth of a Potts data file) as zero-sum PottsCouplings."""
    truth = read_truth(path)
    if truth.convention != "potts":
        raise DataError(path, f"couplings of convention {truth.convention!r} are not Potts couplings")
    return potts_truth_zero_sum(truth)


def compare_potts_with_truth(inferred: PottsCouplings, truth: synthetic_io.GroundTruth,
                             normalization: str = "relative", reference: synthetic_io.GroundTruth | None = None):
    """Reconstruction errors per order (1 = fields, 2 = pairs, 3 = triplets if inferred) of zero-sum Potts
    couplings against a Potts reference, both in the zero-sum gauge (the reference is converted).

    Every entry counts: all q values of the fields, all q^2 entries of every pair i < j (couplings
    absent from the truth count as zero there), all q^k entries of every inferred k-set (k >= 3) and
    of every true one. ``normalization`` as in :func:`compare_with_truth` ("reference": the
    denominator is the squared norm of ``reference``, e.g. the unscaled truth, in the same gauge).

    Returns
    -------
    dict order -> :class:`~boltzkit.evaluation.reconstruction.ReconstructionError`
    """
    if truth.convention != "potts":
        raise BoltzkitError(f"a Potts model is compared with Potts couplings, not {truth.convention!r} ones")
    if truth.n_sites != inferred.n_sites or truth.n_states != inferred.n_states:
        raise BoltzkitError(f"the reference has {truth.n_sites} sites and {truth.n_states} states, the model "
                            f"{inferred.n_sites} and {inferred.n_states}")
    if normalization == "reference" and reference is None:
        raise BoltzkitError("normalization 'reference' needs the reference (e.g. unscaled) couplings")
    ref = potts_truth_zero_sum(truth)
    den = potts_truth_zero_sum(reference) if normalization == "reference" else None

    def entry(order: int, true: Tensor, found: Tensor, denominator: Tensor | None, n_terms: int):
        t, h = true.reshape(-1), found.reshape(-1)
        norm = "relative" if order == 1 and normalization == "reference" else normalization
        d = None if denominator is None else denominator.reshape(-1)
        return ReconstructionError(order, reconstruction_error(t, h, norm, d), rmse(t, h), n_terms)

    n = inferred.n_sites
    out = {1: entry(1, ref.fields, inferred.fields.double(), None, n),
           2: entry(2, pair_entries(ref.couplings), pair_entries(inferred.couplings), None if den is None
                    else pair_entries(den.couplings), n * (n - 1) // 2)}
    for k in sorted(inferred.terms):
        found, true = _terms_of_order(inferred, k), _terms_of_order(ref, k)
        keys = sorted(set(found) | set(true))
        zero = torch.zeros((inferred.n_states,) * k, dtype=torch.float64)
        d = None if den is None else _stack(_terms_of_order(den, k), keys, zero)
        out[k] = entry(k, _stack(true, keys, zero), _stack(found, keys, zero), d, len(keys))
    return out


def _terms_of_order(couplings: PottsCouplings, k: int) -> dict[tuple[int, ...], Tensor]:
    """The order-k terms of ``couplings`` (float64) by sorted site tuple, {} when it has none."""
    return _sorted_terms(couplings.terms[k].indices, couplings.terms[k].values.double()) if k in couplings.terms else {}


def _stack(terms: dict[tuple[int, ...], Tensor], keys: list[tuple[int, ...]], zero: Tensor) -> Tensor:
    """The terms of ``keys`` (``zero`` where absent), stacked."""
    return torch.stack([terms.get(key, zero) for key in keys])

"""One HDF5 file per synthetic data set: the samples *and* the Hamiltonian that generated them.

Layout (format ``boltzkit.synthetic``, version 1)::

    /samples                  (M, N) int8   stored codes (see below)
    /truth/fields             (N,) float64  [(N, q) for Potts]
    /truth/couplings          (N, N) float64 dense symmetric pair couplings, zero diagonal
                              [(N, N, q, q) for Potts, J[j, i, b, a] = J[i, j, a, b]]
    /truth/order_k/indices    (m_k, k) int64, k = 2, 3, ...   sites of each k-body term
    /truth/order_k/values     (m_k,) float64 [(m_2, q, q) for Potts]
    /truth/crystal_field      (N,) float64  Blume-Capel only (energy term + D_i s_i^2)
    /diagnostics/energy       (n_records, n_chains) float64  E of each sample (MCMC only)
    /diagnostics/magnetisation (n_records, n_chains) float64 (MCMC only); sample i is record
                              i // n_chains of chain i % n_chains
    root attributes: format, format_version, generator, beta, convention, n_sites, n_states,
                     state_values (JSON), parameters (JSON of every generator parameter),
                     energy (the energy function, in words), truth_scaling
    /diagnostics attributes: sampler, algorithm, acceptance_rate, tau_energy, tau_magnetisation,
                     n_chains, sweeps_thermalize, sweeps_between, n_colours

Sample codes: ``ising`` ±1 spins, ``lattice-gas`` 0/1 occupations, ``blume-capel`` state indices with
0 -> spin -1, 1 -> spin +1, 2 -> spin 0, ``potts`` states 0..q-1.

**The truth is stored unscaled**: the samples follow p(x) ∝ exp(-beta E(x)) with E built from the
stored fields and couplings and ``beta`` the root attribute. :func:`ground_truth` returns the
beta-scaled parameters (the ones an inference method estimates) unless ``scaled=False``.

Files are written atomically: to a temporary file in the destination folder, then renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from boltzkit import __version__
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.io.atomic import atomic_hdf5
from boltzkit.models.interactions import Interactions
from boltzkit.synthetic.hamiltonians import STATE_VALUES, PottsHamiltonian, SpinHamiltonian

__all__ = ["FORMAT", "FORMAT_VERSION", "GroundTruth", "write_dataset", "read_samples", "ground_truth",
           "read_attributes"]

FORMAT = "boltzkit.synthetic"
FORMAT_VERSION = 1

_ENERGY_TEXT = {
    "ising": "E(s) = -sum_i h_i s_i - sum_k sum_{B in order_k} J_B prod_{j in B} s_j, s in {-1,+1}",
    "lattice-gas": "E(n) = -sum_i h_i n_i - sum_k sum_{B in order_k} J_B prod_{j in B} n_j, n in {0,1}",
    "blume-capel": ("E(s) = -sum_i h_i s_i - sum_k sum_{B in order_k} J_B prod_{j in B} s_j "
                    "+ sum_i D_i s_i^2, s in {-1,0,+1}"),
    "potts": "E(x) = -sum_i h_i(x_i) - sum_{(i,j) in order_2} J_ij(x_i, x_j), x in {0..q-1}",
}


@dataclass(frozen=True)
class GroundTruth:
    """The generating parameters of a synthetic data set.

    Attributes
    ----------
    fields : Tensor of shape (N,) or (N, q) (Potts), float64
    couplings : dict int -> (indices, values)
        ``couplings[k]`` = (indices (m_k, k) long, values (m_k,) float64; (m_2, q, q) for Potts).
    beta : float
        Inverse temperature of the samples.
    convention : {"ising", "lattice-gas", "blume-capel", "potts"}
    scaled : bool
        True when fields, couplings and crystal field are multiplied by ``beta`` (p ∝ exp(-E)).
    crystal_field : Tensor of shape (N,) or None
        Blume-Capel D_i (energy + D_i s_i^2).
    n_states : int
    """

    fields: Tensor
    couplings: dict[int, tuple[Tensor, Tensor]]
    beta: float
    convention: str
    scaled: bool = True
    crystal_field: Tensor | None = None
    n_states: int = 2
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return int(self.fields.shape[0])

    def pair_matrix(self) -> Tensor:
        """Dense pair couplings: (N, N) symmetric, zero diagonal; (N, N, q, q) for Potts."""
        return self.hamiltonian().pair_tensor() if self.convention == "potts" else self.hamiltonian().pair_matrix()

    def hamiltonian(self) -> SpinHamiltonian | PottsHamiltonian:
        """The Hamiltonian with these (scaled or not) parameters."""
        if self.convention == "potts":
            idx, val = self.couplings.get(2, (torch.empty(0, 2, dtype=torch.long),
                                              torch.empty(0, self.n_states, self.n_states)))
            return PottsHamiltonian(self.fields, idx, val)
        inter = {k: Interactions(i, v) for k, (i, v) in self.couplings.items()}
        return SpinHamiltonian(self.fields, inter, self.convention, self.crystal_field)

    @classmethod
    def from_hamiltonian(cls, hamiltonian: SpinHamiltonian | PottsHamiltonian, beta: float,
                         scaled: bool = True, parameters: dict[str, Any] | None = None) -> "GroundTruth":
        h = hamiltonian.to(dtype=torch.float64, device="cpu")
        if scaled:
            h = h.scaled(beta)
        if isinstance(h, PottsHamiltonian):
            couplings = {2: (h.edges, h.couplings)} if len(h.edges) else {}
            crystal = None
        else:
            couplings = {k: (t.indices, t.values) for k, t in h.interactions.items()}
            crystal = h.crystal_field
        return cls(h.fields, couplings, float(beta), h.convention, scaled, crystal, h.n_states,
                   dict(parameters or {}))


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback for the parameter records: tensors, arrays, numpy scalars, paths."""
    if isinstance(obj, (Tensor, np.ndarray)):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"parameter of type {type(obj).__name__} is not JSON serialisable")


def write_dataset(path: str | os.PathLike, samples: Tensor, hamiltonian: SpinHamiltonian | PottsHamiltonian,
                  beta: float, generator: str, parameters: dict[str, Any],
                  diagnostics: dict[str, Any] | None = None, energy: Tensor | None = None,
                  magnetisation: Tensor | None = None) -> Path:
    """Write samples and their ground truth atomically.

    Parameters
    ----------
    path : path of the .h5 file (its folder must exist)
    samples : Tensor of shape (M, N)
        Stored codes (see the module docstring), written as int8.
    hamiltonian : SpinHamiltonian or PottsHamiltonian
        Unscaled generating energy function.
    beta : float
    generator : str
        Name of the generator (e.g. "ising2d").
    parameters : dict
        Every generator parameter (JSON serialisable; tensors become lists).
    diagnostics : dict, optional
        Scalar sampler diagnostics, stored as attributes of /diagnostics.
    energy, magnetisation : Tensor of shape (n_records, n_chains), optional

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    if not path.parent.exists():
        raise BoltzkitError(f"output folder {path.parent} does not exist")
    h = hamiltonian.to(dtype=torch.float64, device="cpu")
    convention = h.convention
    if samples.ndim != 2 or samples.shape[1] != h.n_sites:
        raise BoltzkitError(f"samples must have shape (M, {h.n_sites}), got {tuple(samples.shape)}")
    unscaled = GroundTruth.from_hamiltonian(h, beta, scaled=False)
    values = list(STATE_VALUES[convention]) if convention in STATE_VALUES else list(range(h.n_states))
    with atomic_hdf5(path) as f:
        f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION, boltzkit_version=__version__,
                       generator=generator, beta=float(beta), convention=convention, n_sites=h.n_sites,
                       n_states=h.n_states, state_values=json.dumps(values),
                       parameters=json.dumps(parameters, default=json_default, sort_keys=True),
                       energy=_ENERGY_TEXT[convention],
                       truth_scaling=("unscaled: samples follow exp(-beta E); multiply fields and couplings "
                                      "by beta for the effective (inferred) parameters"))
        f.create_dataset("samples", data=samples.cpu().to(torch.int8).numpy(), compression="gzip", compression_opts=4)
        truth = f.create_group("truth")
        truth.create_dataset("fields", data=h.fields.numpy())
        truth.create_dataset("couplings", data=unscaled.pair_matrix().numpy(), compression="gzip", compression_opts=4)
        if unscaled.crystal_field is not None:
            truth.create_dataset("crystal_field", data=unscaled.crystal_field.numpy())
        for k, (idx, val) in sorted(unscaled.couplings.items()):
            g = truth.create_group(f"order_{k}")
            g.create_dataset("indices", data=idx.numpy().astype(np.int64))
            g.create_dataset("values", data=val.numpy())
        if diagnostics is not None or energy is not None:
            diag = f.create_group("diagnostics")
            diag.attrs.update(diagnostics or {})
            for name, trace in (("energy", energy), ("magnetisation", magnetisation)):
                if trace is not None:
                    diag.create_dataset(name, data=trace.double().cpu().numpy())
    return path


def _open(path: str | os.PathLike) -> h5py.File:
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc.__class__.__name__})") from None
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise DataError(path, f"not a {FORMAT} file (missing or wrong 'format' attribute)")
    return f


def read_samples(path: str | os.PathLike) -> Tensor:
    """The stored sample codes, Tensor of shape (M, N), int8."""
    with _open(path) as f:
        return torch.from_numpy(f["samples"][...])


def read_attributes(path: str | os.PathLike) -> dict[str, Any]:
    """Root attributes, with ``parameters`` and ``state_values`` decoded from JSON, plus diagnostics."""
    with _open(path) as f:
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        attrs["parameters"] = json.loads(attrs["parameters"])
        attrs["state_values"] = json.loads(attrs["state_values"])
        if "diagnostics" in f:
            attrs["diagnostics"] = {k: (v.item() if isinstance(v, np.generic) else v)
                                    for k, v in f["diagnostics"].attrs.items()}
        return attrs


def ground_truth(path: str | os.PathLike, scaled: bool = True) -> GroundTruth:
    """The generating parameters stored in a synthetic data file.

    Parameters
    ----------
    path : path of a file written by :func:`write_dataset`
    scaled : bool
        Multiply fields, couplings and crystal field by the file's ``beta`` (default), giving the
        parameters of p ∝ exp(-E) that an inference method should recover.
    """
    with _open(path) as f:
        beta = float(f.attrs["beta"])
        convention = str(f.attrs["convention"])
        factor = beta if scaled else 1.0
        truth = f["truth"]
        fields = torch.from_numpy(truth["fields"][...]) * factor
        couplings = {int(name.split("_", 1)[1]): (torch.from_numpy(group["indices"][...]).long(),
                                                  torch.from_numpy(group["values"][...]) * factor)
                     for name, group in truth.items() if name.startswith("order_")}
        crystal = torch.from_numpy(truth["crystal_field"][...]) * factor if "crystal_field" in truth else None
        return GroundTruth(fields, dict(sorted(couplings.items())), beta, convention, scaled, crystal,
                           int(f.attrs["n_states"]), json.loads(f.attrs["parameters"]))

"""Training runs for alignments and pairwise models (what ``boltzkit train`` calls for the kinds
``potts-rbm``, ``potts-bm`` and ``ising-bm``; :func:`boltzkit.training.run.train_run` dispatches here).

* ``potts-rbm`` and ``potts-bm`` read a multiple sequence alignment (:class:`MSASpec`: FASTA / A2M /
  Stockholm through :func:`boltzkit.data.msa.read_msa`), with sequence reweighting at an identity
  threshold (:func:`boltzkit.data.reweighting.sequence_weights`, default 0.8);
* ``ising-bm`` reads binary data like the binary RBMs (:class:`~boltzkit.training.run.DataSpec`),
  as ±1 spins.

Methods: ``pcd``, ``cd``, ``rdm`` (and ``exact`` for tiny models) through the
:class:`~boltzkit.training.trainer.Trainer`; ``plm`` (pairwise models only) through
:func:`boltzkit.training.plm.fit_plm`, saved as one checkpoint at the number of solver iterations.
Boltzmann learning (bmDCA) is ``pcd`` on ``potts-bm`` with ``batch_size`` >= the number of
sequences: the target is the reweighted frequencies with a pseudocount (default 1 / M_eff), computed
once; the model starts at the profile model (h = log f_i, J = 0) with persistent chains drawn from
it; ``target_pearson`` stops training when the chains' C_ij Pearson reaches it (adabmDCA's rule).

The run file's config holds ``data`` (the spec, with ``format: "msa"`` for alignments),
``alphabet`` (the letters of the codes, for writing FASTA) and, for ``plm``, ``plm`` (the
regularisation). The data sample stored for reports is the first rows of the training codes (int8).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from boltzkit.errors import BoltzkitError, DataError
from boltzkit.io import trajectory
from boltzkit.training.config import TrainingConfig

MSA_KINDS = ("potts-rbm", "potts-bm")
PAIRWISE_KINDS = ("potts-bm", "ising-bm")
MODEL_KINDS = ("potts-rbm", "potts-bm", "ising-bm")
DATA_SAMPLE_ROWS = 2000
_DTYPES = {"float32": torch.float32, "float64": torch.float64}

__all__ = ["MSASpec", "MSADataset", "train_model_run", "MODEL_KINDS", "MSA_KINDS", "PAIRWISE_KINDS",
           "stored_kind"]


@dataclass
class MSADataset:
    """Codes of an alignment (or of one split of it) with their sequence weights.

    Attributes
    ----------
    samples : ndarray of shape (M, L), int8 codes 0..q-1 (index 0 = gap)
    weights : ndarray of shape (M,), float64, or None (uniform)
    alphabet : str, the q letters of the codes
    headers : list of str
    """

    samples: np.ndarray
    weights: np.ndarray | None
    alphabet: str
    headers: list[str]
    labels: None = None
    image_shape: None = None

    @property
    def q(self) -> int:
        return len(self.alphabet)

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class MSASpec:
    """How an alignment was read, reweighted and split (stored in the run file's config).

    ``alphabet``: "auto", "protein", "rna", "dna" or a custom string of letters (index 0 first).
    ``reweight``: sequence weights 1 / #neighbours at identity >= ``threshold`` (computed on each
    split separately), else uniform weights.
    """

    path: str
    alphabet: str = "auto"
    reweight: bool = True
    threshold: float = 0.8
    test_fraction: float = 0.0
    split_seed: int = 0
    format: str = "msa"

    def load(self) -> tuple[MSADataset, MSADataset | None]:
        """(train, test) datasets (test is None without a split); same split rule as
        :func:`boltzkit.data.split.train_test_split`."""
        import h5py

        from boltzkit.data.msa import read_categorical_h5, read_msa

        try:
            if h5py.is_hdf5(self.path):  # integer states, e.g. from boltzkit generate potts
                msa = read_categorical_h5(self.path)
            else:
                msa = read_msa(self.path, alphabet=self.alphabet)
        except ValueError as e:  # e.g. alphabet detection: a user error
            raise DataError(self.path, str(e)) from None
        n = msa.n_sequences
        if self.test_fraction > 0:
            if not 0.0 < self.test_fraction < 1.0:
                raise BoltzkitError(f"test_fraction must be in (0, 1); got {self.test_fraction}")
            n_test = math.ceil(self.test_fraction * n)
            if n_test >= n:
                raise BoltzkitError(f"cannot split {n} sequences with test_fraction="
                                    f"{self.test_fraction}: the training part would be empty")
            permutation = np.random.default_rng(self.split_seed).permutation(n)
            parts = [np.sort(permutation[n_test:]), np.sort(permutation[:n_test])]
        else:
            parts = [np.arange(n)]
        datasets = [self._dataset(msa.select(rows)) for rows in parts]
        return datasets[0], (datasets[1] if len(datasets) > 1 else None)

    def _dataset(self, msa) -> MSADataset:
        from boltzkit.data.reweighting import sequence_weights

        weights = sequence_weights(msa, self.threshold) if self.reweight else None
        return MSADataset(msa.sequences, weights, msa.alphabet, list(msa.headers))


def stored_kind(out: str | os.PathLike) -> str | None:
    """The model kind saved in a run file (None if there is no such file)."""
    if not Path(out).exists():
        return None
    return trajectory.read_config(out).get("model", {}).get("kind")


def _build_model(kind: str, data: torch.Tensor, weights: torch.Tensor | None, q: int | None,
                 n_hidden: int, config: TrainingConfig):
    from boltzkit.models.pairwise import IsingModel, PottsModel
    from boltzkit.models.potts_rbm import PottsRBM

    if kind == "potts-rbm":
        generator = torch.Generator(device=data.device).manual_seed(config.seed)
        return PottsRBM.init_from_data(data, n_hidden, q, generator, data_weights=weights)
    if kind == "potts-bm":
        return PottsModel.init_from_data(data, q, weights)
    return IsingModel.init_from_data(data, weights)


def train_model_run(spec, out: str | os.PathLike, kind: str, n_hidden: int, config: TrainingConfig,
                    resume: bool = False, on_update: Callable[[int], None] | None = None,
                    lambda_h: float = 0.01, lambda_J: float = 0.01,
                    pseudocount: float | None = None, target_pearson: float | None = None,
                    on_pearson: Callable[[int, float, float], None] | None = None):
    """Train (or resume) a ``potts-rbm`` / ``potts-bm`` / ``ising-bm`` run; returns the model.

    Parameters
    ----------
    spec : MSASpec (Potts kinds) or DataSpec (``ising-bm``)
    n_hidden : hidden units (``potts-rbm`` only)
    config : TrainingConfig; ``method="plm"`` fits pairwise models by pseudo-likelihood with
        ``lambda_h`` / ``lambda_J`` (see :mod:`boltzkit.training.plm`), at most ``n_updates``
        L-BFGS iterations (``optimizer="adam"``: Adam steps).
    pseudocount : float, optional
        ``potts-bm`` trained on the full batch (bmDCA): the pseudocount λ of the data frequencies
        (:func:`boltzkit.data.reweighting.frequencies`); default 1 / M_eff, as adabmDCA. The
        fields start at log f_i and the persistent chains at samples of that profile model.
    target_pearson : float, optional
        Pairwise models with MCMC chains: stop as soon as the Pearson r of the chains' connected
        correlations C_ij with the data's (:func:`boltzkit.models.pairwise.correlation_pearson`,
        adabmDCA's stopping rule) reaches this value, after at most ``n_updates`` updates; the
        last model is then saved as a checkpoint.
    on_pearson : callable(update, pearson, seconds), optional
        Called after every update when ``target_pearson`` is set; ``seconds`` is the training wall
        time so far (updates and Pearson tests, not the data loading).
    """
    from boltzkit.training.run import DataSpec
    from boltzkit.training.trainer import Trainer

    if resume:
        if not Path(out).exists():
            raise BoltzkitError(f"{out}: cannot resume, no such run file")
        stored = trajectory.read_config(out)
        data_spec = stored["data"]
        spec = MSASpec(**data_spec) if data_spec.get("format") == "msa" else DataSpec(**data_spec)
        kind = stored["model"]["kind"]
        n_hidden = stored["model"].get("n_hidden", 0)
        config = TrainingConfig.from_dict(stored["training"])
        bmdca = stored.get("bmdca", {})
        stored_lam = bmdca.get("pseudocount")
        if pseudocount is not None and stored_lam is not None \
                and not math.isclose(float(pseudocount), float(stored_lam), rel_tol=1e-12):
            raise BoltzkitError(f"{out}: --pseudocount {pseudocount} differs from the run's "
                                f"{stored_lam} (it would change the target statistics mid-run)")
        pseudocount = stored_lam if pseudocount is None else pseudocount
        # a stopping target given on resume wins over the stored one
        if target_pearson is None:
            target_pearson = bmdca.get("target_pearson")
        if config.method == "plm":
            raise BoltzkitError(f"{out}: a pseudo-likelihood run cannot be resumed (run it again)")
    if target_pearson is not None and not -1.0 < target_pearson <= 1.0:
        raise BoltzkitError(f"--target-pearson must lie in (-1, 1], got {target_pearson}")
    if kind not in MODEL_KINDS:
        raise BoltzkitError(f"unknown model {kind!r} (choose {', '.join(MODEL_KINDS)})")
    if kind in MSA_KINDS and not isinstance(spec, MSASpec):
        raise BoltzkitError(f"model {kind} trains on an alignment: give an MSASpec")
    if kind == "ising-bm" and isinstance(spec, MSASpec):
        raise BoltzkitError("model ising-bm trains on binary data, not on an alignment")
    if config.method == "plm" and kind not in PAIRWISE_KINDS:
        raise BoltzkitError(f"method plm fits pairwise models ({', '.join(PAIRWISE_KINDS)}), not {kind}")

    train, _ = spec.load()
    dtype = _DTYPES[config.dtype]
    device = torch.device(config.device)
    if isinstance(spec, MSASpec):
        q = train.q
        data = torch.as_tensor(train.samples.astype(np.int64)).to(device, dtype)  # float codes
        sample = (train.samples[:DATA_SAMPLE_ROWS].astype(np.int8), None, None)
        run_config: dict[str, Any] = {"data": asdict(spec), "alphabet": train.alphabet}
    else:
        q = None
        data = torch.as_tensor(2.0 * train.samples - 1.0).to(device, dtype)  # ±1 spins
        labels = None if train.labels is None else train.labels[:DATA_SAMPLE_ROWS]
        sample = (train.samples[:DATA_SAMPLE_ROWS].astype(np.uint8), labels, train.image_shape)
        run_config = {"data": dict(spec.__dict__)}
    weights = None if train.weights is None else torch.as_tensor(train.weights, dtype=torch.float64)

    if config.method == "plm":
        return _plm_run(data, weights, kind, q, config, out, run_config, sample, lambda_h, lambda_J,
                        on_update)
    if target_pearson is not None and (kind not in PAIRWISE_KINDS or config.method == "exact"):
        raise BoltzkitError("--target-pearson: a stopping rule of Boltzmann learning with MCMC "
                            f"chains (potts-bm, ising-bm), not of {kind} / {config.method}")
    bmdca = kind == "potts-bm" and config.batch_size >= len(data)
    if pseudocount is not None and not bmdca:
        raise BoltzkitError("--pseudocount: only for potts-bm trained on the full batch "
                            "(--batch-size >= number of sequences)")
    target = None
    if bmdca:
        target, pseudocount = _bmdca_statistics(train, dtype, device, pseudocount)
        run_config["bmdca"] = {"pseudocount": pseudocount, "target_pearson": target_pearson}
        model = _profile_model(target, config)
    else:
        model = _build_model(kind, data, None if weights is None else weights.to(device, dtype), q,
                             n_hidden, config)
    # bmDCA: the pseudocounted frequencies are the positive phase, in place of the raw ones
    trainer = Trainer(model, data, config, weights, out, run_config, data_statistics=target)
    if resume:
        trainer.resume()
    else:
        trainer.start(*sample)
        if target is not None and config.method == "pcd":
            trainer.chains = model.sample_profile(config.n_chains, trainer.rng)
    if target_pearson is None:
        return trainer.run(on_update)
    if target is None:  # the statistics the trainer computed once (full batch), else the data's
        target = trainer.data_statistics if trainer.data_statistics is not None \
            else model.data_statistics(trainer.data, trainer.data_weights)
    return _run_to_target(trainer, target, target_pearson, on_update, on_pearson)


def _bmdca_statistics(train: MSADataset, dtype: torch.dtype, device: torch.device,
                      pseudocount: float | None):
    """Pseudocounted one- and two-site frequencies of the alignment (the bmDCA target) and λ."""
    from boltzkit.data.reweighting import frequencies
    from boltzkit.models.pairwise import PairwiseStatistics

    m_eff = float(len(train) if train.weights is None else train.weights.sum())
    lam = 1.0 / m_eff if pseudocount is None else float(pseudocount)
    if not 0.0 <= lam < 1.0:
        raise BoltzkitError(f"--pseudocount must lie in [0, 1), got {lam}")
    fi, fij = frequencies(train.samples, train.q, train.weights, lam, dtype=dtype)
    return PairwiseStatistics(fi.to(device), fij.to(device)), lam


def _profile_model(target, config: TrainingConfig):
    """The independent-site start of bmDCA: h_i(a) = log f_i(a), J = 0 (adabmDCA's
    ``init_parameters``); needs a pseudocount > 0 for states absent from a column."""
    from boltzkit.models.pairwise import PottsModel

    length, q = target.fields.shape
    fields = torch.log(target.fields)
    if not bool(torch.isfinite(fields).all()):
        raise BoltzkitError("a state never occurs in a column: give --pseudocount > 0")
    return PottsModel(fields, torch.zeros(length, length, q, q, dtype=fields.dtype,
                                          device=fields.device))


def _run_to_target(trainer, target, target_pearson: float, on_update, on_pearson):
    """Update by update until the chains' C_ij Pearson reaches ``target_pearson`` (or n_updates)."""
    from boltzkit.models.pairwise import correlation_pearson

    model, end = trainer.model, trainer.config.n_updates
    seconds = trainer.wall_time
    while trainer.update < end:
        t0 = time.perf_counter()
        trainer.run(on_update, stop_after=trainer.update + 1)
        # the statistics of the chains that made this update's gradient (no second pass)
        pearson = correlation_pearson(target, model.chain_statistics)
        seconds += time.perf_counter() - t0
        if on_pearson is not None:
            on_pearson(trainer.update, pearson, seconds)
        if pearson >= target_pearson:
            if trainer.update not in trainer.schedule:  # else run() has saved it already
                trainer.save(checkpoint=True)
            break
    return model


def _plm_run(data, weights, kind, q, config: TrainingConfig, out, run_config, sample,
             lambda_h: float, lambda_J: float, on_update):
    from boltzkit.training.plm import fit_plm

    solver = "adam" if config.optimizer == "adam" else "lbfgs"
    run_config = dict(run_config, plm={"lambda_h": lambda_h, "lambda_J": lambda_J, "solver": solver})
    codes = data.long() if kind == "potts-bm" else data
    t0 = time.perf_counter()
    evaluations = [0]

    def callback(k: int, value: float) -> None:
        evaluations[0] = k
        if on_update is not None:
            on_update(min(k, config.n_updates))

    model = fit_plm(codes, kind, q, weights, lambda_h=lambda_h, lambda_J=lambda_J, solver=solver,
                    max_iter=config.n_updates, learning_rate=config.learning_rate,
                    dtype=_DTYPES[config.dtype], device=config.device, callback=callback)
    wall_time = time.perf_counter() - t0
    if out is not None:
        config_dict = dict(run_config, model=model.config(), training=config.to_dict())
        trajectory.create(out, config_dict, *sample)
        trajectory.append(out, max(1, evaluations[0]), model.parameters(), wall_time,
                          config.learning_rate, checkpoint=True)
    if on_update is not None:
        on_update(config.n_updates)
    return model

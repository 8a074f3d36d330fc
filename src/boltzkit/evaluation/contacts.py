"""Contact prediction from Potts couplings: structure files, Frobenius + APC scores, precision.

Conventions
-----------
* Sites are 0-based in every array here; structure files use 1-based MSA columns.
* Couplings have shape (L, L, q, q) with ``couplings[j, i] == couplings[i, j].T`` and energy
  ``E(s) = -sum_i h_i(s_i) - sum_{i<j} J_ij(s_i, s_j)``; diagonal blocks are not part of the energy.
* Contact score (docs/methods.md 1.5 and 9.5; Ekeberg et al., PRE 87:012707, 2013): put the couplings in the
  zero-sum gauge, take the Frobenius norm of each q x q block without the gap state (index 0),
  then the average product correction (APC, Dunn et al., Bioinformatics 24:333, 2008)
  ``F^APC_ij = F_ij - (sum_k F_ik)(sum_k F_kj) / sum_kl F_kl`` (diagonal F_ii = 0).
* Precision at top k: among the pairs i < j with ``j - i >= min_separation`` whose distance is
  known, the k highest scores (ties broken by (i, j) order); the fraction of them that are
  contacts (``distance < threshold``). "L/5", "L/2", "L", "2L" use k = floor(L/5), floor(L/2),
  L, 2L with L the number of alignment columns (a fraction of L is at least one pair). The
  references of docs/methods.md 9.5 use ``min_separation=5`` (PF00014, j - i >= 5) and
  ``min_separation=6`` (PF00072, |i - j| > 5).

The contact map of the top pairs is drawn by :mod:`boltzkit.report.contact_figures`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from boltzkit.data.files import read_text as _read_text
from boltzkit import checks
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.interpret.potts_couplings import potts_rbm_couplings
from boltzkit.io import trajectory
from boltzkit.models.capabilities import LayeredEnergy, PairwiseParameters
from boltzkit.models.gauge import zero_sum_gauge

__all__ = ["ContactMap", "DEFAULT_TOPS", "RBM_COUPLING_METHODS", "RunContacts", "average_product_correction",
           "contact_precision", "frobenius_scores", "model_contact_couplings", "ppv_curve", "prediction_counts",
           "ranked_pairs", "read_struct", "require_eligible_pairs", "run_contact_scores", "run_contacts",
           "top_count", "zero_sum_gauge"]

DEFAULT_TOPS = ("L/5", "L/2", "L", "2L")


@dataclass
class ContactMap:
    """Distances between alignment columns and the contact threshold.

    Attributes
    ----------
    distances : ndarray of shape (L, L), float64
        Symmetric minimum inter-residue distances (Angstrom); NaN where unknown and on the diagonal.
    threshold : float
        A pair is a contact when ``distance < threshold``.
    source : str
        The file it was read from.
    """

    distances: np.ndarray
    threshold: float = 8.0
    source: str = ""

    @property
    def length(self) -> int:
        """Number of alignment columns L."""
        return int(self.distances.shape[0])

    @property
    def contacts(self) -> np.ndarray:
        """Boolean (L, L), True where ``distance < threshold`` (False where unknown)."""
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(self.distances, nan=np.inf) < self.threshold

    @property
    def known(self) -> np.ndarray:
        """Boolean (L, L), True where the distance is known."""
        return ~np.isnan(self.distances)

    def pair_mask(self, min_separation: int = 0) -> np.ndarray:
        """Boolean (L, L), True for known pairs i < j with ``j - i >= min_separation``."""
        i, j = np.indices(self.distances.shape)
        return self.known & (j > i) & (j - i >= min_separation)

    def n_contacts(self, min_separation: int = 0) -> int:
        """Number of contacts i < j with ``j - i >= min_separation``."""
        return int((self.contacts & self.pair_mask(min_separation)).sum())

    def with_threshold(self, threshold: float) -> ContactMap:
        """The same distances with another contact threshold."""
        return ContactMap(self.distances, float(threshold), self.source)


def read_struct(path: str | PathLike, threshold: float = 8.0, length: int | None = None) -> ContactMap:
    """Read a ``*_struct.dat`` table (plain or gzip): lines ``i j score distance``.

    ``i`` and ``j`` are 1-based MSA columns (integers, possibly written as floats like
    ``1.1e+01``), ``distance`` is the minimum inter-residue distance in Angstrom; the score column
    is ignored. Pairs not listed stay unknown (NaN).

    Parameters
    ----------
    path : path-like
    threshold : float
        Contact when ``distance < threshold`` (8.0 Angstrom by default).
    length : int, optional
        Number of alignment columns L (default: the largest index in the file).

    Returns
    -------
    ContactMap
    """
    path = Path(path)
    rows: list[tuple[int, int, float]] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 4:
            raise DataError(path, f"expected 4 columns 'i j score distance', found {len(fields)}", number)
        try:
            fi, fj, _, dist = (float(x) for x in fields)
        except ValueError:
            raise DataError(path, f"non-numeric value in {line.strip()!r}", number) from None
        if fi != int(fi) or fj != int(fj) or fi < 1 or fj < 1:
            raise DataError(path, f"column indices must be positive integers, got {fields[0]} {fields[1]}", number)
        if fi == fj:
            raise DataError(path, f"pair of a column with itself ({int(fi)})", number)
        if not np.isfinite(dist) or dist < 0:
            raise DataError(path, f"distance must be a non-negative number, got {fields[3]}", number)
        if length is not None and max(fi, fj) > length:
            raise DataError(path, f"column {int(max(fi, fj))} exceeds length={length}", number)
        rows.append((int(fi) - 1, int(fj) - 1, dist))
    if not rows:
        raise DataError(path, "no pairs found (empty file?)", 1)
    if length is None:
        length = max(max(i, j) for i, j, _ in rows) + 1
    distances = np.full((length, length), np.nan)
    for i, j, dist in rows:
        distances[i, j] = distances[j, i] = dist
    return ContactMap(distances, float(threshold), str(path))


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------

# zero_sum_gauge: the one implementation lives in boltzkit.models.gauge (re-exported here)


def average_product_correction(scores: torch.Tensor | np.ndarray) -> torch.Tensor:
    """APC ``F_ij - (sum_k F_ik)(sum_k F_kj) / sum_kl F_kl`` on a symmetric (L, L) score matrix.

    The diagonal is set to zero first (and in the result). This is the form of docs/methods.md 9.5 and
    of plmDCA; plmc's variant averages over the L - 1 other sites instead, which scales the
    correction by L / (L - 1).
    """
    F = torch.as_tensor(scores).clone()
    if F.ndim != 2 or F.shape[0] != F.shape[1]:
        raise ValueError(f"scores must have shape (L, L), got {tuple(F.shape)}")
    F.fill_diagonal_(0)
    total = F.sum()
    if float(total) == 0.0:
        return F
    corrected = F - F.sum(dim=1, keepdim=True) * F.sum(dim=0, keepdim=True) / total
    corrected.fill_diagonal_(0)
    return corrected


def frobenius_scores(couplings: torch.Tensor | np.ndarray, exclude_gap: bool = True, apc: bool = True, *,
                     gap_index: int = 0) -> torch.Tensor:
    """Contact scores from Potts couplings: zero-sum gauge, Frobenius norm, APC.

    Parameters
    ----------
    couplings : Tensor or ndarray of shape (L, L, q, q)
        Any gauge: they are put in the zero-sum gauge here (:func:`zero_sum_gauge`).
    exclude_gap : bool
        Leave the gap state (row and column ``gap_index``) out of the norm (docs/methods.md 1.5).
    apc : bool
        Apply :func:`average_product_correction`.

    Returns
    -------
    Tensor of shape (L, L), symmetric, zero diagonal.
    """
    J, _ = zero_sum_gauge(couplings)
    if exclude_gap:
        keep = [a for a in range(J.shape[2]) if a != gap_index]
        J = J[:, :, keep][:, :, :, keep]
    F = torch.sqrt((J**2).sum(dim=(2, 3)))
    F = 0.5 * (F + F.T)  # exact symmetry even if the input is slightly asymmetric
    F.fill_diagonal_(0)
    return average_product_correction(F) if apc else F


# --------------------------------------------------------------------------------------------
# Precision
# --------------------------------------------------------------------------------------------

def ranked_pairs(scores: torch.Tensor | np.ndarray, contact_map: ContactMap, min_separation: int = 4
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Eligible pairs sorted by decreasing score.

    Pairs i < j with ``j - i >= min_separation`` and a known distance; ties in score are broken by
    (i, j) order so the ranking is deterministic. The score of (i, j) is ``scores[i, j]``.

    Returns
    -------
    pairs : ndarray of shape (n_pairs, 2), 0-based (i, j)
    is_contact : ndarray of shape (n_pairs,), bool
    """
    S = (scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)).astype(np.float64)
    length = contact_map.length
    if S.shape != (length, length):
        raise ValueError(f"scores have shape {S.shape}, the contact map is ({length}, {length})")
    i, j = np.nonzero(contact_map.pair_mask(min_separation))  # row-major: already in (i, j) order
    values = S[i, j]
    if np.isnan(values).any():
        raise ValueError("scores contain NaN on eligible pairs")
    order = np.argsort(-values, kind="stable")
    pairs = np.stack([i[order], j[order]], axis=1)
    return pairs, contact_map.contacts[pairs[:, 0], pairs[:, 1]]


def ppv_curve(scores: torch.Tensor | np.ndarray, contact_map: ContactMap, min_separation: int = 4) -> np.ndarray:
    """Positive predictive value after the first n predictions, n = 1..n_pairs, shape (n_pairs,)."""
    _, is_contact = ranked_pairs(scores, contact_map, min_separation)
    return np.cumsum(is_contact) / np.arange(1, is_contact.size + 1)


def top_count(top: str | int, length: int) -> int:
    """Number of predictions of ``top`` ("L/5", "L/2", "L", "2L" or an int k) for a length L;
    a fraction of L is at least 1 (e.g. "L/5" with L = 4 is the top pair)."""
    if isinstance(top, (int, np.integer)):
        k = int(top)
    else:
        text = top.replace(" ", "")
        if text == "L":
            k = length
        elif text.startswith("L/"):
            # at least one prediction: "L/5" of a chain shorter than 5 is its top pair
            k = max(1, length // int(text[2:]))
        elif text.endswith("L"):
            k = int(text[:-1]) * length
        else:
            raise ValueError(f"top must be an int or 'L', 'L/n', 'nL', got {top!r}")
    if k < 1:
        raise ValueError(f"top {top!r} gives {k} predictions for L={length}")
    return k


def prediction_counts(length: int, n_pairs: int, tops: Sequence[str | int] = DEFAULT_TOPS) -> dict[str, int]:
    """Pairs each precision of :func:`contact_precision` is computed on: the :func:`top_count` of
    every ``top`` for a length L, at most the ``n_pairs`` eligible pairs. Keys ``str(top)``."""
    return {str(top): min(top_count(top, length), n_pairs) for top in tops}


def require_eligible_pairs(contact_map: ContactMap, struct: str | PathLike | None, min_separation: int) -> int:
    """Number of pairs ranked for precision (known distance, ``j - i >= min_separation``);
    :class:`~boltzkit.errors.DataError` naming ``struct`` when there is none."""
    n_pairs = int(contact_map.pair_mask(min_separation).sum())
    if n_pairs == 0:
        raise DataError(struct, f"no pair with a known distance and j - i >= {min_separation} "
                                f"(L = {contact_map.length}): lower --min-separation or give "
                                "a fuller distance table")
    return n_pairs


def contact_precision(scores: torch.Tensor | np.ndarray, contact_map: ContactMap, min_separation: int = 4,
                      tops: Sequence[str | int] = DEFAULT_TOPS) -> dict[str, float]:
    """Precision (PPV) of the top-scored pairs.

    Parameters
    ----------
    scores : (L, L) Tensor or ndarray, e.g. from :func:`frobenius_scores`
    contact_map : ContactMap
    min_separation : int
        Rank only pairs with ``|i - j| >= min_separation`` (inclusive).
    tops : sequence of str or int
        ``"L/5"``, ``"L/2"``, ``"L"``, ``"2L"`` (k from L = contact_map.length) or an int k.

    Returns
    -------
    dict mapping ``str(top)`` (exactly "L/5", "L/2", "L", "2L" for the defaults) to the precision
    in [0, 1]. If fewer than k pairs are eligible, the precision is over all of them; a fraction
    of L gives at least one prediction (``L < 5``: "L/5" is the precision of the top pair).
    """
    curve = ppv_curve(scores, contact_map, min_separation)
    if curve.size == 0:
        raise ValueError("no eligible pairs (check min_separation and the contact map)")
    counts = prediction_counts(contact_map.length, curve.size, tops)
    return {key: float(curve[k - 1]) for key, k in counts.items()}


# --------------------------------------------------------------------------------------------
# Contacts of a trained run
# --------------------------------------------------------------------------------------------

RBM_COUPLING_METHODS = ("gaussian", "mixture", "exact")
#: Largest q**L of the exact effective couplings of a Potts RBM (enumeration of its states).
MAX_EXACT_CONFIGURATIONS = 1 << 22


def model_contact_couplings(model, rbm_method: str = "gaussian",
                            progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, str]:
    """Pair couplings J_ij(a, b) of shape (L, L, q, q) of a model with categorical visible units, and
    how they were obtained:

    * pairwise parameters (:class:`~boltzkit.models.capabilities.PairwiseParameters`: the Potts model
      of Boltzmann learning or plm): its couplings;
    * a layered energy (:class:`~boltzkit.models.capabilities.LayeredEnergy`: the Potts RBM): the
      effective pair couplings of the marginal energy
      (:func:`boltzkit.interpret.potts_couplings.potts_rbm_couplings`, ``rbm_method`` "gaussian",
      "mixture" or "exact" (tiny models only)).

    :func:`frobenius_scores` puts them in the zero-sum gauge. ``progress(done, total)`` follows the
    effective couplings of a Potts RBM (the index sets computed); pairwise parameters are read at
    once, with no call.
    """
    if _has_pair_parameters(model, rbm_method):
        return model.couplings.detach().to("cpu", torch.float64), "couplings of the Potts model"
    pc = potts_rbm_couplings(model, method=rbm_method, progress=progress)
    return pc.couplings, f"effective pair couplings of the Potts RBM ({rbm_method})"


def _has_pair_parameters(model, rbm_method: str) -> bool:
    """Whether :func:`model_contact_couplings` reads the ``model``'s own pair parameters (True) or
    computes the effective couplings of a Potts RBM (False); a one-line error when it can do
    neither, or when ``rbm_method`` does not apply."""
    _check_rbm_method(rbm_method)
    space = model.visible
    if space.categorical and isinstance(model, PairwiseParameters):
        return True
    if space.categorical and isinstance(model, LayeredEnergy):
        if rbm_method == "exact" and space.n_states ** model.n_visible > MAX_EXACT_CONFIGURATIONS:
            raise BoltzkitError(f"exact couplings enumerate {space.n_states}**{model.n_visible} "
                                f"configurations: too many; use gaussian or mixture")
        return False
    raise BoltzkitError(f"contact prediction needs Potts couplings (categorical visible units with pairwise "
                        f"parameters or a layered energy), not a {model.kind} model")


def _check_rbm_method(rbm_method: str) -> None:
    if rbm_method not in RBM_COUPLING_METHODS:
        raise BoltzkitError(f"unknown coupling method {rbm_method!r} "
                            f"(choose {', '.join(RBM_COUPLING_METHODS)})")


@dataclass
class RunContacts:
    """Contact prediction of a run: ``summary`` (the dict :func:`run_contacts` returns), the
    ``scores`` of shape (L, L), the ``contact_map`` they were ranked against and the number of
    pairs behind each precision (``counts``, :func:`prediction_counts`)."""

    summary: dict
    scores: torch.Tensor
    contact_map: ContactMap
    counts: dict[str, int]


def run_contact_scores(run: str | PathLike, struct: str | PathLike, checkpoint: int | None = None,
                       min_separation: int = 5, distance_cutoff: float = 8.0,
                       rbm_method: str = "gaussian",
                       progress: Callable[[int, int], None] | None = None) -> RunContacts:
    """:func:`run_contacts` with the scores and the contact map (what a figure of the top pairs needs,
    :func:`boltzkit.report.contact_figures.plot_contact_map`). ``progress(done, total)`` follows
    the couplings (:func:`model_contact_couplings`), after every argument and the structure file
    are checked."""
    # the one-line errors of ``boltzkit contacts`` (naming its flags)
    checks.integer(min_separation, "--min-separation", 1)
    checks.number(distance_cutoff, "--distance-cutoff", 0.0, low_open=True)
    _check_rbm_method(rbm_method)
    model = trajectory.load_model(run, checkpoint)
    if checkpoint is None:
        checkpoint = trajectory.checkpoint_updates(run)[-1]
    # the model and the structure file are checked before the couplings, the long part for a Potts RBM
    _has_pair_parameters(model, rbm_method)
    length = int(model.n_visible)
    contact_map = read_struct(struct, distance_cutoff, length=length)
    n_pairs = require_eligible_pairs(contact_map, struct, min_separation)
    couplings, how = model_contact_couplings(model, rbm_method, progress)
    scores = frobenius_scores(couplings)
    precision = contact_precision(scores, contact_map, min_separation)
    summary = {"run": str(run), "checkpoint": checkpoint, "kind": model.kind, "length": length,
               "struct": str(struct), "min_separation": min_separation,
               "distance_cutoff": distance_cutoff, "precision": precision,
               "n_contacts": contact_map.n_contacts(min_separation), "n_pairs": n_pairs,
               "couplings": how,
               "scores_convention": ("Frobenius norm of J_ij(a,b) in the zero-sum gauge without the "
                                     "gap state, APC-corrected; pairs j - i >= min_separation with "
                                     "a known distance; contact = distance < cutoff"),
               "figure": None}
    return RunContacts(summary, scores, contact_map, prediction_counts(length, n_pairs, list(precision)))


def run_contacts(run: str | PathLike, struct: str | PathLike, checkpoint: int | None = None, min_separation: int = 5,
                 distance_cutoff: float = 8.0, rbm_method: str = "gaussian") -> dict:
    """Contact precision of the couplings of a saved run against a ``*_struct.dat`` table.

    Scores: :func:`frobenius_scores` (zero-sum gauge, Frobenius norm without the gap state, APC)
    of :func:`model_contact_couplings`; precision at the top L/5, L/2, L, 2L pairs with
    ``j - i >= min_separation`` among the pairs of known distance, contact when
    ``distance < distance_cutoff``. ``min_separation`` >= 1, ``distance_cutoff`` > 0 and
    ``rbm_method`` (:data:`RBM_COUPLING_METHODS`) are checked here, with one-line errors naming the
    flags of ``boltzkit contacts``.

    Returns
    -------
    dict with ``precision`` (keys "L/5", "L/2", "L", "2L"), ``length``, ``min_separation``,
    ``distance_cutoff``, ``n_contacts``, ``n_pairs``, ``checkpoint``, ``couplings``,
    ``scores_convention``, ``figure`` (None: ``boltzkit contacts`` sets the path of the contact map
    it draws, :mod:`boltzkit.report.contact_figures`). :func:`prediction_counts` gives the number
    of pairs behind each precision.
    """
    return run_contact_scores(run, struct, checkpoint, min_separation, distance_cutoff, rbm_method).summary

"""What ``boltzkit msa-info`` reports about an alignment: size, alphabet, M_eff with its weight
convention in words (docs/methods.md section 9.1), unknown letters and gaps."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from boltzkit.data.msa import ALPHABETS, read_msa
from boltzkit.data.reweighting import sequence_weights, unique_sequences
from boltzkit.errors import BoltzkitError, DataError

__all__ = ["UNKNOWN_RULE", "msa_summary", "weights_convention"]

UNKNOWN_RULE = {
    "gap": "letters outside the alphabet (X, B, Z, ...) are encoded as the gap (index 0) and counted",
    "error": "a letter outside the alphabet is an error",
}


def weights_convention(threshold: float, convention: str) -> str:
    """The sequence-weight convention in words (what ``msa-info`` prints)."""
    comparison = ">=" if convention == "plmc" else ">"
    return (f"w_m = 1 / #{{t : identity(m, t) {comparison} {threshold:g}}}, identity = matching "
            f"columns / L over all L columns (gap facing gap counts as a match), self counted, "
            f"exact duplicates kept and counted ({convention} convention); M_eff = sum_m w_m; "
            f"computed on tensors in blocks of one-hot matrix products")


def msa_summary(path: str | os.PathLike, alphabet: str = "auto", threshold: float = 0.8,
                convention: str = "plmc", unknown: str = "gap",
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """What ``msa-info`` reports, as a dict (the ``--json`` keys).

    ``progress(done, total)`` follows the sequence weights, the bulk of the work
    (:func:`~boltzkit.data.reweighting.sequence_weights`); it is first called once the arguments
    and the file are checked."""
    if unknown not in UNKNOWN_RULE:
        raise BoltzkitError(f"--unknown must be gap or error, got {unknown!r}")
    try:
        msa = read_msa(path, alphabet=alphabet, unknown=unknown)
    except ValueError as e:  # a bad --alphabet: a user error naming the file
        raise DataError(path, str(e)) from None
    if not 0.0 <= threshold <= 1.0:
        raise BoltzkitError(f"--threshold must lie in [0, 1], got {threshold}")
    if convention not in ("plmc", "morcos"):
        raise BoltzkitError(f"--convention must be plmc (>=) or morcos (>), got {convention!r}")
    weights = sequence_weights(msa, threshold, convention=convention, progress=progress)
    name = next((k for k, v in ALPHABETS.items() if v == msa.alphabet), "custom")
    gaps = msa.sequences == 0
    return {
        "path": str(path),
        "n_sequences": msa.n_sequences,
        "length": msa.length,
        "alphabet": name,
        "letters": msa.alphabet,
        "q": msa.q,
        "n_unique": len(unique_sequences(msa)),
        "m_eff": float(weights.sum()),
        "threshold": threshold,
        "weights_convention": {
            "comparison": ">=" if convention == "plmc" else ">",
            "name": convention,
            "duplicates": "kept",
            "description": weights_convention(threshold, convention),
        },
        "unknown_letters": {"count": int(msa.n_unknown),
                            "sequences": int(np.count_nonzero(msa.unknown_per_sequence)),
                            "rule": UNKNOWN_RULE[unknown]},
        "gap_fraction": float(gaps.mean()),
        "max_column_gap_fraction": float(gaps.mean(0).max()),
    }

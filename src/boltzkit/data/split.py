"""Random train/test split of a :class:`~boltzkit.data.binary.Dataset`, reproducible from a seed."""

from __future__ import annotations

import math

import numpy as np

from boltzkit.data.binary import Dataset
from boltzkit.errors import BoltzkitError

__all__ = ["train_test_split", "split_rows"]


def split_rows(n: int, test_fraction: float, seed: int,
               rows: str = "samples") -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices of ``n`` rows, each sorted: the rule of :func:`train_test_split`
    (``rows`` names them in the errors)."""
    if not 0.0 < test_fraction < 1.0:
        raise BoltzkitError(f"test_fraction must be in (0, 1); got {test_fraction}")
    n_test = math.ceil(test_fraction * n)
    if n_test >= n:
        raise BoltzkitError(f"cannot split {n} {rows} with test_fraction={test_fraction}: "
                            "the training part would be empty")
    permutation = np.random.default_rng(seed).permutation(n)
    return np.sort(permutation[n_test:]), np.sort(permutation[:n_test])


def train_test_split(dataset: Dataset, test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split a dataset into a training and a test part by a random permutation of its rows.

    Parameters
    ----------
    dataset : Dataset
        ``samples`` of shape (n_samples, n_features); labels and weights follow their rows.
    test_fraction : float, default 0.2
        Fraction of the rows in the test part, in (0, 1); the test part gets
        ``ceil(test_fraction * n_samples)`` rows (as in scikit-learn), the training part the rest.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the same seed gives the same split.

    Returns
    -------
    train, test : Dataset
        ``samples`` of shape (n_samples - n_test, n_features) and (n_test, n_features). Each part
        keeps the rows in their original order, so the split depends on the seed only.

    Raises
    ------
    BoltzkitError
        If ``test_fraction`` is not in (0, 1) or either part would be empty.
    """
    train_index, test_index = split_rows(len(dataset), test_fraction, seed)
    return dataset.subset(train_index), dataset.subset(test_index)

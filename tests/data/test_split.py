"""train_test_split: sizes, disjoint cover of the rows, determinism, fields carried along."""

from __future__ import annotations

import numpy as np
import pytest

from boltzkit.data import Dataset, train_test_split
from boltzkit.errors import BoltzkitError


def make_dataset(n: int, n_features: int = 4) -> Dataset:
    rng = np.random.default_rng(1)
    samples = (rng.random((n, n_features)) < 0.5).astype(np.float32)
    # Labels number the rows, weights repeat them: both must follow their row through the split.
    return Dataset(samples=samples, labels=np.arange(n), weights=np.arange(n, dtype=np.float64),
                   image_shape=(2, n_features // 2), source="x.npy", convention="ising")


@pytest.mark.parametrize(("n", "fraction", "n_test"),
                         [(10, 0.2, 2), (11, 0.2, 3), (100, 0.5, 50), (2, 0.01, 1)])
def test_sizes(n, fraction, n_test):
    train, test = train_test_split(make_dataset(n), test_fraction=fraction)
    assert len(test) == n_test  # ceil(fraction * n), as scikit-learn does
    assert len(train) == n - n_test


def test_parts_are_disjoint_cover_rows_and_keep_order():
    data = make_dataset(50)
    train, test = train_test_split(data, 0.3, seed=3)
    np.testing.assert_array_equal(np.sort(np.concatenate([train.labels, test.labels])), np.arange(50))
    assert np.all(np.diff(train.labels) > 0) and np.all(np.diff(test.labels) > 0)
    for part in (train, test):
        np.testing.assert_array_equal(part.samples, data.samples[part.labels])
        np.testing.assert_array_equal(part.weights, part.labels.astype(np.float64))
        assert part.image_shape == (2, 2)
        assert part.source == "x.npy" and part.convention == "ising"


def test_deterministic_for_a_seed():
    data = make_dataset(200)
    a, _ = train_test_split(data, seed=7)
    b, _ = train_test_split(data, seed=7)
    c, _ = train_test_split(data, seed=8)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_matches_a_default_rng_permutation():
    data = make_dataset(20)
    _, test = train_test_split(data, 0.25, seed=5)
    expected = np.sort(np.random.default_rng(5).permutation(20)[:5])
    np.testing.assert_array_equal(test.labels, expected)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_bad_fraction_raises(fraction):
    with pytest.raises(BoltzkitError, match="test_fraction"):
        train_test_split(make_dataset(10), fraction)


def test_too_few_samples_raises():
    with pytest.raises(BoltzkitError, match="empty"):
        train_test_split(make_dataset(1), 0.5)

